import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messages, rules, validateTexts } from './helpers.js';

// Every rebirth-safety rule has a failing and a passing case.

const REPO_S3 = `{bucket: tazlab-longhorn, endpoint: s3.amazonaws.com, region: eu-central-1}`;

function cluster(o: { dataSource?: string; backupsGlobal?: string } = {}): string {
  return `apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: tazlab-db}
spec:
  postgresVersion: 16
  instances:
    - name: instance1
      dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}
${o.dataSource ?? ''}  backups:
    pgbackrest:
${o.backupsGlobal ?? ''}      configuration: [{secret: {name: s3-backrest-creds}}]
      repos:
        - name: repo1
          s3: ${REPO_S3}
`;
}

const SECRET = `---
apiVersion: v1
kind: Secret
metadata: {name: s3-backrest-creds}
stringData: {s3.conf: "[global]"}
`;

function dataSource(extra: { configuration?: boolean; global?: string; options?: string } = {}): string {
  return `  dataSource:
    pgbackrest:
      stanza: db
${extra.configuration === false ? '' : '      configuration: [{secret: {name: s3-backrest-creds}}]\n'}${extra.global ?? ''}${extra.options ?? ''}      repo:
        name: repo1
        s3: ${REPO_S3}
`;
}

describe('rebirth safety', () => {
  it('no-restore-source: an S3 repo without dataSource comes back empty (error for a rebirth, warning otherwise)', async () => {
    const bad = await validateTexts({ 'c.yaml': cluster() + SECRET }, { rebirth: true });
    assert.deepEqual(rules(bad, 'error'), ['rebirth/no-restore-source']);
    assert.match(messages(bad, 'rebirth/no-restore-source')[0]!, /comes back empty.*second system-id/);
    assert.equal(bad.diagnostics[0]!.location?.line, 13); // `- name: repo1`
    const plain = await validateTexts({ 'c.yaml': cluster() + SECRET });
    assert.deepEqual(rules(plain, 'warning'), ['rebirth/no-restore-source']);
    assert.equal(plain.ok, true);
    const good = await validateTexts({ 'c.yaml': cluster({ dataSource: dataSource() }) + SECRET }, { rebirth: true });
    assert.deepEqual(
      rules(good).filter((r) => r.startsWith('rebirth/')),
      [],
    );
    assert.equal(good.ok, true);
  });

  it('restore-credentials: a dataSource without a configuration secret fails the restore Job', async () => {
    const bad = await validateTexts({ 'c.yaml': cluster({ dataSource: dataSource({ configuration: false }) }) + SECRET });
    assert.deepEqual(rules(bad, 'error'), ['rebirth/restore-credentials']);
    assert.match(messages(bad, 'rebirth/restore-credentials')[0]!, /"restore command requires option: repo1-s3-key"/);
    const good = await validateTexts({ 'c.yaml': cluster({ dataSource: dataSource() }) + SECRET });
    assert.deepEqual(rules(good, 'error'), []);
  });

  it('repo-path-mismatch: repo1-path must be the same for backups and dataSource, leading slash included', async () => {
    const slash = await validateTexts(
      {
        'c.yaml':
          cluster({
            dataSource: dataSource({ global: '      global: {repo1-path: pgbackrest/tazlab/repo1}\n' }),
            backupsGlobal: '      global: {repo1-path: /pgbackrest/tazlab/repo1}\n',
          }) + SECRET,
      },
      { rebirth: true },
    );
    assert.deepEqual(rules(slash, 'error'), ['rebirth/repo-path-mismatch']);
    assert.match(messages(slash, 'rebirth/repo-path-mismatch')[0]!, /only by the leading slash/);
    const other = await validateTexts({
      'c.yaml': cluster({ dataSource: dataSource(), backupsGlobal: '      global: {repo1-path: /pgbackrest/new/repo1}\n' }) + SECRET,
    });
    assert.deepEqual(rules(other, 'warning'), ['rebirth/repo-path-mismatch']);
    assert.match(messages(other, 'rebirth/repo-path-mismatch')[0]!, /"\/pgbackrest\/repo1"\) and the backups \("\/pgbackrest\/new\/repo1"\)/);
    const same = await validateTexts(
      {
        'c.yaml':
          cluster({
            dataSource: dataSource({ global: '      global: {repo1-path: /pgbackrest/tazlab/repo1}\n' }),
            backupsGlobal: '      global: {repo1-path: /pgbackrest/tazlab/repo1}\n',
          }) + SECRET,
      },
      { rebirth: true },
    );
    assert.deepEqual(
      rules(same).filter((r) => r.startsWith('rebirth/')),
      [],
    );
  });

  it('restore-immediate: --type=immediate loses the writes after the last backup', async () => {
    const bad = await validateTexts(
      { 'c.yaml': cluster({ dataSource: dataSource({ options: '      options: [--type=immediate]\n' }) }) + SECRET },
      { rebirth: true },
    );
    assert.deepEqual(rules(bad, 'error'), ['rebirth/restore-immediate']);
    const good = await validateTexts(
      { 'c.yaml': cluster({ dataSource: dataSource({ options: '      options: ["--target-timeline=current"]\n' }) }) + SECRET },
      { rebirth: true },
    );
    assert.deepEqual(rules(good, 'error'), []);
  });

  it('crd-same-batch: a custom resource in the same kustomization as its CRD fails server-side dry-run', async () => {
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
`;
    const widget = `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n`;
    const bad = await validateTexts({
      'app/kustomization.yaml': 'resources:\n  - crd.yaml\n  - widget.yaml\n',
      'app/crd.yaml': crd,
      'app/widget.yaml': widget,
    });
    assert.deepEqual(rules(bad, 'error'), ['rebirth/crd-same-batch']);
    assert.equal(bad.diagnostics.find((d) => d.rule === 'rebirth/crd-same-batch')!.location?.file, 'app/widget.yaml');
    const good = await validateTexts({
      'crds/kustomization.yaml': 'resources:\n  - crd.yaml\n',
      'crds/crd.yaml': crd,
      'app/kustomization.yaml': 'resources:\n  - widget.yaml\n',
      'app/widget.yaml': widget,
    });
    assert.deepEqual(rules(good, 'error'), []);
    // the CRD among the inputs is used for the Widget's schema
    assert.equal(good.stats.validated, 2);
  });
});
