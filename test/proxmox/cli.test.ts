import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { castle, castleAsync, castleDir, summary } from '../helpers/cli.js';
import { FakeProxmox, testTls } from './server.js';
import { TAG, TOKEN_ID } from './harness.js';

const TAZLAB = resolve(fileURLToPath(new URL('../../../examples/tazlab', import.meta.url)));

test('castle plan in examples/tazlab, with no server: the machines, 24 of 32 GiB with the reserve, and the waves', () => {
  const r = castle(TAZLAB, ['plan']);
  assert.equal(r.code, 0, r.stderr);
  for (const id of [421, 431, 432]) assert.match(r.stdout, new RegExp(`proxmox: machine ${id} tazlab-`));
  assert.match(r.stdout, /proxmox: budget pve: memory 24 GiB of 32 GiB \(reserve 4 GiB: 28 GiB usable, 4 GiB free\), vCPUs 6 of 8 \[declared\]/);
  assert.match(
    r.stdout,
    /1\. secrets .*\n\s+2\. machines .*\n\s+3\. platform .*\n\s+4\. networking ~\? \| storage ~\?\n\s+5\. gitops .*\n\s+6\. data .*\n\s+7\. apps/,
  );
  assert.match(r.stdout, /budget 12m/);
});

const machines = (n: number): string =>
  [421, 431, 432, 433, 434]
    .slice(0, n)
    .map((id, i) => `    - {vmid: ${id}, name: m${id}, role: ${i === 0 ? 'controlplane' : 'worker'}, cores: 2, memory: 8GiB}`)
    .join('\n');

function castleYaml(endpoint: string, n: number, hosts = '  hosts: {pve: {memory: 32GiB, cpus: 16}}\n', tls = '{ca: ca.pem}'): string {
  return `name: tazlab
target: proxmox
proxmox:
  endpoint: ${endpoint}
  token: {id: "${TOKEN_ID}", secretEnv: PVE_TOKEN_SECRET}
  tls: ${tls}
  node: pve
${hosts}  reserve: {memory: 4GiB}
  source: {template: 9000}
  tag: ${TAG}
  wait: {agent: true}
  polling: {firstMs: 20, maxMs: 200}
  machines:
${machines(n)}
layers:
  - name: machines
    apply: [{machines: {}}]
    destroy: [{machines: {}}]
`;
}

test("the seed's first attempt (3 control planes + 2 workers at 8 GiB on 32 GiB) is refused at load, with the figures", () => {
  const dir = castleDir(castleYaml('https://127.0.0.1:9', 5));
  const r = castle(dir, ['plan']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /castle\.yaml:\d+:\d+/);
  assert.match(
    r.stderr,
    /the castle needs 40 GiB of memory on pve \(machines 421, 431, 432, 433, 434\) but pve has 32 GiB - 4 GiB reserve = 28 GiB: 12 GiB over budget/,
  );
});

async function withServer(
  fn: (s: FakeProxmox, dir: (yaml: string) => string, env: NodeJS.ProcessEnv) => Promise<void>,
  o: ConstructorParameters<typeof FakeProxmox>[0] = {},
): Promise<void> {
  const server = await new FakeProxmox({ authFailMs: 20, agentMs: 10, ...o }).start();
  try {
    const secret = server.addToken(TOKEN_ID);
    server.addVm(9000, { name: 'talos-template', template: true, tags: 'template', agent: true });
    const { caPem } = await testTls();
    const dir = (yaml: string): string => {
      const d = castleDir(yaml, 'castle-pve-');
      writeFileSync(join(d, 'ca.pem'), caPem);
      return d;
    };
    await fn(server, dir, { PVE_TOKEN_SECRET: secret });
  } finally {
    await server.stop();
  }
}

test('castle up over the live memory budget is refused before any call that changes anything', async () => {
  await withServer(
    async (server, dir, env) => {
      // no hosts declared: only the live node (32 GiB) can tell
      const d = dir(castleYaml(server.endpoint, 4, ''));
      const r = await castleAsync(d, ['up'], env).done;
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /the castle needs 32 GiB of memory on pve \(machines 421, 431, 432, 433\) but pve has 32 GiB - 4 GiB reserve = 28 GiB: 4 GiB over budget/,
      );
      assert.match(r.stderr, /nothing was touched/);
      assert.ok(
        server.requests.some((q) => q.path === '/nodes/pve/status'),
        'the live figures were read',
      );
      assert.deepEqual(server.mutations(), []);
      assert.ok(!r.stderr.includes(env['PVE_TOKEN_SECRET']!) && !r.stdout.includes(env['PVE_TOKEN_SECRET']!));
    },
    { nodes: { pve: { memoryGiB: 32, cpus: 16 } } },
  );
});

test('castle up builds the three machines, castle down wipes them and nothing else; an untagged VM at a spec id stops down in the preflight; then `--adopt 431` takes it', async () => {
  await withServer(async (server, dir, env) => {
    const d = dir(castleYaml(server.endpoint, 3));
    const up = await castleAsync(d, ['up'], env).done;
    assert.equal(up.code, 0, up.stdout + up.stderr);
    for (const id of [421, 431, 432]) assert.equal(server.vms.get(id)?.status, 'running');
    const neighbour = server.addVm(433, { name: 'neighbour', status: 'running' });

    const down = await castleAsync(d, ['down'], env).done;
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.deepEqual(
      [421, 431, 432].filter((id) => server.vms.has(id)),
      [],
    );
    assert.equal(server.vms.get(433), neighbour);
    assert.equal(neighbour.status, 'running');

    // someone puts a VM of their own at 431
    const up2 = await castleAsync(d, ['up'], env).done;
    assert.equal(up2.code, 0, up2.stdout + up2.stderr);
    server.vms.delete(431);
    server.addVm(431, { name: 'handmade', status: 'running' });
    const mark = server.requests.length;
    const refused = await castleAsync(d, ['down'], env).done;
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /VM 431 'handmade' on pve has a VM id of this castle but not its tag/);
    assert.match(refused.stderr, /--adopt 431/);
    assert.deepEqual(
      server.requests.slice(mark).filter((q) => q.method !== 'GET'),
      [],
      'nothing changed',
    );
    assert.deepEqual(
      [421, 431, 432].filter((id) => server.vms.has(id)),
      [421, 431, 432],
    );

    const adopted = await castleAsync(d, ['down', '--adopt', '431'], env).done;
    assert.equal(adopted.code, 0, adopted.stdout + adopted.stderr);
    assert.deepEqual(
      [421, 431, 432].filter((id) => server.vms.has(id)),
      [],
    );
    assert.ok(server.vms.has(433) && server.vms.has(9000));
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
    const secret = env['PVE_TOKEN_SECRET']!;
    for (const f of files(join(d, '.castle'))) assert.ok(!readFileSync(f, 'utf8').includes(secret), `${f} holds the token secret`);
    for (const out of [up, down, refused, adopted]) assert.ok(!out.stdout.includes(secret) && !out.stderr.includes(secret));
  });
});

test('a wipe killed while Proxmox destroys, resumed with --resume, completes', async () => {
  await withServer(
    async (server, dir, env) => {
      const d = dir(castleYaml(server.endpoint, 3, undefined, '{insecure: true}'));
      const up = await castleAsync(d, ['up'], env).done;
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.match(up.stderr, /TLS verification is OFF for the Proxmox API/, 'insecure is warned about on every run');
      server.taskMs['qmdestroy'] = 1500;
      const run = castleAsync(d, ['down'], env);
      while (![421, 431, 432].every((id) => server.vms.get(id)?.config['lock'] === 'destroyed')) await new Promise((r) => setTimeout(r, 10));
      run.child.kill('SIGKILL');
      await run.done;
      assert.deepEqual(
        [421, 431, 432].filter((id) => server.vms.has(id)),
        [421, 431, 432],
        'killed mid-wipe',
      );
      const resumed = await castleAsync(d, ['down', '--resume'], env).done;
      assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
      assert.match(resumed.stderr, /TLS verification is OFF/);
      assert.deepEqual(
        [421, 431, 432].filter((id) => server.vms.has(id)),
        [],
      );
      assert.equal(summary(d)['status'], 'succeeded');
    },
    { taskMs: { qmclone: 20 } },
  );
});

test('through the CLI: a build whose clone dies leaves a locked VM; down reports `qm unlock`; after it, down --resume completes', async () => {
  await withServer(async (server, dir, env) => {
    const d = dir(castleYaml(server.endpoint, 3));
    server.taskFaults.push({ type: 'qmclone', vmid: 431, mode: 'crash' });
    const up = await castleAsync(d, ['up'], env).done;
    assert.equal(up.code, 1, up.stdout + up.stderr);
    assert.match(up.stdout + up.stderr, /task qmclone on pve failed: unexpected status/);
    assert.equal(server.vms.get(431)?.config['lock'], 'clone');
    const down = await castleAsync(d, ['down'], env).done;
    assert.equal(down.code, 1, down.stdout + down.stderr);
    assert.match(down.stdout + down.stderr, /VM 431 on pve is locked \(clone\) and no running task holds the lock/);
    assert.match(down.stdout + down.stderr, /qm unlock 431/);
    assert.deepEqual(
      [421, 431, 432].filter((id) => server.vms.has(id)),
      [431],
    );
    server.unlock(431);
    const resumed = await castleAsync(d, ['down', '--resume'], env).done;
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.deepEqual(
      [421, 431, 432].filter((id) => server.vms.has(id)),
      [],
    );
  });
});
