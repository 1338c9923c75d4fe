import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { castle, events, runIds } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { tfCastle, tfState } from './helpers.js';

const notes = (dir: string, runId?: string): string[] => events(dir, runId).flatMap((e) => (e.type === 'step-note' ? [`${e.stepId}: ${e.message}`] : []));
const stepLog = (dir: string, step: string): string =>
  readFileSync(join(dir, '.castle', 'runs', runIds(dir).pop()!, 'steps', `${step.replace(/\//g, '__')}.log`), 'utf8');

function listen(port: number): Promise<Server> {
  return new Promise((res) => {
    const s = createServer((c) => c.destroy());
    s.listen(port, '127.0.0.1', () => res(s));
  });
}

test('after a nuclear wipe: ghost state removed before the apply, which then succeeds; a destroy whose cluster is gone is skipped at once', async () => {
  const port = await freePort();
  // the platform's VMs are destroyed out-of-band by the wipe script (the seed's nuclear-wipe.sh); the
  // provider then fails on their ids, as the Proxmox provider does on a VM that no longer exists
  const dir = tfCastle(
    `  - name: platform
    apply: [{terraform.apply: {cwd: platform, ghostAfterWipe: [proxmox_vm_qemu]}}]
    destroy: [{run: "rm -f platform/cloud/proxmox_vm_qemu.*"}]
  - name: apps
    dependsOn: [platform]
    apply: [{terraform.apply: {cwd: apps}}]
    destroy: [{terraform.destroy: {cwd: apps, kubernetes: {server: "127.0.0.1:${port}"}}}]
rebirth:
  proof: [{terraform.plan: {cwd: platform, expectNoChanges: true}}]
`,
    {
      platform: {
        resources: [
          { type: 'proxmox_vm_qemu', name: 'cp', id: '421', goneBehavior: 'error' },
          { type: 'proxmox_vm_qemu', name: 'worker', id: '431', goneBehavior: 'error' },
          { type: 'talos_machine_secrets', name: 'this', id: 'secrets' },
        ],
      },
      apps: { cluster: `127.0.0.1:${port}`, resources: [{ type: 'helm_release', name: 'blog', id: 'blog' }] },
    },
  );
  const api = await listen(port);
  try {
    assert.equal(castle(dir, ['up']).code, 0);
  } finally {
    await new Promise((r) => api.close(r));
  }
  // the cluster went with the wipe: nothing listens there any more

  const rebirth = castle(dir, ['rebirth', '--no-backup', '--i-accept-data-loss']);
  assert.equal(rebirth.code, 0, rebirth.stdout + rebirth.stderr);
  const n = notes(dir);
  assert.ok(
    n.some((x) => x.startsWith('down/apps/0: destroy skipped: the cluster is gone (its API server 127.0.0.1:' + port + ' refuses connections (ECONNREFUSED))')),
    n.join('\n'),
  );
  // only the VMs are ghosts: the machine secrets resource stays in the state and is not re-created
  assert.ok(n.includes('up/platform/0: ghost state: removed 2 (proxmox_vm_qemu.cp, proxmox_vm_qemu.worker)'), n.join('\n'));
  assert.ok(n.includes('up/platform/0: plan: 2 to add, 0 to change, 0 to destroy'));
  assert.match(
    rebirth.stdout,
    /up\/platform\/0 succeeded .* -- 2 ghosts removed from state \(proxmox_vm_qemu\.cp, proxmox_vm_qemu\.worker\); 2 added, 0 changed, 0 destroyed/,
  );
  // the apps layer's destroy was skipped: its resources are removed from the state before it is applied again
  assert.ok(n.includes('up/apps/0: ghost state: removed 1 (helm_release.blog)'), n.join('\n'));
  assert.ok(n.includes('up/apps/0: plan: 1 to add, 0 to change, 0 to destroy'));
  assert.match(
    stepLog(dir, 'up/platform/0'),
    /ghost state \(this rebirth wiped the layer\): 3 in state, 2 to remove \(types proxmox_vm_qemu\)\n[^\n]*state rm proxmox_vm_qemu\.cp proxmox_vm_qemu\.worker[\s\S]*removed from state: proxmox_vm_qemu\.cp\nremoved from state: proxmox_vm_qemu\.worker/,
  );
  assert.deepEqual(
    tfState(dir, 'platform')
      .resources.map((r) => `${r.type}.${r.name}`)
      .sort(),
    ['proxmox_vm_qemu.cp', 'proxmox_vm_qemu.worker', 'talos_machine_secrets.this'],
  );
  assert.ok(existsSync(join(dir, 'platform', 'cloud', 'proxmox_vm_qemu.421.json')), 'the VM exists again');
  // the proof: a plan of the reborn platform finds nothing to change
  const checks = events(dir).flatMap((e) => (e.type === 'check' ? [`${e.name}: ${e.ok} ${e.detail}`] : []));
  assert.deepEqual(checks, ['no drift in platform: true 0 to add, 0 to change, 0 to destroy']);

  // the reborn cluster answers again
  const reborn = await listen(port);
  try {
    // a wipe by `castle down` (the apps destroyed for real this time, their cluster being up), then `castle up`:
    // the down run's summary says the platform layer was wiped after its last apply
    const down = castle(dir, ['down']);
    assert.equal(down.code, 0, down.stdout);
    assert.ok(notes(dir).includes('down/apps/0: destroyed 1'));
    const up = castle(dir, ['up']);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const wipedBy = runIds(dir).at(-2)!;
    assert.match(stepLog(dir, 'up/platform/0'), new RegExp(`ghost state \\(run ${wipedBy} wiped the layer after its last apply\\): 3 in state, 2 to remove`));
    assert.ok(!stepLog(dir, 'up/apps/0').includes('ghost state'), 'a layer destroyed by terraform has no ghosts');
    // and an up with nothing wiped since removes nothing
    assert.equal(castle(dir, ['up']).code, 0);
    assert.ok(!notes(dir).some((x) => x.includes('ghost state')));
    assert.ok(!stepLog(dir, 'up/platform/0').includes('ghost state'));
  } finally {
    await new Promise((r) => reborn.close(r));
  }
});

test('without ghost removal the wiped layer cannot be applied (what the seed lost runs to)', async () => {
  const dir = tfCastle(
    `  - name: platform
    apply: [{terraform.apply: {cwd: platform}}]
    destroy: [{run: "rm -f platform/cloud/proxmox_vm_qemu.*"}]
`,
    { platform: { resources: [{ type: 'proxmox_vm_qemu', name: 'cp', id: '421', goneBehavior: 'error' }] } },
  );
  assert.equal(castle(dir, ['up']).code, 0);
  const r = castle(dir, ['rebirth', '--no-backup', '--i-accept-data-loss']);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /up\/platform\/0 failed .*apply failed: platform\/main\.tf:1:1: Error: proxmox_vm_qemu 421 not found: 500 vm '421' not found \(proxmox_vm_qemu\.cp\)/,
  );
  assert.deepEqual(readdirSync(join(dir, 'platform', 'cloud')), []);
});
