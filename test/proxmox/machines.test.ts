import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMachines } from '../../src/targets/proxmox/machines.js';
import { recorder, rig, TAG } from './harness.js';

test('a clean build clones, tags, starts and waits for the three machines in parallel; a second run reuses them', async () => {
  // tasks long enough that the three pipelines overlap even on a loaded machine
  const r = await rig({ taskMs: { qmclone: 400, qmstart: 400 } });
  try {
    const s = await r.session();
    const ctx = recorder();
    const res = await applyMachines(s, ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    assert.match(res.summary ?? '', /3 machines running \(3 created, 0 reused\)/);
    assert.equal(r.server.maxRunning.get('qmclone'), 3, 'the three clones ran at the same time');
    assert.equal(r.server.maxRunning.get('qmstart'), 3, 'the three starts ran at the same time');
    for (const [vmid, name, ip] of [
      [421, 'tazlab-cp-01', '192.168.1.21'],
      [431, 'tazlab-worker-01', '192.168.1.31'],
      [432, 'tazlab-worker-02', '192.168.1.32'],
    ] as const) {
      const vm = r.server.vms.get(vmid)!;
      assert.equal(vm.status, 'running');
      assert.equal(vm.config['name'], name);
      assert.equal(vm.config['memory'], '8192');
      assert.equal(vm.config['cores'], '2');
      assert.equal(vm.config['lock'], undefined);
      assert.ok(vm.config['tags']!.split(';').includes(TAG), `VM ${vmid} carries the castle's tag: ${vm.config['tags']}`);
      assert.equal(vm.config['ipconfig0'], `ip=${ip}/24,gw=192.168.1.1`);
      assert.match(vm.config['net0']!, /^virtio=[0-9A-F:]{17},bridge=vmbr0$/);
      assert.match(vm.config['scsi0']!, /size=32G/, 'the 8G template disk was grown to 32G');
    }
    assert.equal(s.journal.read().size, 0, 'nothing left in flight');
    // every task was followed to its end, so none is running
    assert.deepEqual(
      [...r.server.tasks.values()].filter((t) => t.status === 'running'),
      [],
    );

    const before = r.server.mutations().length;
    const again = await applyMachines(await r.session(), recorder());
    assert.ok(again.ok, again.ok ? '' : again.reason);
    assert.match(again.summary ?? '', /0 created, 3 reused/);
    const second = r.server.mutations().slice(before);
    assert.deepEqual(
      second.filter((q) => q.path.endsWith('/clone') || q.path.endsWith('/status/start')),
      [],
      'nothing cloned or started again',
    );
  } finally {
    await r.close();
  }
});

test('lock contention on the template, a 596 and a lock timeout on the config are retried', async () => {
  const r = await rig();
  try {
    r.server.taskFaults.push({
      type: 'qmclone',
      vmid: 431,
      mode: 'fail',
      message: "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout",
      times: 1,
    });
    r.server.faults.push({ method: 'POST', path: '/qemu/9000/clone', status: 596, reason: 'Broken pipe', times: 1 });
    r.server.faults.push({
      method: 'PUT',
      path: '/qemu/432/config',
      status: 500,
      reason: "can't lock file '/var/lock/qemu-server/lock-432.conf' - got timeout",
      body: { data: null },
      times: 2,
    });
    const s = await r.session();
    const ctx = recorder();
    const res = await applyMachines(s, ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    for (const id of [421, 431, 432]) assert.equal(r.server.vms.get(id)?.status, 'running');
    assert.ok(
      ctx.logs.some((l) => /VM 431: can't lock file '\/var\/lock\/qemu-server\/lock-9000.conf' - got timeout \(lock contention, retry 1/.test(l)),
      ctx.logs.join(''),
    );
    const clones431 = r.server.requests.filter((q) => q.path === '/nodes/pve/qemu/9000/clone' && q.params['newid'] === '431' && q.status === 200);
    assert.equal(clones431.length, 2, 'the clone whose task lost the lock race was sent again');
    assert.equal(
      r.server.requests.filter((q) => q.path === '/nodes/pve/qemu/432/config' && q.method === 'PUT').length,
      3,
      'two lock timeouts, then the config',
    );
  } finally {
    await r.close();
  }
});

test("a machine on a slow second node is cloned there from the template's node (target) beside the others", async () => {
  const r = await rig({
    nodes: { pve: { memoryGiB: 64, cpus: 16 }, pve2: { memoryGiB: 64, cpus: 16, delayMs: 50 } },
    machines: [
      { vmid: 421, name: 'cp', cores: 2, memory: '8GiB' },
      { vmid: 431, name: 'w1', cores: 2, memory: '8GiB', node: 'pve2' },
    ],
    block: { hosts: { pve: { memory: '64GiB', cpus: 16 }, pve2: { memory: '64GiB', cpus: 16 } } },
  });
  try {
    const res = await applyMachines(await r.session(), recorder());
    assert.ok(res.ok, res.ok ? '' : res.reason);
    assert.equal(r.server.vms.get(431)?.node, 'pve2');
    assert.equal(r.server.vms.get(431)?.status, 'running', 'the machine on the slow node was built');
    assert.ok(r.server.vms.get(431)!.config['tags']!.split(';').includes(TAG));
    const clone = r.server.requests.find((q) => q.path === '/nodes/pve/qemu/9000/clone' && q.params['newid'] === '431');
    assert.equal(clone?.params['target'], 'pve2');
    assert.ok(
      r.server.requests.some((q) => q.path.startsWith('/nodes/pve2/qemu/431/status/start')),
      'started on its own node',
    );
  } finally {
    await r.close();
  }
});

test('a clone whose answer was lost (596 after Proxmox started it) is not cloned twice: the retry finds the VM, waits for its clone and takes it', async () => {
  const r = await rig({ taskMs: { qmclone: 300 } });
  try {
    r.server.faults.push({ method: 'POST', path: '/qemu/9000/clone', status: 596, reason: 'Connection timed out', after: true, times: 1 });
    const ctx = recorder();
    const res = await applyMachines(await r.session(), ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    const clones = r.server.requests.filter((q) => q.path.endsWith('/clone'));
    assert.deepEqual(clones.map((q) => q.status).sort(), [200, 200, 500, 596], 'the lost one was sent again and refused as existing');
    const lost = clones.find((q) => q.status === 596)!.params['newid'];
    assert.ok(
      ctx.logs.some((l) => new RegExp(`VM ${lost} is locked \\(clone\\): waiting for task qmclone`).test(l)),
      ctx.logs.join(''),
    );
    assert.equal([...r.server.tasks.values()].filter((t) => t.type === 'qmclone').length, 3, 'three clones in all');
    for (const id of [421, 431, 432]) assert.ok(r.server.vms.get(id)!.config['tags']!.split(';').includes(TAG));
  } finally {
    await r.close();
  }
});
