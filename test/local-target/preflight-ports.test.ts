import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenersOn, parseTcpTable } from '../../src/os/listeners.js';
import { processesUsing } from '../../src/os/processes.js';
import { claimCastle, judgeOwnership, ownerOfProcess, readOwner, stopCommand, writeOwner, type CastleOwner } from '../../src/targets/local/identity.js';
import { checkPorts } from '../../src/targets/local/preflight-ports.js';
import { localPreflight, reachDiagnostics } from '../../src/targets/local/preflight.js';
import { liveLockHolder } from '../../src/engine/lock.js';
import { requirement } from '../helpers/requires.js';
import { freePort } from '../helpers/ports.js';

const ROOT = requirement(process.getuid?.() === 0, 'needs root: only then do the daemons run as another user');

// A listener like `nc -l`: a node TCP server on 127.0.0.1, with extra words on its command line (a castle's daemons name their folders there).
async function listener(port: number, ...words: string[]): Promise<ChildProcess & { pid: number }> {
  const code = `require('net').createServer().listen(Number(process.argv[1]), '127.0.0.1', () => console.log('ready'))`;
  const child = spawn(process.execPath, ['-e', code, String(port), ...words], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (c) => reject(new Error(`listener exited with ${c}`)));
  });
  return child as ChildProcess & { pid: number };
}

function tempBase(t: { after(fn: () => void): void }): string {
  const base = mkdtempSync(join(tmpdir(), 'castle-ports-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  return base;
}

function ownerIn(base: string, name: string): CastleOwner {
  const castleDir = join(base, name, 'castle');
  mkdirSync(castleDir, { recursive: true });
  writeFileSync(join(castleDir, 'castle.yaml'), `name: ${name}\n`);
  return {
    name,
    castleDir,
    stateDir: join(castleDir, '.castle'),
    dataDir: join(base, name, 'data'),
    objectStoreDir: join(base, name, 's3'),
    cli: '/opt/castle/dist/src/cli/main.js',
    since: new Date().toISOString(),
  };
}

test('/proc/net/tcp and tcp6 tables: listening sockets with address, port, uid and inode', () => {
  const v4 =
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: 0100007F:3C50 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 31337 1 0000000000000000 100 0 0 10 0\n' +
    '   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n' +
    '   2: 0100007F:3C50 0100007F:D431 01 00000000:00000000 00:00000000 00000000   104        0 0 1 0000000000000000 20 4 30 10 -1\n';
  assert.deepEqual(parseTcpTable(v4, 4), [
    { address: '127.0.0.1', port: 15440, uid: 104, inode: 31337 },
    { address: '0.0.0.0', port: 8080, uid: 0, inode: 4242 },
  ]);
  const v6 =
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: 00000000000000000000000001000000:3C50 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 777 1 0000000000000000 100 0 0 10 0\n' +
    '   1: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 100 0 0 10 0\n' +
    '   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 779 1 0000000000000000 100 0 0 10 0\n';
  assert.deepEqual(parseTcpTable(v6, 6), [
    { address: '::1', port: 15440, uid: 999, inode: 777 },
    { address: '::', port: 8443, uid: 0, inode: 778 },
    { address: '::ffff:127.0.0.1', port: 8080, uid: 0, inode: 779 },
  ]);
});

test('a port held by a foreign process: the error names the port, its pid and command line, and says it is no castle', async (t) => {
  const port = await freePort();
  const nc = await listener(port, '--pretend-nc');
  t.after(() => nc.kill());
  const found = listenersOn([port]);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]!.address, '127.0.0.1');
  assert.deepEqual(
    found[0]!.processes.map((p) => p.pid),
    [nc.pid],
  );
  assert.match(found[0]!.processes[0]!.cmdline, /--pretend-nc$/);

  const base = tempBase(t);
  const d = checkPorts([{ port, what: 'postgres', setting: 'local.ports.postgres' }], {
    name: 'local',
    dataDir: join(base, 'data'),
    objectStoreDir: join(base, 's3'),
  });
  assert.equal(d.length, 1);
  assert.equal(d[0]!.severity, 'error');
  assert.equal(d[0]!.rule, 'local/port-in-use');
  assert.match(
    d[0]!.message,
    new RegExp(`^port ${port} \\(postgres\\) is held by pid ${nc.pid} \\(.*${String(port)} --pretend-nc\\) of user root, which is not a castle's process$`),
  );
  assert.equal(d[0]!.hint, `stop it (\`kill ${nc.pid}\`), or give this castle another port (local.ports.postgres in castle.yaml)`);
  // a free port and a port set twice
  const free = await freePort();
  const twice = checkPorts(
    [
      { port: free, what: 'pgbouncer', setting: 'local.ports.pgbouncer' },
      { port: free, what: 'blog', setting: "the blog step's port" },
    ],
    { name: 'local', dataDir: join(base, 'data'), objectStoreDir: join(base, 's3') },
  );
  assert.deepEqual(
    twice.map((x) => x.rule),
    ['local/port-twice'],
  );
});

test("a port held by another castle names that castle and the command that stops it; the castle's own daemon is no error", async (t) => {
  const base = tempBase(t);
  const other = ownerIn(base, 'other');
  assert.ok(writeOwner(other).ok);
  const port = await freePort();
  const pgdata = join(other.dataDir, 'postgres', 'blog-db', 'pgdata');
  const pg = await listener(port, '-D', pgdata);
  t.after(() => pg.kill());
  assert.equal(ownerOfProcess(`/usr/lib/postgresql/15/bin/postgres -D ${pgdata}`)?.castleDir, other.castleDir);
  assert.equal(ownerOfProcess(`node daemon.js --dir=${other.objectStoreDir}`)?.name, 'other');
  assert.equal(ownerOfProcess('/usr/bin/nc -l 5432'), undefined);

  const mine = ownerIn(base, 'mine');
  const d = checkPorts([{ port, what: 'postgres', setting: 'local.ports.postgres' }], {
    name: 'mine',
    dataDir: mine.dataDir,
    objectStoreDir: mine.objectStoreDir,
  });
  assert.equal(d.length, 1);
  assert.match(
    d[0]!.message,
    new RegExp(
      `^port ${port} \\(postgres\\) is held by pid ${pg.pid} \\(.* -D ${pgdata}\\), a process of castle 'other' in ${other.castleDir} \\(data ${other.dataDir}\\)$`,
    ),
  );
  assert.equal(
    d[0]!.hint,
    `stop that castle: \`cd ${other.castleDir} && node /opt/castle/dist/src/cli/main.js down\`, or give this castle another port (local.ports.postgres in castle.yaml)`,
  );
  assert.equal(stopCommand({ ...other, castleDir: "/tmp/it's here", cli: '/usr/bin/castle' }), `cd '/tmp/it'\\''s here' && /usr/bin/castle down`);

  // seen from the castle that owns it, the daemon is its own: up reuses it
  assert.deepEqual(
    checkPorts([{ port, what: 'postgres', setting: 'local.ports.postgres' }], { name: 'other', dataDir: other.dataDir, objectStoreDir: other.objectStoreDir }),
    [],
  );
});

test('one castle per name: a second folder is refused while the first runs it, takes it over when idle or when the first folder is gone', async (t) => {
  const base = tempBase(t);
  const first = ownerIn(base, 'local');
  const secondDir = join(base, 'second', 'castle');
  mkdirSync(secondDir, { recursive: true });
  const { dataDir, objectStoreDir } = first;
  const input = { dataDir, objectStoreDir, ports: [] };

  assert.deepEqual(judgeOwnership(dataDir, objectStoreDir, first.castleDir, liveLockHolder), { state: 'unclaimed' });
  assert.deepEqual(localPreflight(input, { castleDir: first.castleDir, castleName: 'local', lockHolder: liveLockHolder }), []);
  assert.ok(claimCastle({ ...input, cli: first.cli }, { castleDir: first.castleDir, stateDir: first.stateDir, castleName: 'local' }).ok);
  assert.equal(readOwner(dataDir)?.castleDir, first.castleDir);
  assert.equal(readOwner(objectStoreDir)?.castleDir, first.castleDir);
  assert.deepEqual(judgeOwnership(dataDir, objectStoreDir, first.castleDir, liveLockHolder), { state: 'own' });

  // the first folder runs it: its daemon names the data folder, its run holds the lock
  const daemon = await listener(await freePort(), join(dataDir, 'pgbouncer', 'pgbouncer.ini'));
  t.after(() => daemon.kill());
  mkdirSync(first.stateDir, { recursive: true });
  writeFileSync(
    join(first.stateDir, 'lock.json'),
    JSON.stringify({ pid: daemon.pid, host: hostname(), runId: 'r-1', since: '2026-12-01T10:00:00Z', operation: 'up' }),
  );
  assert.deepEqual(
    processesUsing([dataDir]).map((p) => p.pid),
    [daemon.pid],
  );
  const busy = localPreflight(input, { castleDir: secondDir, castleName: 'local', lockHolder: liveLockHolder });
  assert.equal(busy.length, 1);
  assert.equal(busy[0]!.severity, 'error');
  assert.equal(busy[0]!.rule, 'local/castle-elsewhere');
  assert.match(
    busy[0]!.message,
    new RegExp(
      `^castle 'local' runs from another folder, ${first.castleDir} \\(data ${dataDir}\\): its run r-1 \\(up, pid ${daemon.pid}, since 2026-12-01T10:00:00Z\\) holds the lock; its processes run: pid ${daemon.pid} \\(.*pgbouncer\\.ini\\)$`,
    ),
  );
  assert.match(busy[0]!.hint!, new RegExp(`stop it there first \\(\`cd ${first.castleDir} && node /opt/castle/dist/src/cli/main\\.js down\`\\)`));

  // stopped, with the lock released: the second folder takes it over, and says so
  daemon.kill();
  await new Promise((r) => daemon.once('exit', r));
  rmSync(join(first.stateDir, 'lock.json'));
  const idle = localPreflight(input, { castleDir: secondDir, castleName: 'local', lockHolder: liveLockHolder });
  assert.deepEqual(
    idle.map((d) => [d.severity, d.rule]),
    [['warning', 'local/castle-taken-over']],
  );
  assert.match(idle[0]!.message, new RegExp(`^castle 'local' was last run from ${first.castleDir}; `));

  // the first folder deleted while its daemon still runs: taken over with its processes
  const orphan = await listener(await freePort(), join(dataDir, 'postgres', 'pgdata'));
  t.after(() => orphan.kill());
  rmSync(first.castleDir, { recursive: true });
  const gone = judgeOwnership(dataDir, objectStoreDir, secondDir, liveLockHolder);
  assert.equal(gone.state, 'abandoned');
  const warn = localPreflight(input, { castleDir: secondDir, castleName: 'local', lockHolder: liveLockHolder });
  assert.match(warn[0]!.message, new RegExp(`which is gone: this folder takes it over \\(its data in ${dataDir}, its running processes ${orphan.pid}\\)$`));
  assert.ok(claimCastle(input, { castleDir: secondDir, stateDir: join(secondDir, '.castle'), castleName: 'local' }).ok);
  assert.deepEqual(judgeOwnership(dataDir, objectStoreDir, secondDir, liveLockHolder), { state: 'own' });
});

test('as root, a data folder the unprivileged user cannot reach is refused before anything starts, with what to do', { skip: ROOT.skip }, async (t) => {
  ROOT.check();
  const base = tempBase(t); // mkdtemp: mode 0700, like /root
  const d = await reachDiagnostics('castle', join(base, 'clone', 'data'));
  assert.equal(d.length, 1);
  assert.equal(d[0]!.rule, 'local/data-dir-unreachable');
  assert.equal(
    d[0]!.message,
    `user 'castle' cannot reach ${join(base, 'clone', 'data')}: ${base} is mode 700 owned by uid 0; run \`chmod o+x ${base}\` or keep the castle elsewhere`,
  );
  assert.match(d[0]!.hint!, /local\.dataDir/);
  // a user not created yet is judged as any other user
  assert.equal((await reachDiagnostics('castle-nobody-yet', join(base, 'data'))).length, 1);
  chmodSync(base, 0o755);
  assert.deepEqual(await reachDiagnostics('castle', join(base, 'clone', 'data')), []);
});

test('a castle whose folders cannot be written is a failure that says where, not a crash', (t) => {
  const base = tempBase(t);
  writeFileSync(join(base, 'file'), '');
  const r = claimCastle(
    { dataDir: join(base, 'file', 'data'), objectStoreDir: join(base, 's3') },
    { castleDir: base, stateDir: join(base, '.castle'), castleName: 'local' },
  );
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, `cannot record castle 'local' in ${join(base, 'file', 'data')}: ENOTDIR; it must be a folder this user can write`);
});
