import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { MemorySource } from '../../src/secrets/source.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { parseIni } from '../../src/data/pgbackrest-ini.js';
import { installedPgMajors } from '../../src/data/postgres.js';
import { buildLocalClusterModel, loadLocalClusterModel, parseManifests } from '../../src/targets/local/manifests.js';
import { REPO_ROOT } from './helpers.js';

const FIX = path.join(REPO_ROOT, 'test/local/fixtures');
const SEED = [path.join(FIX, 'seed-cluster.yaml'), path.join(FIX, 'seed-external-secret.yaml'), path.join(FIX, 'seed-init-sql.yaml')];
const EXAMPLES = ['cluster.yaml', 'init-sql.yaml', 's3-creds.yaml'].map((f) => path.join(REPO_ROOT, 'examples/local/db', f));

test("the seed's cluster.yaml + ExternalSecret build the model the local target realises", async () => {
  const redactor = new Redactor();
  const secrets = new MemorySource({ AWS_ACCESS_KEY_ID: 'AKIASEED', AWS_SECRET_ACCESS_KEY: 'seed/secret' });
  const r = await loadLocalClusterModel(SEED, { installedMajors: [15, 16], secrets, redactor });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.diagnostics, null, 1));
  const m = r.value;
  assert.equal(m.name, 'tazlab-db');
  assert.equal(m.namespace, 'tazlab-db');
  assert.equal(m.postgresVersion, 16);
  assert.equal(m.pgBinDir, '/usr/lib/postgresql/16/bin');
  assert.deepEqual(
    m.users.map((u) => [u.name, u.databases, u.passwordKey]),
    [
      ['mnemosyne', ['tazlab_memory'], 'TAZLAB_DB_PGUSER_MNEMOSYNE_PASSWORD'],
      ['tazlab-admin', ['tazlab_test'], 'TAZLAB_DB_PGUSER_TAZLAB_ADMIN_PASSWORD'],
    ],
  );
  assert.equal(m.initSql?.configMap, 'tazlab-db-init-sql');
  assert.match(m.initSql?.text ?? '', /^\\c tazlab_memory\n/);
  assert.deepEqual(
    m.repos.map((x) => x.kind),
    ['s3', 'volume'],
  );
  const s3 = m.repos[0]!;
  assert.ok(s3.kind === 's3');
  assert.deepEqual(
    [s3.name, s3.bucket, s3.endpoint, s3.region, s3.path],
    ['repo1', 'tazlab-longhorn', 's3.amazonaws.com', 'eu-central-1', '/pgbackrest/repo1'],
  );
  assert.equal(m.repos[1]!.name, 'repo2');
  assert.equal(m.pgbackrest.rendered, true);
  assert.deepEqual(m.pgbackrest.configuration, [{ kind: 'Secret', name: 's3-backrest-creds', via: 'ExternalSecret' }]);
  assert.equal(m.pgbackrest.global['repo1-s3-key'], 'AKIASEED');
  assert.equal(m.pgbackrest.global['repo1-s3-key-secret'], 'seed/secret');
  assert.equal(m.pgbackrest.global['repo1-type'], 's3');
  assert.equal(m.pgbackrest.global['repo2-type'], 'posix');
  assert.deepEqual([...m.pgbackrest.secretOptions].sort(), ['repo1-s3-key', 'repo1-s3-key-secret']);
  assert.deepEqual(m.pgBouncer, { enabled: true, replicas: 1, port: 5432, settings: {} });
  assert.equal(m.stanza, 'db');
  assert.equal(m.dataSource, undefined);
  assert.equal(redactor.redact('key seed/secret'), 'key ***');
});

test('the seed as written fails here with located errors: PostgreSQL 16 not installed, init ConfigMap absent', async () => {
  const r = await loadLocalClusterModel([SEED[0]!, SEED[1]!], { installedMajors: [15] });
  assert.ok(!r.ok);
  const byRule = new Map(r.diagnostics.map((d) => [d.rule, d]));
  const v = byRule.get('local/postgres-version');
  assert.ok(v, JSON.stringify(r.diagnostics));
  assert.equal(v.message, 'PostgreSQL 16 is not installed on this machine (installed: 15)');
  assert.match(v.hint ?? '', /postgresVersion: 15/);
  assert.deepEqual([path.basename(v.location!.file), v.location!.line, v.location!.col], ['seed-cluster.yaml', 8, 20]);
  const cm = byRule.get('local/missing-configmap');
  assert.ok(cm);
  assert.match(cm.message, /ConfigMap 'tazlab-db-init-sql', which is not among the manifests/);
  assert.deepEqual([cm.location!.line, cm.location!.col], [10, 11]);
});

test('installed majors come from /usr/lib/postgresql/*/bin/postgres', () => {
  const majors = installedPgMajors();
  assert.ok(majors.includes(15), `found ${majors.join(',')}`);
  assert.deepEqual(installedPgMajors('/nonexistent'), []);
});

test('the examples build: postgres 15, users, init SQL, both repos, restore source from repo1, pgBouncer', async () => {
  const secrets = new MemorySource({ S3_ACCESS_KEY_ID: 'castle-key', S3_SECRET_ACCESS_KEY: 'castle-secret' });
  const r = await loadLocalClusterModel(EXAMPLES, { secrets });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.diagnostics, null, 1));
  const m = r.value;
  assert.equal(m.name, 'blog-db');
  assert.equal(m.postgresVersion, 15);
  assert.deepEqual(
    m.users.map((u) => u.name),
    ['blog', 'blog-admin'],
  );
  assert.equal(m.users[1]!.options, 'SUPERUSER');
  assert.match(m.initSql!.text, /CREATE TABLE IF NOT EXISTS public\.posts/);
  assert.equal(m.repos[0]!.path, '/pgbackrest/blog-db/repo1');
  assert.equal(m.pgbackrest.global['repo1-s3-uri-style'], 'path');
  assert.equal(m.pgbackrest.global['repo1-s3-key-secret'], 'castle-secret');
  assert.equal(m.pgbackrest.global['repo1-s3-endpoint'], 'localhost');
  assert.equal(m.dataSource?.from, 'pgbackrest');
  assert.equal(m.dataSource?.repoName, 'repo1');
  assert.equal(m.dataSource?.stanza, 'db');
  assert.deepEqual(m.dataSource?.options, []);
  assert.equal(m.dataSource?.pgbackrest.global['repo1-s3-key'], 'castle-key');
  assert.ok(m.pgBouncer?.enabled);
  assert.deepEqual(r.warnings, []);
});

test('secretStoreOf finds the ClusterSecretStore and its castle.dev/secret-source hint', async () => {
  const { loadManifests, secretStoreOf } = await import('../../src/targets/local/manifests.js');
  const { manifests } = await loadManifests(EXAMPLES);
  const es = manifests.find((m) => m.kind === 'ExternalSecret')!;
  const store = secretStoreOf(es, manifests);
  assert.deepEqual([store.kind, store.name, store.sourceHint, store.manifest?.kind], ['ClusterSecretStore', 'local-dotenv', 'dotenv', 'ClusterSecretStore']);
});

test('without a secret source the configuration is checked but not rendered', async () => {
  const r = await loadLocalClusterModel(EXAMPLES, {});
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.diagnostics));
  assert.equal(r.value.pgbackrest.rendered, false);
  assert.equal(r.value.pgbackrest.global['repo1-s3-key'], undefined);
  assert.equal(r.value.pgbackrest.global['repo1-type'], 's3');
});

test('a key missing from the secret source is reported at the ExternalSecret', async () => {
  const r = await loadLocalClusterModel(EXAMPLES, { secrets: new MemorySource({ S3_ACCESS_KEY_ID: 'k' }, 'dotenv file /x/secrets.env') });
  assert.ok(!r.ok);
  const d = r.diagnostics.find((x) => x.rule === 'secrets/missing-key');
  assert.ok(d);
  assert.match(d.message, /ExternalSecret 's3-backrest-creds': key 'S3_SECRET_ACCESS_KEY'/);
  assert.equal(path.basename(d.location!.file), 's3-creds.yaml');
});

const cluster = (spec: string) =>
  parseManifests(
    'c.yaml',
    `apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: c}
spec:
  postgresVersion: 15
${spec}`,
  ).manifests;

test("the seed post's two errors are caught offline: underscore user name, s3Credentials in a repo", async () => {
  const r = await buildLocalClusterModel(
    cluster(`  users:
    - name: tazlab_admin
      databases: [tazlab_test]
  backups:
    pgbackrest:
      repos:
      - name: repo1
        s3Credentials: {secret: x}
        s3: {bucket: b, endpoint: e, region: r}
`),
    { installedMajors: [15] },
  );
  assert.ok(!r.ok);
  const name = r.diagnostics.find((d) => d.rule === 'local/user-name');
  assert.match(name?.message ?? '', /'tazlab_admin' is not a valid DNS-1123 label/);
  assert.match(name?.hint ?? '', /tazlab-admin/);
  assert.equal(name?.location?.line, 7);
  const field = r.diagnostics.find((d) => d.rule === 'local/unknown-field');
  assert.match(field?.message ?? '', /repos\.0\.s3Credentials: field not declared/);
  assert.match(field?.hint ?? '', /backups\.pgbackrest\.configuration/);
  assert.deepEqual([field?.location?.line, field?.location?.col], [13, 9]);
});

test('unsupported-and-relevant fields are diagnostics; harmless ones are ignored', async () => {
  const r = await buildLocalClusterModel(
    cluster(`  image: registry.example/postgres:15
  instances: [{name: i1, replicas: 2, dataVolumeClaimSpec: {storageClassName: fast}}]
  standby: {enabled: true, repoName: repo1}
  backups:
    pgbackrest:
      repos:
      - name: repo1
        gcs: {bucket: b}
  dataSource:
    pgbackrest:
      stanza: db
      options: ["--type=immediate", "--stanza=other"]
      repo: {name: repo1, s3: {bucket: b, endpoint: e, region: r}}
`),
    { installedMajors: [15] },
  );
  assert.ok(!r.ok);
  const rules = r.diagnostics.map((d) => `${d.severity}:${d.rule}`).sort();
  assert.deepEqual(rules, [
    'error:local/bad-restore-option',
    'error:local/unsupported',
    'error:local/unsupported-repo',
    'warning:local/restore-immediate',
    'warning:local/single-instance',
  ]);
  assert.ok(r.diagnostics.every((d) => d.location && d.location.line > 1));
});

test('the default user and a missing ConfigMap key', async () => {
  const ok = await buildLocalClusterModel(cluster(''), { installedMajors: [15] });
  assert.ok(ok.ok);
  assert.deepEqual(
    ok.value.users.map((u) => [u.name, u.databases]),
    [['c', ['c']]],
  );
  assert.ok(ok.warnings.some((w) => w.rule === 'local/no-backups'));
  const ms = [
    ...cluster('  databaseInitSQL: {name: init, key: init.sql}\n'),
    ...parseManifests('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: init}\ndata: {setup.sql: "select 1"}\n').manifests,
  ];
  const bad = await buildLocalClusterModel(ms, { installedMajors: [15] });
  assert.ok(!bad.ok);
  assert.equal(bad.diagnostics[0]!.rule, 'local/missing-configmap-key');
  assert.match(bad.diagnostics[0]!.message, /has no key 'init.sql' \(keys: setup.sql\)/);
});

test('parseIni: sections, repeated keys, errors by line without values', () => {
  const ok = parseIni('# c\n[global]\nrepo1-s3-key = A\ndb-include=a\ndb-include=b\n[global:archive-push]\ncompress-level=3\n');
  assert.ok(ok.ok);
  assert.equal(ok.sections['global']!.options['repo1-s3-key'], 'A');
  assert.deepEqual(ok.sections['global']!.lists['db-include'], ['a', 'b']);
  assert.equal(ok.sections['global:archive-push']!.options['compress-level'], '3');
  const bad = parseIni('repo1-s3-key=SECRETVALUE\n');
  assert.ok(!bad.ok && bad.line === 1 && !bad.message.includes('SECRETVALUE'));
});

test("pgBouncerConfigFromModel: pools from the users' databases, a password per user", async () => {
  const { pgBouncerConfigFromModel, renderPgBouncerIni, renderAuthFile } = await import('../../src/targets/local/pgbouncer.js');
  const r = await loadLocalClusterModel(EXAMPLES, {});
  assert.ok(r.ok);
  const none = pgBouncerConfigFromModel(r.value, {
    dir: '/c/pgb',
    port: 6432,
    server: { host: '127.0.0.1', port: 5432 },
    passwords: new Map([['blog', 'p1']]),
  });
  assert.ok(!none.ok && /no password for user\(s\) blog-admin/.test(none.reason));
  const cfg = pgBouncerConfigFromModel(r.value, {
    dir: '/c/pgb',
    port: 6432,
    server: { host: '127.0.0.1', port: 5432 },
    passwords: new Map([
      ['blog', 'p1'],
      ['blog-admin', 'p"2'],
    ]),
  });
  assert.ok(cfg.ok);
  assert.deepEqual(cfg.value.databases, ['blog']);
  const ini = renderPgBouncerIni(cfg.value);
  assert.match(ini, /^blog = host=127\.0\.0\.1 port=5432 dbname=blog$/m);
  assert.match(ini, /^listen_port = 6432$/m);
  assert.match(ini, /^unix_socket_dir = \/c\/pgb\/sock$/m);
  assert.equal(renderAuthFile(cfg.value.users), '"blog" "p1"\n"blog-admin" "p""2"\n');
});

test("pgbackrestSpecFromModel maps the example cluster onto the data layer's pgBackRest spec", async () => {
  const { pgbackrestSpecFromModel } = await import('../../src/targets/local/manifest-pgbackrest.js');
  const secrets = new MemorySource({ S3_ACCESS_KEY_ID: 'castle-key', S3_SECRET_ACCESS_KEY: 'castle-secret' });
  const r = await loadLocalClusterModel(EXAMPLES, { secrets });
  assert.ok(r.ok);
  const spec = pgbackrestSpecFromModel(r.value, { host: 'localhost', port: 9443, caPem: 'PEM' });
  assert.ok(spec.ok, spec.ok ? '' : spec.reason);
  assert.deepEqual(spec.value, {
    stanza: 'db',
    repo1: {
      host: 'localhost',
      port: 9443,
      bucket: 'castle-backups',
      region: 'us-east-1',
      path: '/pgbackrest/blog-db/repo1',
      accessKeyId: 'castle-key',
      secretAccessKey: 'castle-secret',
      caPem: 'PEM',
      uriStyle: 'path',
    },
    repo2: true,
    retentionFull: 2,
  });
  const restore = pgbackrestSpecFromModel(r.value, { host: 'localhost', port: 9443 }, { restore: true });
  assert.ok(restore.ok && restore.value.repo1.bucket === 'castle-backups' && restore.value.repo2 === true);
  const unrendered = await loadLocalClusterModel(EXAMPLES, {});
  assert.ok(unrendered.ok);
  const no = pgbackrestSpecFromModel(unrendered.value, { host: 'localhost', port: 9443 });
  assert.ok(!no.ok && /was not rendered/.test(no.reason));
  // spec.backups.pgbackrest.global overrides Castle's measured defaults
  const global = {
    ...r.value.pgbackrest.global,
    'compress-type': 'lz4',
    'compress-level': '2',
    'process-max': '3',
    'repo1-bundle': 'n',
    'repo1-bundle-size': '16MiB',
  };
  const own = pgbackrestSpecFromModel({ ...r.value, pgbackrest: { ...r.value.pgbackrest, global } }, { host: 'localhost', port: 9443 });
  assert.ok(own.ok, own.ok ? '' : own.reason);
  assert.deepEqual(
    [own.value.compressType, own.value.compressLevel, own.value.processMax, own.value.repoBundle, own.value.repoBundleSize],
    ['lz4', 2, 3, false, '16MiB'],
  );
  const badSize = pgbackrestSpecFromModel(
    { ...r.value, pgbackrest: { ...r.value.pgbackrest, global: { ...global, 'repo1-bundle-size': 'four megs' } } },
    { host: 'localhost', port: 9443 },
  );
  assert.ok(!badSize.ok && /repo1-bundle-size 'four megs' is not a size: write it as pgBackRest does, e.g. 4MiB/.test(badSize.reason));
});

test('a plain Secret (data base64 / stringData) works as pgBackRest configuration; a bad INI is located', async () => {
  const repos = `  backups:
    pgbackrest:
      configuration: [{secret: {name: creds}}]
      repos: [{name: repo1, s3: {bucket: b, endpoint: localhost, region: us-east-1}}]
`;
  const secret = (body: string) => parseManifests('secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n${body}`).manifests;
  const ok = await buildLocalClusterModel(
    [
      ...cluster(repos),
      ...secret(
        `data:\n  s3.conf: ${Buffer.from('[global]\nrepo1-s3-key=K\n').toString('base64')}\nstringData:\n  extra.conf: "[global]\\nrepo1-s3-key-secret=S\\n"\n`,
      ),
    ],
    { installedMajors: [15] },
  );
  assert.ok(ok.ok, ok.ok ? '' : JSON.stringify(ok.diagnostics));
  assert.equal(ok.value.pgbackrest.global['repo1-s3-key'], 'K');
  assert.equal(ok.value.pgbackrest.global['repo1-s3-key-secret'], 'S');
  assert.deepEqual(ok.value.pgbackrest.configuration, [{ kind: 'Secret', name: 'creds', via: 'Secret' }]);
  const bad = await buildLocalClusterModel([...cluster(repos), ...secret('stringData:\n  s3.conf: "repo1-s3-key=TOPSECRET"\n')], { installedMajors: [15] });
  assert.ok(!bad.ok);
  const d = bad.diagnostics[0]!;
  assert.equal(d.rule, 'local/bad-pgbackrest-conf');
  assert.match(d.message, /'s3.conf' from 'creds', line 1: option 'repo1-s3-key' appears before any \[section\]/);
  assert.deepEqual([d.location?.file, d.location?.line], ['secret.yaml', 5]);
  assert.ok(!d.message.includes('TOPSECRET'));
  const missing = await buildLocalClusterModel(cluster(repos), { installedMajors: [15] });
  assert.ok(!missing.ok && missing.diagnostics[0]!.rule === 'local/missing-secret');
});
