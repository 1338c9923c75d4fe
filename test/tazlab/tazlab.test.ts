// examples/tazlab as a user runs it, through the `castle` CLI, against the doubles of what cannot run
// here (Proxmox, talosctl, the Kubernetes API server and its controllers) with PGO's primary a real
// PostgreSQL archiving to a real S3 endpoint: a full `up` with the phase table, a rebirth whose backup
// Job fails (every machine stays), a rebirth proven identical, and one whose restored data differ.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { castle, castleAsync, events, spans, summary } from '../helpers/cli.js';
import { repoRoot, type Obj } from '../kubernetes/index.js';
import { INFISICAL, NODE_NAMES, startWorld, VMS, type World } from './world.js';

let w: World;
const lines: string[] = [];

before(async () => {
  w = await startWorld((t) => void lines.push(t));
});

after(async () => {
  await w?.close();
});

const PGO = 'postgres-operator.crunchydata.com/v1beta1';
const LAYERS = ['secrets', 'machines', 'platform', 'networking', 'storage', 'gitops', 'data', 'apps'];
const DEPENDS: Record<string, string[]> = {
  machines: ['secrets'],
  platform: ['machines'],
  networking: ['platform'],
  storage: ['platform'],
  gitops: ['networking', 'storage'],
  data: ['gitops'],
  apps: ['data'],
};

/** Every file the run wrote under .castle (logs, events, state), to look for leaked secret values. */
function castleFiles(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!/secrets\.yaml$|kubeconfig$|talosconfig$|\.yaml$/.test(e.name)) out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(join(dir, '.castle'));
  return out.join('\n');
}

function vmsAlive(): void {
  for (const id of Object.keys(VMS).map(Number)) {
    const vm = w.pve.vms.get(id);
    assert.ok(vm, `VM ${id} exists`);
    assert.equal(vm.status, 'running', `VM ${id} runs`);
    assert.match(vm.config['tags'] ?? '', /castle-tazlab/);
  }
}

test('castle validate passes on examples/tazlab with nothing to report; the seed s3Credentials mistake is caught with file:line', () => {
  const dir = join(repoRoot, 'examples', 'tazlab');
  const own = castle(dir, ['validate']);
  assert.equal(own.code, 0, own.stdout + own.stderr);
  assert.match(own.stdout, /^0 errors, 0 warnings$/m, own.stdout);
  assert.match(own.stdout, /(\d+) documents in \d+ files, \1 checked against a schema/, own.stdout);
  // as paths: the Talos patch beside the manifests is recognised, not taken for an unknown Kubernetes kind
  const paths = castle(repoRoot, ['validate', 'examples/tazlab']);
  assert.equal(paths.code, 0, paths.stdout + paths.stderr);
  assert.match(paths.stdout, /talos\/worker\.yaml:\d+:\d+: info input\/not-a-manifest: document 1 is a Talos machine-config document \(KubeNodeConfig\)/);
  assert.match(paths.stdout, /^0 errors, 0 warnings$/m);
  // and the seed's second error, put back into a copy, fails as the API server failed it, with its place
  const text = readFileSync(join(dir, 'data', 'cluster.yaml'), 'utf8').replace(
    '      - name: repo1 # S3 Storage (Immortality)\n',
    '$&        s3Credentials: {secret: s3-backrest-creds}\n',
  );
  assert.match(text, /s3Credentials/, 'the mistake was put in');
  mkdirSync(join(w.dir, 'bad'), { recursive: true });
  writeFileSync(join(w.dir, 'bad', 'cluster.yaml'), text);
  const bad = castle(w.dir, ['validate', 'bad/cluster.yaml']);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /bad\/cluster\.yaml:\d+:\d+: error .*s3Credentials/);
});

test('castle up of examples/tazlab: machines, Talos, MetalLB, Longhorn, Flux, ESO, PGO and the blog, in dependency order, with the phase table', async () => {
  const r = await castleAsync(w.castleDir, ['up'], w.env).done;
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  // the phase table: one row per layer with its offset and duration
  assert.match(r.stdout, /^phase +start +duration$/m, r.stdout);
  for (const layer of LAYERS) assert.match(r.stdout, new RegExp(`^up/${layer} +\\d\\S*s +\\d\\S*s$`, 'm'), r.stdout);
  assert.match(r.stdout, /^total \d\S*s of budget 12m \(\d+(\.\d+)?%\)$/m, r.stdout);
  assert.equal(summary(w.castleDir)['status'], 'succeeded');

  // every layer started after each layer it depends on had finished
  const sp = spans(events(w.castleDir));
  const layerSpan = (l: string) => {
    const s = [...sp].filter(([id]) => id.startsWith(`up/${l}/`)).map(([, x]) => x);
    assert.ok(s.length > 0, `layer ${l} ran`);
    return { start: Math.min(...s.map((x) => x.start)), end: Math.max(...s.map((x) => x.end)) };
  };
  for (const [layer, deps] of Object.entries(DEPENDS))
    for (const d of deps) assert.ok(layerSpan(d).end <= layerSpan(layer).start, `${layer} started after ${d} finished`);

  // the machines: three VMs cloned from the template, tagged, running
  vmsAlive();
  // Talos: bundle made once, configs applied to each node once, etcd bootstrapped, kubeconfig, health
  const calls = w.talos.calls().map((c) => c.argv.slice(0, 2).join(' '));
  const first = (p: string) => calls.findIndex((c) => c.startsWith(p));
  assert.ok(first('gen secrets') < first('gen config') && first('gen config') < first('apply-config'), calls.join('\n'));
  assert.ok(first('apply-config') < first('bootstrap') && first('bootstrap') < first('kubeconfig') && first('kubeconfig') < first('health'), calls.join('\n'));
  assert.equal(calls.filter((c) => c.startsWith('apply-config')).length, 3);
  const nodes = w.talos.state().nodes;
  assert.deepEqual(
    Object.values(nodes).map((n) => n.state),
    ['configured', 'configured', 'configured'],
  );
  assert.match(nodes[VMS[431]]!.config!, /node\.longhorn\.io\/create-default-disk/, "the worker patch is in the workers' config");
  assert.doesNotMatch(nodes[VMS[421]]!.config!, /node\.longhorn\.io/, 'and not in the control plane config');

  // Kubernetes: what each layer applied is there, applied by castle, ready
  const k = w.kube;
  const byCastle = (o: Obj | undefined) =>
    ((o?.['metadata'] as Obj | undefined)?.['managedFields'] as Obj[] | undefined)?.some((m) => m['manager'] === 'castle');
  assert.ok(byCastle(k.get('metallb.io/v1beta1', 'IPAddressPool', 'metallb-system', 'tazlab-pool')));
  assert.ok(byCastle(k.get('storage.k8s.io/v1', 'StorageClass', undefined, 'longhorn-postgres')));
  assert.ok(byCastle(k.get('helm.toolkit.fluxcd.io/v2', 'HelmRelease', 'flux-system', 'pgo')));
  assert.ok(byCastle(k.get('external-secrets.io/v1', 'ClusterSecretStore', undefined, 'infisical-tazlab')));
  assert.ok(byCastle(k.get(PGO, 'PostgresCluster', 'tazlab-db', 'tazlab-db')));
  assert.deepEqual(((k.get('v1', 'Service', 'tazlab-db', 'blog')!['status'] as Obj)['loadBalancer'] as Obj)['ingress'], [
    { ip: '192.168.1.240', ipMode: 'VIP' },
  ]);
  // MetalLB's pool went in only once its webhook had a ready endpoint
  const reqs = k.requests.map((q) => `${q.method} ${q.path}`);
  const poolApply = reqs.findIndex((q) => q.startsWith('PATCH /apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/tazlab-pool'));
  const sliceWatch = reqs.findIndex((q) => q.includes('/endpointslices') && q.includes('kubernetes.io%2Fservice-name%3Dmetallb-webhook-service'));
  assert.ok(sliceWatch >= 0 && sliceWatch < poolApply, 'the webhook backend was waited for before the pool');
  // the Infisical machine identity reached the cluster from the environment, and nowhere else
  const mi = k.get('v1', 'Secret', 'external-secrets', 'infisical-machine-identity')!;
  assert.equal(Buffer.from(String((mi['data'] as Obj)['clientSecret']), 'base64').toString(), INFISICAL.INFISICAL_CLIENT_SECRET);
  const written = r.stdout + r.stderr + castleFiles(w.castleDir);
  assert.ok(!written.includes(INFISICAL.INFISICAL_CLIENT_SECRET), 'the machine identity secret is in no output or log');
  // the data came back from repo1 after the repo was checked
  assert.ok(k.get('batch/v1', 'Job', 'tazlab-db', 'tazlab-db-pgbackrest-restore'));
  assert.match(r.stdout, /check repo passed: s3:\/\/tazlab-longhorn\/pgbackrest\/repo1 stanza db: system \d+, 1 backups/);
  assert.deepEqual(
    k.list('v1', 'Node').map((n) => (n['metadata'] as Obj)['name']),
    NODE_NAMES,
  );
});

test('castle rebirth whose backup Job fails stops at the gate: every VM still there, no node reset, nothing deleted', async () => {
  w.outcome = 'Failed';
  try {
    const pveBefore = w.pve.mutations().length;
    const talosBefore = w.talos.calls().length;
    const kubeBefore = w.kube.requests.length;
    const r = await castleAsync(w.castleDir, ['rebirth'], w.env).done;
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /backup gate failed, nothing may be wiped: PostgresCluster tazlab-db\/tazlab-db: manual backup castle-\S+ failed/);
    assert.match(r.stdout + r.stderr, /Job tazlab-db-backup-\w+: .*Failed=True \(BackoffLimitExceeded\)/);
    vmsAlive();
    assert.deepEqual(w.pve.mutations().slice(pveBefore), [], 'Proxmox got no request that changes anything');
    assert.ok(
      !w.talos
        .calls()
        .slice(talosBefore)
        .some((c) => c.argv[0] === 'reset'),
      'no node was reset',
    );
    assert.ok(!w.kube.requests.slice(kubeBefore).some((q) => q.method === 'DELETE'), 'nothing was deleted in the cluster');
    assert.equal(w.wipes, 0);
    assert.ok(w.kube.get(PGO, 'PostgresCluster', 'tazlab-db', 'tazlab-db'), 'the cluster is still there');
  } finally {
    w.outcome = 'Complete';
  }
});

test('castle rebirth of examples/tazlab: gate, nuclear wipe, up from repo1 on a new cluster, proof with the blog', async () => {
  const uidBefore = (w.kube.get(PGO, 'PostgresCluster', 'tazlab-db', 'tazlab-db')!['metadata'] as Obj)['uid'];
  const pveBefore = w.pve.mutations().length;
  const r = await castleAsync(w.castleDir, ['rebirth'], w.env).done;
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  for (const phase of ['gate', 'down', 'up', 'proof']) assert.match(r.stdout, new RegExp(`^${phase}(/\\S+)?\\s+\\d`, 'm'), r.stdout);
  // the VMs were destroyed and made again: the cluster was new (empty, then filled by the castle)
  const destroyed = w.pve
    .mutations()
    .slice(pveBefore)
    .filter((q) => q.method === 'DELETE')
    .map((q) => q.path);
  for (const id of Object.keys(VMS))
    assert.ok(
      destroyed.some((p) => p.endsWith(`/qemu/${id}`)),
      `VM ${id} destroyed: ${destroyed.join(', ')}`,
    );
  vmsAlive();
  assert.equal(w.wipes, 1);
  assert.notEqual((w.kube.get(PGO, 'PostgresCluster', 'tazlab-db', 'tazlab-db')!['metadata'] as Obj)['uid'], uidBefore, 'a new PostgresCluster');
  // the same secrets bundle: no second `gen secrets`
  assert.equal(w.talos.calls().filter((c) => c.argv[0] === 'gen' && c.argv[1] === 'secrets').length, 1);
  assert.match(r.stdout, /check repo belongs to the castle passed: s3:\/\/tazlab-longhorn\/pgbackrest\/repo1 stanza db: system (\d+) = the gate's/);
  assert.match(r.stdout, /check system identifier passed: restored cluster (\d+) = gate \1 = S3 repo \1/);
  assert.match(r.stdout, /check data identical passed: \d+ tables, \d+ rows in \d+ databases match the gate/);
  assert.match(
    r.stdout,
    /check app serves the data passed: GET http:\/\/127\.0\.0\.1:\d+\/: 200, shows "Il Castello Effimero: Nomadismo, Rinascita One-Shot" from the database/,
  );
  assert.equal(summary(w.castleDir)['status'], 'succeeded');
});

test('a rebirth whose restored data differ from the gate fails the proof, naming the table', async () => {
  w.tamperAfterRestore = true;
  const r = await castleAsync(w.castleDir, ['rebirth'], w.env).done;
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(
    r.stdout,
    /check data identical FAILED: proof failed: data differs from the gate's fingerprint: tazlab_test: public\.posts had 301 rows, now 302/,
  );
  assert.equal(w.wipes, 2);
  assert.equal(summary(w.castleDir)['status'], 'failed');
});
