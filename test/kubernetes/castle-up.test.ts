// A castle shaped like the seed (Talos -> Kubernetes platform -> PGO data -> app) run by the `castle` CLI
// against the doubles: the talosctl double on PATH, the Kubernetes API test server with scripted
// controllers, PGO's primary a real PostgreSQL archiving to a real S3 endpoint. `up` end to end with
// the phase table; a `rebirth` whose backup Job fails stops at the gate with every machine alive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { castleAsync, castleDir, summary } from '../helpers/cli.js';
import { installTalosctl, type TalosctlDouble } from '../talos/index.js';
import { KubeTestServer, controllers, stubCrd, tempDir, rmDir, repoRoot, type Obj } from './index.js';
import { installPgo, newPrimary, PASSWORD, s3CredsSecret, seedCluster, startS3, stopAll } from './pgo-fixture.js';
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import type { S3ServerInfo } from '../../src/s3/server.js';
import type { DataCastle } from '../../src/data/rebirth.js';
import { runBackup } from '../../src/data/pgbackrest.js';

let srv: KubeTestServer;
let dir: string;
let s3: S3ServerInfo;
let s3dir: string;
let talos: TalosctlDouble;
let cdir: string;
const castles: DataCastle[] = [];
const lines: string[] = [];
const log = (t: string) => void lines.push(t);
const world = { primary: undefined as unknown as DataCastle, outcome: 'Complete' as 'Complete' | 'Failed' };
const handles: { stop(): void }[] = [];

const NODES = ['10.5.0.2', '10.5.0.3', '10.5.0.4'];

let appUrl: string;
let app: Server;

function castleYaml(): string {
  const pgo = { cluster: 'tazlab-db', namespace: 'tazlab-db', s3: { caFile: s3.caFile }, sslmode: 'disable', within: '2m' };
  const proofApp = { url: appUrl, database: 'blog', query: 'SELECT title FROM posts ORDER BY id DESC LIMIT 1' };
  return stringify({
    name: 'tazlab',
    description: "the seed's castle on the test doubles",
    budget: '10m',
    target: 'kubernetes',
    talos: {
      clusterName: 'tazlab',
      endpoint: 'https://10.5.0.2:6443',
      controlPlane: [NODES[0]],
      workers: NODES.slice(1),
      patches: { all: ['talos/all.yaml'], worker: ['talos/worker.yaml'] },
      secrets: { dotenv: 'secrets.env' },
    },
    kubernetes: {},
    layers: [
      {
        name: 'cluster',
        target: 'talos',
        apply: [{ configs: {} }, { apply: {} }, { bootstrap: { within: '1m' } }, { kubeconfig: {} }, { health: { within: '2m' } }],
        destroy: [{ reset: {} }],
      },
      {
        name: 'platform',
        dependsOn: ['cluster'],
        apply: [{ nodes: { count: 3, within: '1m' } }, { apply: { manifests: 'platform', within: '1m' } }],
        destroy: [{ delete: { manifests: 'platform' } }],
      },
      {
        name: 'data',
        dependsOn: ['platform'],
        apply: [
          { apply: { manifests: 'data/namespace.yaml', within: '1m' } },
          { pgoRepoCheck: { ...pgo, manifest: 'data/cluster.yaml' } },
          { apply: { manifests: 'data/cluster.yaml', within: '2m' }, name: 'PostgresCluster ready' },
        ],
        destroy: [{ delete: { manifests: ['data/cluster.yaml'] } }],
      },
      { name: 'app', dependsOn: ['data'], apply: [{ apply: { manifests: 'app', within: '1m' } }], destroy: [{ delete: { manifests: 'app' } }] },
    ],
    rebirth: { gate: [{ pgoBackup: pgo }], proof: [{ pgoProof: { ...pgo, app: proofApp } }] },
  });
}

function write(rel: string, docs: Obj[] | string): void {
  const f = join(cdir, rel);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, typeof docs === 'string' ? docs : docs.map((d) => stringify(d)).join('---\n'));
}

before(async () => {
  dir = tempDir('castle-up');
  ({ s3, dir: s3dir } = await startS3(log));
  world.primary = await newPrimary(s3, log);
  castles.push(world.primary);
  // an earlier life of the castle left a backup in the repo: the first `up` restores from it
  const b = await runBackup(world.primary.pgbr, { type: 'full', repo: 1, log });
  if (!b.ok) throw new Error(b.reason);
  srv = await KubeTestServer.start({ dir: join(dir, 'server') });
  handles.push(installPgo(srv, world, log));
  // the blog: serves the newest post title, read from the primary
  app = createServer((_req, res) => {
    const c = new pg.Client({ host: '127.0.0.1', port: world.primary.cluster.port, user: 'postgres', password: PASSWORD, database: 'blog' });
    c.connect()
      .then(() => c.query('SELECT title FROM posts ORDER BY id DESC LIMIT 1'))
      .then(
        (q) => res.end(`<h1>${String(q.rows[0]?.title)}</h1>`),
        (e: Error) => ((res.statusCode = 503), res.end(e.message)),
      )
      .finally(() => void c.end().catch(() => {}));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}/`;
  handles.push(
    controllers.rollouts(srv, { delayMs: 50 }),
    controllers.loadBalancers(srv, { ip: '192.168.1.240', delayMs: 20 }),
    controllers.externalSecrets(srv, { delayMs: 20 }),
    controllers.flux(srv, { delayMs: 20 }),
  );
  // the nodes register with the API server once Talos has bootstrapped (here: at once, Ready a little later)
  controllers.nodes(srv, ['tazlab-cp-1', 'tazlab-worker-1', 'tazlab-worker-2'], { readyAfterMs: 30 });
  talos = installTalosctl(join(dir, 'talos'), { nodes: Object.fromEntries(NODES.map((n) => [n, 'maintenance'])), kubeconfig: srv.kubeconfigPath });
  cdir = castleDir(castleYaml(), 'castle-kube-up-');
  write('talos/all.yaml', 'apiVersion: v1alpha1\nkind: KubeletConfig\nimage: ghcr.io/siderolabs/kubelet:v1.34.1\n');
  write('talos/worker.yaml', 'apiVersion: v1alpha1\nkind: KubeNodeConfig\nlabels:\n  node-role.kubernetes.io/worker: ""\n');
  write('platform/crds.yaml', [
    stubCrd('kustomize.toolkit.fluxcd.io', 'v1', 'Kustomization', 'kustomizations'),
    stubCrd('external-secrets.io', 'v1beta1', 'ExternalSecret', 'externalsecrets'),
  ]);
  write('platform/pgo.yaml', readFileSync(join(repoRoot, 'schemas', 'crds', 'pgo-v5.8.9-postgresclusters.yaml'), 'utf8'));
  write('platform/namespaces.yaml', [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flux-system' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'postgres-operator' } },
  ]);
  write('platform/operator.yaml', [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'pgo', namespace: 'postgres-operator' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'pgo' } },
        template: {
          metadata: { labels: { app: 'pgo' } },
          spec: { containers: [{ name: 'operator', image: 'registry.developers.crunchydata.com/crunchydata/postgres-operator:ubi9-5.8.9-0' }] },
        },
      },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'infrastructure', namespace: 'flux-system' },
      spec: { interval: '10m', path: './infrastructure', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
    },
  ]);
  write('data/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tazlab-db' } }, s3CredsSecret(s3)]);
  // the cluster comes back from repo1 (dataSource), as the seed's castle must for a rebirth
  write('data/cluster.yaml', [seedCluster(s3, { dataSource: true })]);
  write('app/blog.yaml', [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'blog' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'blog', namespace: 'blog' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'blog' } },
        template: { metadata: { labels: { app: 'blog' } }, spec: { containers: [{ name: 'hugo', image: 'nginx:1.27' }] } },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'blog', namespace: 'blog' },
      spec: { type: 'LoadBalancer', selector: { app: 'blog' }, ports: [{ port: 80 }] },
    },
  ]);
});

after(async () => {
  for (const h of handles) h.stop();
  await new Promise<void>((r) => app?.close(() => r()));
  await srv?.close();
  await stopAll(castles, s3dir);
  rmDir(dir);
});

const env = () => ({ ...talos.env });

test('castle up: Talos bootstrapped, platform, PGO cluster and app ready, with the phase table', async () => {
  const { done } = castleAsync(cdir, ['up'], env());
  const r = await done;
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  // the phase table: one row per layer with offset and duration
  for (const layer of ['cluster', 'platform', 'data', 'app']) assert.match(r.stdout, new RegExp(`^up/${layer}\\s+\\d`, 'm'), r.stdout);
  const s = summary(cdir);
  assert.equal(s['status'], 'succeeded');
  // talosctl was driven in order, each node configured once, etcd bootstrapped once
  const calls = talos.calls().map((c) => c.argv.slice(0, 2).join(' '));
  const first = (p: string) => calls.findIndex((c) => c.startsWith(p));
  assert.ok(
    first('gen secrets') < first('gen config') &&
      first('gen config') < first('apply-config') &&
      first('apply-config') < first('bootstrap') &&
      first('bootstrap') < first('kubeconfig') &&
      first('kubeconfig') < first('health'),
    calls.join('\n'),
  );
  assert.equal(calls.filter((c) => c.startsWith('apply-config')).length, 3);
  assert.ok(Object.values(talos.state().nodes).every((n) => n.state === 'configured'));
  // everything the castle applied is there, applied by field manager castle
  const pc = srv.get('postgres-operator.crunchydata.com/v1beta1', 'PostgresCluster', 'tazlab-db', 'tazlab-db')!;
  assert.ok(((pc['metadata'] as Obj)['managedFields'] as Obj[]).some((m) => m['manager'] === 'castle' && m['operation'] === 'Apply'));
  assert.deepEqual(((srv.get('v1', 'Service', 'blog', 'blog')!['status'] as Obj)['loadBalancer'] as Obj)['ingress'], [{ ip: '192.168.1.240', ipMode: 'VIP' }]);
  // the kubeconfig stayed in the castle's state
  assert.equal(readFileSync(join(cdir, '.castle', 'talos', 'kubeconfig'), 'utf8'), readFileSync(srv.kubeconfigPath, 'utf8'));
  // the data came back from the repo: PGO's restore Job ran, the repo check passed first
  assert.ok(srv.get('batch/v1', 'Job', 'tazlab-db', 'tazlab-db-pgbackrest-restore'));
  assert.match(r.stdout, /check repo passed: s3:\/\/tazlab-backups\/pgbackrest\/repo1 stanza db: system \d+, 1 backups/);
});

test('castle rebirth with a failing backup Job stops at the gate: nothing destroyed, every machine alive', async () => {
  world.outcome = 'Failed';
  try {
    const before = talos.calls().length;
    const { done } = castleAsync(cdir, ['rebirth'], env());
    const r = await done;
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /backup gate failed, nothing may be wiped: PostgresCluster tazlab-db\/tazlab-db: manual backup castle-\S+ failed/);
    const after = talos
      .calls()
      .slice(before)
      .map((c) => c.argv[0]);
    assert.ok(!after.includes('reset'), `no node was reset: ${after.join(', ')}`);
    assert.ok(Object.values(talos.state().nodes).every((n) => n.state === 'configured' && (n.role !== 'controlplane' || n.etcd)));
    assert.ok(srv.get('postgres-operator.crunchydata.com/v1beta1', 'PostgresCluster', 'tazlab-db', 'tazlab-db'), 'the cluster is still there');
    assert.ok(srv.get('apps/v1', 'Deployment', 'blog', 'blog'), 'the app is still there');
    assert.ok(!srv.requests.some((q) => q.method === 'DELETE'), 'nothing was deleted');
  } finally {
    world.outcome = 'Complete';
  }
});

test('castle rebirth: gate, down (Kubernetes objects deleted, Talos nodes reset), up (restored from repo1), proof with the app', async () => {
  const { done } = castleAsync(cdir, ['rebirth'], env());
  const r = await done;
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  for (const phase of ['gate', 'down', 'up', 'proof']) assert.match(r.stdout, new RegExp(`^${phase}(/\\S+)?\\s+\\d`, 'm'), r.stdout);
  assert.match(r.stdout, /check system identifier passed: restored cluster (\d+) = gate \1 = S3 repo \1/);
  assert.match(r.stdout, /check data identical passed: \d+ tables, \d+ rows in \d+ databases match the gate/);
  assert.match(r.stdout, /check app serves the data passed: GET http:\/\/127\.0\.0\.1:\d+\/: 200, shows "Il Castello Effimero" from the database/);
  assert.match(r.stdout, /check repo belongs to the castle passed/);
  // the nodes went back to maintenance and were configured and bootstrapped again, with the same PKI
  const calls = talos.calls().map((c) => c.argv[0]);
  assert.ok(calls.includes('reset'));
  assert.ok(Object.values(talos.state().nodes).every((n) => n.state === 'configured'));
  assert.equal(talos.calls().filter((c) => c.argv[0] === 'gen' && c.argv[1] === 'secrets').length, 1, 'the secrets bundle came from the secret source');
  assert.equal(summary(cdir)['status'], 'succeeded');
});
