import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepCheckContext } from '../../src/core/step.js';
import { checkBlock } from '../../src/targets/proxmox/check.js';
import type { ProxmoxConfig } from '../../src/targets/proxmox/config.js';
import { describeProxmox } from '../../src/targets/proxmox/index.js';
import { livePreflight } from '../../src/targets/proxmox/preflight.js';
import { tlsTrust, tokenSecret } from '../../src/targets/proxmox/session.js';
import { blockFor, rig, tazlabMachines } from './harness.js';

const ctx: StepCheckContext = { castleDir: '/tmp', locate: (p) => ({ file: 'castle.yaml', line: 1, col: 1 + p.length }) };
const base = (over: Partial<ProxmoxConfig> = {}): ProxmoxConfig =>
  blockFor('https://pve:8006', tazlabMachines(), { hosts: { pve: { memory: '32GiB', cpus: 8 } }, ...over });
const rules = (c: ProxmoxConfig): string[] =>
  checkBlock(c, ctx)
    .filter((d) => d.severity === 'error')
    .map((d) => d.rule);

test("the seed's castle passes the block checks; its first attempt is over budget by 12 GiB", () => {
  assert.deepEqual(checkBlock(base(), ctx), []);
  const five = [...tazlabMachines(), { vmid: 422, name: 'cp2', cores: 2, memory: '8GiB' }, { vmid: 423, name: 'cp3', cores: 2, memory: 8192 }];
  const d = checkBlock(base({ machines: five }), ctx);
  assert.deepEqual(
    d.map((x) => `${x.severity} ${x.rule}`),
    ['warning proxmox/vcpus', 'error proxmox/budget'],
  );
  d.shift();
  assert.equal(
    d[0]!.message,
    'the castle needs 40 GiB of memory on pve (machines 421, 431, 432, 422, 423) but pve has 32 GiB - 4 GiB reserve = 28 GiB: 12 GiB over budget',
  );
  assert.deepEqual(d[0]!.location, { file: 'castle.yaml', line: 1, col: 4 }, 'located at hosts.pve.memory');
});

test('the block checks find duplicates, a missing source, TLS or token choice, a vCPU count the host lacks, and machines with no readiness check', () => {
  const m = tazlabMachines();
  assert.deepEqual(rules(base({ machines: [m[0]!, { ...m[1]!, vmid: 421 }, { ...m[2]!, ip: m[0]!.ip! }] })), ['proxmox/duplicate', 'proxmox/duplicate']);
  assert.deepEqual(rules(base({ source: {} })), ['proxmox/source']);
  assert.deepEqual(rules(base({ source: { template: 9000, iso: 'local:iso/x.iso' } })), ['proxmox/source']);
  assert.deepEqual(rules(base({ tls: { insecure: true, fingerprint: 'AA' } })), ['proxmox/tls']);
  assert.deepEqual(rules(base({ tls: {} })), ['proxmox/tls']);
  assert.deepEqual(rules(base({ token: { id: 'a@pve!b' } })), ['proxmox/token']);
  assert.deepEqual(rules(base({ token: { id: 'a@pve!b', dotenv: 'secrets.env' } })), ['proxmox/token']);
  assert.deepEqual(rules(base({ machines: [{ ...m[0]!, cores: 16 }] })), ['proxmox/cpus']);
  assert.deepEqual(rules(base({ machines: [{ ...m[0]!, node: 'pve9' }] })), ['proxmox/host']);
  const { wait: _w, ...noWait } = base();
  assert.deepEqual(rules(noWait), ['proxmox/wait']);
  assert.deepEqual(rules(base({ wait: { port: 50000 }, machines: [{ vmid: 421, name: 'x', cores: 1, memory: 1024 }] })), ['proxmox/wait']);
  assert.deepEqual(rules(base({ source: { iso: 'local:iso/x.iso' }, machines: [{ vmid: 421, name: 'x', cores: 1, memory: 1024 }] })), ['proxmox/disk']);
  assert.deepEqual(
    checkBlock(base({ token: { id: 'root@pam!x', secretEnv: 'X' } }), ctx).map((d) => d.severity + ' ' + d.rule),
    ['warning proxmox/token-root'],
  );
  const many = checkBlock(base({ machines: m.map((x) => ({ ...x, cores: 4 })) }), ctx);
  assert.deepEqual(
    many.map((d) => `${d.severity} ${d.rule}`),
    ['warning proxmox/vcpus'],
  );
  assert.match(many[0]!.message, /have 12 vCPUs, more than its 8 CPUs: they will share cores/);
});

test('describe: each machine and the budget of each host, declared or unknown', () => {
  const lines = describeProxmox(base());
  assert.equal(lines[0], 'https://pve:8006: 3 machines, clone of template 9000 (linked), tag castle-tazlab');
  assert.equal(lines[1], 'machine 421 tazlab-cp-01 (controlplane) on pve: 2 vCPUs, 8 GiB, disk 32 GiB, 192.168.1.21');
  assert.equal(lines[4], 'budget pve: memory 24 GiB of 32 GiB (reserve 4 GiB: 28 GiB usable, 4 GiB free), vCPUs 6 of 8 [declared]');
  const { hosts: _h, ...noHosts } = base();
  assert.match(
    describeProxmox(noHosts).at(-1)!,
    /budget pve: memory 24 GiB, vCPUs 6 \(host size unknown: declare hosts\.pve\.memory and cpus for an offline plan\)/,
  );
});

test('the live preflight counts running VMs outside the castle against the host, and makes no change', async () => {
  const r = await rig({ nodes: { pve: { memoryGiB: 32, cpus: 8 } } });
  try {
    process.env['CASTLE_TEST_PVE_SECRET'] = r.secret;
    const c = { ...r.config, tls: { insecure: true }, hosts: { pve: { memory: '32GiB', cpus: 8 } } };
    const pre = {
      castleDir: '/tmp',
      stateDir: r.stateDir,
      castleName: 'tazlab',
      operation: 'up' as const,
      signal: new AbortController().signal,
      steps: [],
      lockHolder: () => undefined,
    };
    const fits = await livePreflight(c, pre);
    assert.deepEqual(
      fits.map((d) => d.rule),
      ['proxmox/insecure'],
      'the insecure TLS is warned about on every run',
    );
    r.server.addVm(600, { name: 'plex', status: 'running', memory: 6144 });
    const over = await livePreflight(c, pre);
    const budget = over.find((d) => d.rule === 'proxmox/budget');
    assert.equal(budget?.severity, 'error');
    assert.equal(
      budget?.message,
      'the castle needs 24 GiB of memory on pve (machines 421, 431, 432) but pve has 32 GiB - 4 GiB reserve - 6 GiB used by VMs outside the castle = 22 GiB: 2 GiB over budget',
    );
    assert.deepEqual(r.server.mutations(), []);
  } finally {
    delete process.env['CASTLE_TEST_PVE_SECRET'];
    await r.close();
  }
});

test('the token secret comes from its environment variable or dotenv file, and a missing one says where it was looked for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castle-pve-secret-'));
  try {
    writeFileSync(join(dir, 'secrets.env'), 'PVE_TOKEN_SECRET=0f1e2d3c-aaaa-bbbb-cccc-123456789abc\n', { mode: 0o600 });
    const fromFile = await tokenSecret(base({ token: { id: 'castle@pve!castle', dotenv: 'secrets.env', key: 'PVE_TOKEN_SECRET' } }), dir);
    assert.deepEqual(fromFile, { ok: true, value: '0f1e2d3c-aaaa-bbbb-cccc-123456789abc' });
    const noKey = await tokenSecret(base({ token: { id: 'castle@pve!castle', dotenv: 'secrets.env', key: 'OTHER' } }), dir);
    assert.match(!noKey.ok ? noKey.reason : '', /secrets\.env.* has no OTHER \(the Proxmox token secret\)/);
    const noEnv = await tokenSecret(base({ token: { id: 'castle@pve!castle', secretEnv: 'CASTLE_TEST_UNSET_VARIABLE' } }), dir);
    assert.match(!noEnv.ok ? noEnv.reason : '', /environment variable CASTLE_TEST_UNSET_VARIABLE, which is not set/);
    const noCa = tlsTrust(base({ tls: { ca: 'missing-ca.pem' } }), dir);
    assert.match(!noCa.ok ? noCa.reason : '', /cannot read the Proxmox CA file .*missing-ca\.pem/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
