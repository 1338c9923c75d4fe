import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { localCastle, type LocalCastle } from '../helpers/local-castle.js';

// B is a second checkout of A's castle: the same data folder, object store and ports (what two clones of examples/local share).
const sameCastleAs =
  (a: LocalCastle) =>
  (yaml: string): string =>
    yaml
      .replace(/^  dataDir: .*$/m, `  dataDir: ${a.dataDir}`)
      .replace(/^  objectStore: .*$/m, `  objectStore: {dir: ${a.s3Dir}, port: ${a.ports.s3}}`)
      .replace(/^  ports: .*$/m, `  ports: {postgres: ${a.ports.postgres}, pgbouncer: ${a.ports.pgbouncer}}`)
      .replace(/port: \d+, database: blog/g, `port: ${a.ports.blog}, database: blog`)
      .replace(/url: http:\/\/127\.0\.0\.1:\d+\//, `url: http://127.0.0.1:${a.ports.blog}/`);

test('two checkouts of one castle: the second is refused before any step, naming the first folder, its processes and the command that stops it', async (t) => {
  const a = await localCastle();
  const b = await localCastle(sameCastleAs(a));
  // b first: it owns the castle by the end (or its `down` is refused and touches nothing); a's then stops the object store and removes a's folders
  t.after(() => {
    b.destroy();
    a.destroy();
  });
  const up = a.castle(['up']);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  const pgPid = Number(readFileSync(join(a.dataDir, 'postgres', 'blog-db', 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);

  const second = b.castle(['up']);
  assert.equal(second.code, 2, second.stdout + second.stderr);
  assert.match(
    second.stderr,
    new RegExp(
      `error local/castle-elsewhere: castle 'local' runs from another folder, ${a.dir} \\(data ${a.dataDir}\\): its processes run: .*pid ${pgPid} \\(`,
    ),
  );
  assert.match(second.stderr, new RegExp(`stop it there first \\(\`cd ${a.dir} && node \\S+/dist/src/cli/main\\.js down\`\\)`));
  assert.ok(!existsSync(join(b.dir, '.castle', 'runs')), 'no run was started in the second checkout');
  assert.ok(!existsSync(join(b.dir, 'secrets.env')), 'nothing was written in the second checkout');
  // the first checkout's castle is untouched and still its own
  const again = a.castle(['up']);
  assert.equal(again.code, 0, again.stdout + again.stderr);

  // the first checkout deleted with its daemons running (a removed clone): the second takes the castle over and reuses them
  rmSync(a.dir, { recursive: true });
  const takeover = b.castle(['up']);
  assert.equal(takeover.code, 0, takeover.stdout + takeover.stderr);
  assert.match(
    takeover.stderr,
    new RegExp(
      `warning local/castle-taken-over: castle 'local' was run from ${a.dir}, which is gone: this folder takes it over \\(its data in ${a.dataDir}, its running processes [\\d, ]*${pgPid}`,
    ),
  );
  assert.equal(
    Number(readFileSync(join(a.dataDir, 'postgres', 'blog-db', 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]),
    pgPid,
    'the same PostgreSQL serves on',
  );
  const owner = JSON.parse(readFileSync(join(a.dataDir, 'castle-owner.json'), 'utf8')) as { castleDir: string };
  assert.equal(owner.castleDir, b.dir);
});

test('a port held by a foreign process stops up before any step, naming the port and its holder', async (t) => {
  const c = await localCastle();
  let holder: ChildProcess | undefined;
  t.after(() => {
    holder?.kill();
    c.destroy();
  });
  // like `nc -l PORT` on the port castle.yaml gives pgBouncer
  const code = `require('net').createServer().listen(${c.ports.pgbouncer}, '127.0.0.1', () => console.log('ready'))`;
  holder = spawn(process.execPath, ['-e', code, 'nc-like-holder'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => holder!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
  const r = c.castle(['up']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `error local/port-in-use: port ${c.ports.pgbouncer} \\(pgbouncer\\) is held by pid ${holder.pid} \\(.*nc-like-holder\\) of user \\S+, which is not a castle's process`,
    ),
  );
  assert.match(r.stderr, new RegExp(`stop it \\(\`kill ${holder.pid}\`\\), or give this castle another port \\(local\\.ports\\.pgbouncer in castle\\.yaml\\)`));
  assert.ok(!existsSync(join(c.dir, '.castle', 'runs')), 'no run was started');
  assert.ok(!existsSync(c.dataDir), 'nothing was created');
  assert.ok(!existsSync(c.s3Dir), 'not even the object store');
});
