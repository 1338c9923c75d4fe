import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanup, copyFixture, CRDS, runCli, tempDir } from './helpers.js';

// Acceptance: the seed's two mid-rebirth failures are found before anything is destroyed,
// at their lines, in the API server's words; the seed's final manifests are clean.
describe('castle validate on the seed (castello-effimero)', () => {
  let dir: string;
  let cache: string;
  before(() => {
    dir = tempDir();
    cache = tempDir('castle-validate-cache-');
    copyFixture('seed', dir, 'seed');
  });
  after(() => {
    cleanup(dir);
    cleanup(cache);
  });

  it('reports exactly the two errors of the first attempt, with source line and caret', () => {
    const r = runCli(['validate', '--cache-dir', cache, CRDS, 'seed/first/cluster.yaml'], dir);
    assert.equal(r.status, 1, r.stderr);
    const errors = r.stdout.split('\n').filter((l) => / error /.test(l));
    assert.deepEqual(errors, [
      'seed/first/cluster.yaml:31:9: error schema/unknown-field: .spec.backups.pgbackrest.repos[name="repo1"].s3Credentials: field not declared in schema',
      `seed/first/cluster.yaml:50:13: error schema/pattern: spec.users[1].name: Invalid value: "tazlab_admin": should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'`,
    ]);
    assert.ok(
      r.stdout.includes(
        [
          'seed/first/cluster.yaml:31:9: error schema/unknown-field: .spec.backups.pgbackrest.repos[name="repo1"].s3Credentials: field not declared in schema',
          '  31 |         s3Credentials:',
          '     |         ^^^^^^^^^^^^^',
        ].join('\n'),
      ),
      r.stdout,
    );
    assert.ok(
      r.stdout.includes(
        [
          `seed/first/cluster.yaml:50:13: error schema/pattern: spec.users[1].name: Invalid value: "tazlab_admin": should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'`,
          '  50 |     - name: tazlab_admin',
          '     |             ^^^^^^^^^^^^',
        ].join('\n'),
      ),
      r.stdout,
    );
    assert.match(r.stdout, /^2 errors, \d+ warnings?$/m);
  });

  it('accepts the final cluster.yaml and ExternalSecret with no error (exit 0)', () => {
    const r = runCli(['validate', '--cache-dir', cache, CRDS, 'seed/final'], dir);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /^0 errors, \d+ warnings?$/m);
    assert.doesNotMatch(r.stdout, / error /);
    // both documents were checked against their CRDs, not skipped as unknown kinds
    assert.doesNotMatch(r.stdout, /schema\/unknown-kind/);
  });

  it('as a rebirth preflight, refuses the final cluster: it would come back empty', () => {
    const r = runCli(['validate', '--rebirth', '--cache-dir', cache, CRDS, 'seed/final/cluster.yaml'], dir);
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /seed\/final\/cluster\.yaml:28:15: error rebirth\/no-restore-source: PostgresCluster tazlab-db backs up to the cloud repo repo1 but has no spec\.dataSource\.pgbackrest/,
    );
  });

  it('finds the same errors with CRDs imported by `castle schemas add` instead of listed as inputs', () => {
    const add = runCli(['schemas', 'add', '--cache-dir', cache, CRDS], dir);
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stdout, /^imported postgresclusters\.postgres-operator\.crunchydata\.com \(v1beta1\) from /m);
    assert.match(add.stdout, /^imported externalsecrets\.external-secrets\.io \(v1, v1beta1\) from /m);
    const list = runCli(['schemas', 'list', '--cache-dir', cache], dir);
    assert.match(list.stdout, /^core: Kubernetes 1\.34\.0, \d+ kinds/m);
    assert.match(list.stdout, /^crd: postgresclusters\.postgres-operator\.crunchydata\.com v1beta1 from /m);
    const r = runCli(['validate', '--cache-dir', cache, '--format', 'json', 'seed/first/cluster.yaml'], dir);
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      diagnostics: { severity: string; rule: string; message: string; location: { file: string; line: number; col: number } }[];
    };
    assert.equal(out.ok, false);
    assert.deepEqual(
      out.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.location.line, d.location.col, d.rule]),
      [
        [31, 9, 'schema/unknown-field'],
        [50, 13, 'schema/pattern'],
      ],
    );
  });
});
