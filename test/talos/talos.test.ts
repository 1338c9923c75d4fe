// The talos target against the talosctl test double: version check, secrets bundle kept in the secret
// source (same PKI when configs are made again), patches and generated configs checked against the
// Talos schema with file:line:col, apply once, bootstrap idempotent, kubeconfig into the state, health
// under Castle's own deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { installTalosctl, type TalosctlDouble } from './index.js';
import { stepContext } from '../kubernetes/context.js';
import { TalosSession } from '../../src/targets/talos/session.js';
import type { TalosBlock } from '../../src/targets/talos/config.js';
import { run as configsRun } from '../../src/targets/talos/kinds/configs.js';
import { runApply, runBootstrap, runHealth, runKubeconfig } from '../../src/targets/talos/kinds/nodes.js';
import { checkMachineConfig } from '../../src/targets/talos/machine-config.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'castle-talos-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function world(
  name: string,
  o: { version?: string; nodes?: Record<string, 'maintenance' | 'configured' | 'unreachable'>; healthHangs?: boolean; block?: Partial<TalosBlock> } = {},
) {
  const root = join(dir, name);
  const castleDir = join(root, 'castle');
  mkdirSync(join(castleDir, 'talos'), { recursive: true });
  const kubeconfig = join(root, 'cluster-kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\n');
  const double: TalosctlDouble = installTalosctl(join(root, 'double'), {
    nodes: o.nodes ?? { '10.5.0.2': 'maintenance', '10.5.0.3': 'maintenance' },
    kubeconfig,
    ...(o.version ? { version: o.version } : {}),
    ...(o.healthHangs ? { healthHangs: true } : {}),
  });
  process.env['TALOSCTL_DOUBLE_STATE'] = double.statePath;
  const block: TalosBlock = {
    clusterName: 'tazlab',
    endpoint: 'https://10.5.0.2:6443',
    controlPlane: ['10.5.0.2'],
    workers: ['10.5.0.3'],
    talosctl: join(double.bin, 'talosctl'),
    ...o.block,
  };
  const session = new TalosSession(block, castleDir, join(castleDir, '.castle'));
  const ctx = stepContext({ castleDir, stateDir: join(castleDir, '.castle') });
  return { castleDir, double, session, ctx, kubeconfig };
}

test('talosctl missing or too old: a clear error before anything runs', async () => {
  const w = world('missing', { block: { talosctl: '/nonexistent/bin/talosctl' } });
  const r = await configsRun({}, w.ctx, w.session);
  assert.ok(!r.ok);
  assert.match(
    r.reason,
    /^\/nonexistent\/bin\/talosctl cannot be run \(\/nonexistent\/bin\/talosctl: command not found\): Castle drives Talos through talosctl v1\.12\.0 or newer; install it/,
  );
  const old = world('old', { version: 'v1.11.5' });
  const r2 = await configsRun({}, old.ctx, old.session);
  assert.ok(!r2.ok);
  assert.equal(r2.reason, 'talosctl v1.11.5 is older than v1.12.0, the oldest Castle supports: upgrade talosctl (or lower talos.minVersion)');
  assert.deepEqual(
    old.double.calls().map((c) => c.argv.slice(0, 2)),
    [['version', '--client']],
  );
});

test('configs, apply, bootstrap, kubeconfig, health: the whole bring-up, and again as a no-op', async () => {
  const w = world('full', { block: { patches: { all: ['talos/all.yaml'], controlPlane: ['talos/cp.yaml'], worker: ['talos/worker.yaml'] } } });
  writeFileSync(
    join(w.castleDir, 'talos', 'all.yaml'),
    'apiVersion: v1alpha1\nkind: KubeletConfig\nimage: ghcr.io/siderolabs/kubelet:v1.34.1\nextraArgs:\n  rotate-server-certificates: "true"\n---\nmachine:\n  install:\n    disk: /dev/vda\n',
  );
  writeFileSync(join(w.castleDir, 'talos', 'cp.yaml'), 'apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: cp-1\n');
  writeFileSync(join(w.castleDir, 'talos', 'worker.yaml'), 'apiVersion: v1alpha1\nkind: KubeNodeConfig\nlabels:\n  role: worker\n');
  const c1 = await configsRun({}, w.ctx, w.session);
  assert.ok(c1.ok, c1.ok ? '' : c1.reason);
  const docs = (f: string) =>
    readFileSync(join(w.castleDir, '.castle', 'talos', 'generated', f), 'utf8')
      .split(/^---$/m)
      .map((d) => parse(d));
  const cp = docs('controlplane.yaml');
  const wk = docs('worker.yaml');
  const kind = (ds: any[], k: string) => ds.find((d) => d.kind === k);
  assert.equal(kind(cp, 'KubeletConfig').image, 'ghcr.io/siderolabs/kubelet:v1.34.1');
  assert.equal(kind(wk, 'KubeletConfig').extraArgs['rotate-server-certificates'], 'true');
  assert.equal(kind(cp, 'HostnameConfig').hostname, 'cp-1');
  assert.equal(kind(wk, 'HostnameConfig'), undefined);
  assert.equal(kind(wk, 'KubeNodeConfig').labels.role, 'worker');
  // a v1alpha1 field that left the schema in Talos 1.14 is a warning (still works, deprecated), not an error
  assert.match(
    w.ctx.rec.logs.join(''),
    /all\.yaml:8:3: warning: machine\.install: not in Talos's machine-config schema: a v1alpha1 field deprecated since Talos 1\.14/,
  );
  // the bundle went to the secret source (mode 0600 dotenv), and the generated files are private
  const env = readFileSync(join(w.castleDir, 'secrets.env'), 'utf8');
  assert.match(env, /^TALOS_SECRETS_BUNDLE=/m);
  assert.equal(statSync(join(w.castleDir, 'secrets.env')).mode & 0o777, 0o600);
  assert.equal(statSync(join(w.castleDir, '.castle', 'talos', 'generated', 'controlplane.yaml')).mode & 0o777, 0o600);
  // made again (e.g. after the state was lost): the same PKI and secretbox key
  rmSync(join(w.castleDir, '.castle'), { recursive: true });
  const c2 = await configsRun({}, w.ctx, w.session);
  assert.ok(c2.ok);
  const cp2 = docs('controlplane.yaml');
  assert.equal(kind(cp2, 'KubeAPIServerCAConfig').issuingCA.cert, kind(cp, 'KubeAPIServerCAConfig').issuingCA.cert);
  assert.equal(kind(cp2, 'DiscoveryIdentityConfig').clusterSecret, kind(cp, 'DiscoveryIdentityConfig').clusterSecret);
  assert.equal(cp2[0].machine.ca.key, cp[0].machine.ca.key);
  assert.equal(w.double.calls().filter((c) => c.argv[0] === 'gen' && c.argv[1] === 'secrets').length, 1, 'gen secrets ran once');

  const a = await runApply({}, w.ctx, w.session);
  assert.ok(a.ok, a.ok ? '' : a.reason);
  assert.deepEqual(Object.fromEntries(Object.entries(w.double.state().nodes).map(([ip, n]) => [ip, [n.state, n.role]])), {
    '10.5.0.2': ['configured', 'controlplane'],
    '10.5.0.3': ['configured', 'worker'],
  });
  const a2 = await runApply({}, w.ctx, w.session);
  assert.ok(a2.ok);
  assert.equal(a2.summary, 'every node already has its config');

  const b1 = await runBootstrap({}, w.ctx, w.session);
  assert.ok(b1.ok);
  assert.equal(b1.summary, 'etcd bootstrapped on 10.5.0.2');
  const b2 = await runBootstrap({}, w.ctx, w.session);
  assert.ok(b2.ok);
  assert.equal(b2.summary, 'etcd already bootstrapped on 10.5.0.2');
  const bootstrapCalls = w.double.calls().filter((c) => c.argv[0] === 'bootstrap');
  assert.deepEqual(
    bootstrapCalls.map((c) => c.code),
    [0, 1],
    'the second bootstrap got AlreadyExists (exit 1) and counted as done',
  );

  const k = await runKubeconfig({}, w.ctx, w.session);
  assert.ok(k.ok, k.ok ? '' : k.reason);
  const kc = join(w.castleDir, '.castle', 'talos', 'kubeconfig');
  assert.equal(readFileSync(kc, 'utf8'), readFileSync(w.kubeconfig, 'utf8'));
  assert.equal(statSync(kc).mode & 0o777, 0o600);
  const kcall = w.double.calls().find((c) => c.argv[0] === 'kubeconfig')!;
  assert.ok(kcall.argv.includes('--merge=false'), 'never merged into ~/.kube/config');

  const h = await runHealth({ within: '1m' }, w.ctx, w.session);
  assert.ok(h.ok, h.ok ? '' : h.reason);
  assert.equal(h.summary, 'healthy: 16 checks OK');
  const hcall = w.double.calls().find((c) => c.argv[0] === 'health')!;
  assert.ok(/^(59|60)s$/.test(hcall.argv[hcall.argv.indexOf('--wait-timeout') + 1]!), `--wait-timeout is Castle's deadline (${hcall.argv.join(' ')})`);
  // no secret in any process argument: the bundle goes by file
  const secretValue = readFileSync(join(w.castleDir, 'secrets.env'), 'utf8').split('=')[1]!.trim();
  assert.ok(!w.double.calls().some((c) => c.argv.some((x) => x.includes(secretValue.slice(0, 40)))));
});

test('a patch with a misspelt field fails with file:line:col before talosctl gen config runs', async () => {
  const w = world('badpatch', { block: { patches: { controlPlane: ['talos/cp.yaml'] } } });
  writeFileSync(
    join(w.castleDir, 'talos', 'cp.yaml'),
    'apiVersion: v1alpha1\nkind: KubeletConfig\nimage: ghcr.io/siderolabs/kubelet:v1.34.1\nextraArgz:\n  rotate-server-certificates: "true"\n',
  );
  const r = await configsRun({}, w.ctx, w.session);
  assert.ok(!r.ok);
  assert.equal(
    r.reason,
    `Talos patches do not match the machine-config schema:\n${join(w.castleDir, 'talos', 'cp.yaml')}:4:1: extraArgz: unknown field (not in the Talos machine config schema)`,
  );
  assert.ok(!w.double.calls().some((c) => c.argv[0] === 'gen'));
});

test("health that does not come: Castle's deadline stops talosctl and says what it last reported", async () => {
  const w = world('hang', { healthHangs: true });
  assert.ok((await configsRun({}, w.ctx, w.session)).ok);
  const h = await runHealth({ within: '1s' }, w.ctx, w.session);
  assert.ok(!h.ok);
  assert.match(
    h.reason,
    /^the Talos cluster is not healthy after 1 s \(Castle's deadline\); talosctl last said: waiting for etcd to be healthy: 1 error occurred:\n\t\* 10\.5\.0\.2: service "etcd" not in expected state "Running"/,
  );
  const call = w.double.calls().find((c) => c.argv[0] === 'health');
  assert.equal(call?.code, 143, 'talosctl was stopped (SIGTERM) at the deadline');
});

test('apply to a node that does not answer, bootstrap before any config', async () => {
  const w = world('down', { nodes: { '10.5.0.2': 'unreachable', '10.5.0.3': 'maintenance' } });
  assert.ok((await configsRun({}, w.ctx, w.session)).ok);
  const a = await runApply({}, w.ctx, w.session);
  assert.ok(!a.ok);
  assert.equal(
    a.reason,
    'talosctl apply-config to 10.5.0.2 (controlplane): rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.5.0.2:50000: connect: connection refused"',
  );
  assert.equal(a.retryable, true);
  const m = world('maint', { nodes: { '10.5.0.2': 'maintenance' }, block: { workers: [] } });
  assert.ok((await configsRun({}, m.ctx, m.session)).ok);
  const b = await runBootstrap({ within: '1s' }, m.ctx, m.session);
  assert.ok(!b.ok);
  assert.match(
    b.reason,
    /^talosctl bootstrap on 10\.5\.0\.2 did not succeed before the deadline \(\d+ attempts\); last: error executing bootstrap: rpc error: code = FailedPrecondition desc = bootstrap is not available yet$/,
  );
});

test('machine-config check: typed documents by kind, JSON patches left alone, required fields only for full configs', () => {
  const ok = checkMachineConfig('/x/hostname.yaml', 'apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: cp-1\n', { patch: true });
  assert.deepEqual(ok, []);
  const bad = checkMachineConfig('/x/hostname.yaml', 'apiVersion: v1alpha1\nkind: HostnameConfig\nhostnam: cp-1\n', { patch: true });
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!.message, 'hostnam: unknown field (not in the Talos machine config schema)');
  assert.deepEqual([bad[0]!.location?.line, bad[0]!.location?.col], [3, 1]);
  const kind = checkMachineConfig('/x/k.yaml', 'apiVersion: v1alpha1\nkind: HostnameConfg\n');
  assert.match(kind[0]!.message, /unknown machine-config document kind "HostnameConfg"/);
  assert.deepEqual(checkMachineConfig('/x/j.yaml', '- op: add\n  path: /machine/network/hostname\n  value: cp-1\n', { patch: true }), []);
  const t = checkMachineConfig('/x/t.yaml', 'apiVersion: v1alpha1\nkind: KubeletConfig\nimage: k\ndefaultRuntimeSeccompProfileEnabled: "yes"\n', {
    patch: true,
  });
  assert.equal(t[0]!.message, 'defaultRuntimeSeccompProfileEnabled: must be boolean');
  assert.deepEqual([t[0]!.location?.line, t[0]!.location?.col, t[0]!.severity], [4, 38, 'error']);
  const full = checkMachineConfig('/x/k.yaml', 'apiVersion: v1alpha1\nkind: KubeletConfig\n');
  assert.equal(full[0]!.message, '(document): missing required field image');
});
