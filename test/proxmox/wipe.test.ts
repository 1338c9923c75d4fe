import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMachines } from '../../src/targets/proxmox/machines.js';
import { wipe } from '../../src/targets/proxmox/wipe.js';
import { recorder, rig, TAG } from './harness.js';

const castleVms = (ids: Iterable<number>): number[] => [...ids].filter((id) => id === 421 || id === 431 || id === 432);

test('the wipe destroys every VM of the castle in parallel and nothing else: a foreign VM at a neighbouring id survives', async () => {
  const r = await rig({ taskMs: { qmstop: 300, qmdestroy: 400 } });
  try {
    assert.ok((await applyMachines(await r.session(), recorder())).ok);
    const neighbour = r.server.addVm(422, { name: 'someone-else', status: 'running', tags: 'prod' });
    const other = r.server.addVm(433, { name: 'other-castle', status: 'stopped', tags: 'castle-other' });
    const mark = r.server.requests.length;
    const ctx = recorder();
    const res = await wipe(await r.session(), ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    assert.deepEqual(castleVms(r.server.vms.keys()), [], 'nothing of the castle left');
    assert.equal(r.server.vms.get(422), neighbour);
    assert.equal(neighbour.status, 'running');
    assert.equal(r.server.vms.get(433), other);
    assert.ok(r.server.vms.has(9000), 'the template survives');
    const touched = r.server.requests
      .slice(mark)
      .filter((q) => q.method !== 'GET')
      .map((q) => `${q.method} ${q.path}`);
    assert.ok(
      touched.every((t) => /\/qemu\/(421|431|432)[/]?/.test(t)),
      touched.join('\n'),
    );
    const destroys = r.server.requests.slice(mark).filter((q) => q.method === 'DELETE');
    assert.equal(destroys.length, 3);
    for (const d of destroys) assert.deepEqual({ purge: d.params['purge'], disks: d.params['destroy-unreferenced-disks'] }, { purge: '1', disks: '1' });
    assert.equal(r.server.maxRunning.get('qmdestroy'), 3, 'the three destroys ran at the same time');
    assert.equal(r.server.maxRunning.get('qmstop'), 3, 'the three hard stops ran at the same time');
    assert.ok(ctx.checks.some((c) => c.name === 'proxmox: nothing of the castle left' && c.ok));
    // a second wipe finds nothing and changes nothing
    const again = await wipe(await r.session(), recorder());
    assert.ok(again.ok && /no VM of the castle/.test(again.summary ?? ''));
  } finally {
    await r.close();
  }
});

test('an untagged VM at a spec id stops the wipe before any change and says how to adopt it; adopting it lets the wipe take it', async () => {
  const r = await rig();
  try {
    assert.ok((await applyMachines(await r.session(), recorder())).ok);
    // 431 is replaced by a VM the castle did not make (no tag)
    r.server.vms.delete(431);
    const intruder = r.server.addVm(431, { name: 'handmade', status: 'running' });
    const mark = r.server.requests.length;
    const res = await wipe(await r.session(), recorder());
    assert.equal(res.ok, false);
    const reason = res.ok ? '' : res.reason;
    assert.match(reason, /VM 431 'handmade' on pve has a VM id of this castle but not its tag 'castle-tazlab' \(it has no tags\)/);
    assert.match(reason, /adopt: \[431\]/);
    assert.match(reason, /--adopt 431/);
    assert.equal(res.ok ? undefined : res.retryable, false);
    assert.deepEqual(
      r.server.requests.slice(mark).filter((q) => q.method !== 'GET'),
      [],
      'no call that changes anything',
    );
    assert.deepEqual(castleVms(r.server.vms.keys()).sort(), [421, 431, 432], 'everything survives');
    assert.equal(intruder.status, 'running');

    const adopted = await wipe(await r.session({ adopt: [431] }), recorder());
    assert.ok(adopted.ok, adopted.ok ? '' : adopted.reason);
    assert.deepEqual(castleVms(r.server.vms.keys()), []);
  } finally {
    await r.close();
  }
});

test('the build refuses a spec id held by a VM the castle does not own, before any change', async () => {
  const r = await rig();
  try {
    r.server.addVm(432, { name: 'handmade', tags: 'mine' });
    const res = await applyMachines(await r.session(), recorder());
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.reason, /VM 432 'handmade' .* \(its tags: mine\)/);
    assert.deepEqual(r.server.mutations(), []);
  } finally {
    await r.close();
  }
});

test('a wipe after an interrupted clone: the locked VM with no task holding the lock is reported with `qm unlock`; once unlocked, the wipe resumes and completes', async () => {
  const r = await rig();
  try {
    // the clone worker of 431 dies: its VM stays, untagged, with `lock: clone`
    r.server.taskFaults.push({ type: 'qmclone', vmid: 431, mode: 'crash' });
    const up = await applyMachines(await r.session(), recorder());
    assert.equal(up.ok, false);
    assert.match(up.ok ? '' : up.reason, /VM 431 .*task qmclone on pve failed: unexpected status/);
    assert.equal(r.server.vms.get(431)?.config['lock'], 'clone');
    assert.equal(r.server.vms.get(431)?.config['tags'], undefined, 'the interrupted clone carries no tag');

    const res = await wipe(await r.session(), recorder());
    assert.equal(res.ok, false);
    const reason = res.ok ? '' : res.reason;
    assert.match(reason, /VM 431 on pve is locked \(clone\) and no running task holds the lock/);
    assert.match(reason, /qm unlock 431/);
    assert.equal(res.ok ? undefined : res.retryable, false, 'waiting cannot help');
    assert.deepEqual(castleVms(r.server.vms.keys()), [431], 'the other machines were destroyed');

    r.server.unlock(431); // what the owner does on the node
    const s = await r.session();
    assert.deepEqual([...s.journal.read().keys()], [431], "the record of the interrupted clone is what makes 431 the castle's");
    const resumed = await wipe(s, recorder());
    assert.ok(resumed.ok, resumed.ok ? '' : resumed.reason);
    assert.deepEqual(castleVms(r.server.vms.keys()), []);
    assert.equal(s.journal.read().size, 0, 'no record outlives its VM');
  } finally {
    await r.close();
  }
});

test('a wipe after a build interrupted mid-clone waits for the clone that holds the lock, then destroys it', async () => {
  const r = await rig({ taskMs: { qmclone: 400 } });
  try {
    const ac = new AbortController();
    const up = applyMachines(await r.session(), recorder(ac.signal));
    while (![421, 431, 432].every((id) => r.server.vms.get(id)?.config['lock'] === 'clone')) await new Promise((res) => setTimeout(res, 5));
    ac.abort(); // the run is interrupted while Proxmox clones
    const interrupted = await up;
    assert.equal(interrupted.ok, false);
    assert.ok(
      [...r.server.tasks.values()].some((t) => t.type === 'qmclone' && t.status === 'running'),
      'the clones go on in Proxmox',
    );

    const ctx = recorder();
    const res = await wipe(await r.session(), ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    assert.ok(
      ctx.logs.some((l) => /VM 431 is locked \(clone\): waiting for task qmclone/.test(l)),
      ctx.logs.join(''),
    );
    assert.deepEqual(castleVms(r.server.vms.keys()), []);
  } finally {
    await r.close();
  }
});

test('an interrupted wipe, resumed, completes: the destroys still running are waited for', async () => {
  const r = await rig({ taskMs: { qmdestroy: 400 } });
  try {
    assert.ok((await applyMachines(await r.session(), recorder())).ok);
    const ac = new AbortController();
    const first = wipe(await r.session(), recorder(ac.signal));
    while (![421, 431, 432].every((id) => r.server.vms.get(id)?.config['lock'] === 'destroyed')) await new Promise((res) => setTimeout(res, 5));
    ac.abort();
    assert.equal((await first).ok, false);
    assert.deepEqual(castleVms(r.server.vms.keys()).sort(), [421, 431, 432], 'interrupted while Proxmox destroys');

    const ctx = recorder();
    const resumed = await wipe(await r.session(), ctx);
    assert.ok(resumed.ok, resumed.ok ? '' : resumed.reason);
    assert.ok(
      ctx.logs.some((l) => /VM 421 is locked \(destroyed\): waiting for task qmdestroy/.test(l)),
      ctx.logs.join(''),
    );
    assert.deepEqual(castleVms(r.server.vms.keys()), []);
    assert.ok(r.server.vms.has(9000));
    assert.equal(r.server.vms.get(9000)!.config['tags'], 'talos;template', 'the template keeps its own tags');
    void TAG;
  } finally {
    await r.close();
  }
});

test('a destroy or stop task that loses a lock race is started again', async () => {
  const r = await rig();
  try {
    assert.ok((await applyMachines(await r.session(), recorder())).ok);
    r.server.taskFaults.push({ type: 'qmdestroy', vmid: 421, mode: 'fail', message: "can't lock file '/var/lock/qemu-server/lock-421.conf' - got timeout" });
    r.server.taskFaults.push({ type: 'qmstop', vmid: 432, mode: 'fail', message: "can't lock file '/var/lock/qemu-server/lock-432.conf' - got timeout" });
    const ctx = recorder();
    const res = await wipe(await r.session(), ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    assert.deepEqual(castleVms(r.server.vms.keys()), []);
    assert.ok(
      ctx.logs.some((l) => /destroying VM 421: can't lock file .* \(lock contention, retry 1/.test(l)),
      ctx.logs.join(''),
    );
    assert.ok(
      ctx.logs.some((l) => /stopping VM 432: can't lock file .* \(lock contention, retry 1/.test(l)),
      ctx.logs.join(''),
    );
  } finally {
    await r.close();
  }
});

test('with `unlock:` (root@pam), the wipe clears the stale lock of an interrupted clone itself, with a ticket, and completes', async () => {
  const r = await rig();
  try {
    r.server.taskFaults.push({ type: 'qmclone', vmid: 431, mode: 'crash' });
    assert.equal((await applyMachines(await r.session(), recorder())).ok, false);
    assert.equal(r.server.vms.get(431)?.config['lock'], 'clone');
    const ctx = recorder();
    const res = await wipe(await r.session({ unlock: { user: 'root@pam', passwordEnv: 'UNUSED_IN_TESTS' } }), ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    assert.deepEqual(castleVms(r.server.vms.keys()), []);
    assert.ok(
      ctx.logs.some((l) => /VM 431 on pve is locked \(clone\) and no task holds the lock: clearing it as root@pam/.test(l)),
      ctx.logs.join(''),
    );
    const unlock = r.server.requests.find((q) => q.method === 'PUT' && q.path === '/nodes/pve/qemu/431/config');
    assert.deepEqual(unlock && { delete: unlock.params['delete'], skiplock: unlock.params['skiplock'], status: unlock.status }, {
      delete: 'lock',
      skiplock: '1',
      status: 200,
    });
    assert.ok(r.server.requests.some((q) => q.path === '/access/ticket' && q.status === 200));
    assert.deepEqual(
      r.server.requests.filter((q) => q.status === 400 || q.status === 401),
      [],
      'the login and the unlock fit the schema and the auth rules',
    );
  } finally {
    await r.close();
  }
});

test("a VM carrying the castle's tag but no longer in the spec is the castle's and goes with the wipe", async () => {
  const r = await rig();
  try {
    r.server.addVm(440, { name: 'old-worker', tags: `${TAG};talos`, status: 'running' });
    const ctx = recorder();
    const res = await wipe(await r.session(), ctx);
    assert.ok(res.ok, res.ok ? '' : res.reason);
    assert.equal(r.server.vms.has(440), false);
    assert.ok(ctx.logs.some((l) => /VM 440 \(old-worker\) carries the castle's tag but is not in the spec: destroyed as the castle's/.test(l)));
    assert.ok(r.server.vms.has(9000));
  } finally {
    await r.close();
  }
});
