import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PveApi } from '../../src/targets/proxmox/api.js';
import { applyMachines } from '../../src/targets/proxmox/machines.js';
import { followTask, parseUpid } from '../../src/targets/proxmox/tasks.js';
import { wipe } from '../../src/targets/proxmox/wipe.js';
import { recorder, rig, TOKEN_ID } from './harness.js';
import { checkParams, loadSchema, matchEndpoint } from './schema.js';
import { testTls } from './server.js';

test('every call Castle makes in a build, a reuse and a wipe fits the official API schema (method, path, parameters)', async () => {
  const r = await rig();
  try {
    const s = await r.session();
    assert.ok((await applyMachines(s, recorder())).ok);
    assert.ok((await applyMachines(s, recorder())).ok);
    assert.ok((await wipe(s, recorder())).ok);
    const schema = loadSchema();
    const seen = new Set<string>();
    assert.ok(s.api.journal.length > 20);
    for (const call of s.api.journal) {
      const ep = matchEndpoint(schema, call.method, call.path);
      assert.ok(ep, `${call.method} ${call.path} is not in the schema subset`);
      seen.add(ep.key);
      const errors = checkParams(ep.endpoint, { ...call.params, ...ep.pathParams });
      assert.deepEqual(errors, {}, `${call.method} ${call.path} ${JSON.stringify(call.params)}`);
      if (call.auth === 'token') assert.equal(ep.endpoint.allowtoken, 1, `${ep.key} must allow API tokens`);
    }
    for (const k of [
      'POST /nodes/{node}/qemu/{vmid}/clone',
      'PUT /nodes/{node}/qemu/{vmid}/config',
      'DELETE /nodes/{node}/qemu/{vmid}',
      'GET /nodes/{node}/tasks/{upid}/status',
      'GET /cluster/resources',
    ])
      assert.ok(seen.has(k), `${k} was called`);
    // the server checked the same calls: none was refused
    assert.deepEqual(
      r.server.requests.filter((q) => q.status === 400),
      [],
    );
  } finally {
    await r.close();
  }
});

test('the ISO path (create with disk, cloud-init drive and CD-ROM) fits the schema and builds the machine', async () => {
  const r = await rig({
    machines: [{ vmid: 421, name: 'iso-made', cores: 2, memory: 2048, disk: '20GiB', ip: '192.168.1.21' }],
    block: { source: { iso: 'local:iso/talos-nocloud.iso' } },
  });
  try {
    const s = await r.session();
    const res = await applyMachines(s, recorder());
    assert.ok(res.ok, res.ok ? '' : res.reason);
    const vm = r.server.vms.get(421)!;
    assert.match(vm.config['scsi0']!, /^local-lvm:vm-421-disk-scsi0,size=20G$/);
    assert.equal(vm.config['ide2'], 'local:iso/talos-nocloud.iso,media=cdrom');
    assert.equal(vm.config['tags'], 'castle-tazlab');
    assert.equal(vm.status, 'running');
    const schema = loadSchema();
    for (const call of s.api.journal) {
      const ep = matchEndpoint(schema, call.method, call.path)!;
      assert.deepEqual(checkParams(ep.endpoint, { ...call.params, ...ep.pathParams }), {}, `${call.method} ${call.path}`);
    }
  } finally {
    await r.close();
  }
});

test('the test server answers as Proxmox does: 400 with the errors map, root-only options, sync and task errors, 401 without a body', async () => {
  const r = await rig();
  try {
    const s = await r.session();
    const api = s.api;
    const bad = await api.post('/nodes/pve/qemu/9000/clone', { newid: 99, full: 'true' });
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.status === 400);
    assert.deepEqual(!bad.ok && bad.errors, {
      newid: 'invalid format - value does not look like a valid VM ID\n',
      full: "type check ('boolean') failed - got 'true'",
    });
    const extra = await api.get('/cluster/resources', { type: 'vm', foo: 1 });
    assert.deepEqual(!extra.ok && extra.errors, { foo: 'property is not defined in schema and the schema does not allow additional properties' });
    const tag = await api.put('/nodes/pve/qemu/9000/config', { tags: 'Bad Tag!' });
    assert.deepEqual(!tag.ok && tag.errors, { tags: 'invalid format - invalid characters in tag\n' });
    const net = await api.put('/nodes/pve/qemu/9000/config', { net0: 'virtio,bridge=vmbr0,tag=5000' });
    assert.match(!net.ok ? (net.errors?.['net0'] ?? '') : '', /tag: value must have a maximum value of 4094/);
    const skip = await api.delete('/nodes/pve/qemu/9000', { skiplock: 1 });
    assert.deepEqual(!skip.ok && skip.errors, { skiplock: 'Only root may use this option.' });
    const unlock = await api.put('/nodes/pve/qemu/9000/config', { delete: 'lock' });
    assert.ok(!unlock.ok && unlock.status === 500 && /only root can set 'lock' config/.test(unlock.reason), 'a token cannot clear a lock');

    r.server.addVm(500, { name: 'running', status: 'running' });
    const running = await api.delete('/nodes/pve/qemu/500', { purge: 1 });
    assert.ok(!running.ok && running.status === 500 && /VM 500 is running - destroy failed/.test(running.reason));
    const exists = await api.post('/nodes/pve/qemu/9000/clone', { newid: 500 });
    assert.ok(!exists.ok && /unable to create VM 500: config file already exists/.test(exists.reason));
    const created = await api.post('/nodes/pve/qemu', { vmid: 500, name: 'again' });
    assert.ok(!created.ok && /unable to create VM 500 - VM 500 already exists on node 'pve'/.test(created.reason));
    const missing = await api.get('/nodes/pve/qemu/777/status/current');
    assert.ok(!missing.ok && /Configuration file 'nodes\/pve\/qemu-server\/777.conf' does not exist/.test(missing.reason));

    // the clone's VM is locked at once; the clone's task is listed under the template's id
    const upid = await api.post<string>('/nodes/pve/qemu/9000/clone', { newid: 501, name: 'c501' });
    assert.ok(upid.ok);
    const u = parseUpid(upid.value)!;
    assert.deepEqual({ node: u.node, type: u.type, id: u.id, user: u.user }, { node: 'pve', type: 'qmclone', id: '9000', user: TOKEN_ID });
    assert.match(upid.value, /:$/);
    const locked = await api.put('/nodes/pve/qemu/501/config', { cores: 2 });
    assert.ok(!locked.ok && /VM is locked \(clone\)/.test(locked.reason));
    const wrongNode = await api.get(`/nodes/pve2/tasks/${encodeURIComponent(upid.value)}/status`);
    assert.ok(!wrongNode.ok);
    assert.ok((await followTask(api, upid.value, { what: 'clone', polling: s.polling })).ok);
    const start = await api.post<string>('/nodes/pve/qemu/501/status/start');
    assert.ok(start.ok && (await followTask(api, start.value, { what: 'start', polling: s.polling })).ok);
    const again = await api.post<string>('/nodes/pve/qemu/501/status/start');
    assert.ok(again.ok);
    const second = await followTask(api, again.value, { what: 'start', polling: s.polling });
    assert.equal(second.ok, false);
    assert.match(
      !second.ok ? second.reason : '',
      /task qmstart on pve failed: VM 501 already running\n {2}task log \(last lines\):\n {4}TASK ERROR: VM 501 already running/,
    );

    const tls = await testTls();
    const wrong = new PveApi({
      endpoint: r.server.endpoint,
      tokenId: TOKEN_ID,
      tokenSecret: 'not-the-secret',
      trust: { kind: 'ca', caPem: tls.caPem },
      backoffMs: 10,
    });
    const denied = await wrong.get('/cluster/resources', { type: 'vm' });
    wrong.close();
    assert.ok(!denied.ok && denied.status === 401);
    assert.match(!denied.ok ? denied.reason : '', /authentication failed \(Authentication failed!\)/);
    assert.ok(!(!denied.ok && denied.reason.includes('not-the-secret')));
  } finally {
    await r.close();
  }
});

test('TLS: the CA file and the pinned fingerprint are accepted; a wrong fingerprint stops the call before the token is sent', async () => {
  const r = await rig();
  try {
    const tls = await testTls();
    const pinned = new PveApi({
      endpoint: r.server.endpoint,
      tokenId: TOKEN_ID,
      tokenSecret: r.secret,
      trust: { kind: 'fingerprint', sha256: tls.fingerprint },
    });
    assert.ok((await pinned.get('/cluster/resources', { type: 'vm' })).ok);
    pinned.close();
    const noCa = new PveApi({ endpoint: r.server.endpoint, tokenId: TOKEN_ID, tokenSecret: r.secret, trust: { kind: 'ca', caPem: '' }, attempts: 1 });
    const refused = await noCa.get('/cluster/resources', { type: 'vm' });
    noCa.close();
    assert.equal(refused.ok, false, 'a certificate the CA did not sign is refused');
    const before = r.server.requests.length;
    const other = tls.fingerprint.replace(/^../, tls.fingerprint.startsWith('00') ? '11' : '00');
    const wrong = new PveApi({ endpoint: r.server.endpoint, tokenId: TOKEN_ID, tokenSecret: r.secret, trust: { kind: 'fingerprint', sha256: other } });
    const res = await wrong.get('/cluster/resources', { type: 'vm' });
    wrong.close();
    assert.equal(res.ok, false);
    assert.match(!res.ok ? res.reason : '', /certificate fingerprint is .*, not the pinned one/);
    assert.equal(r.server.requests.length, before, 'no request reached the server');
  } finally {
    await r.close();
  }
});
