import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { EventEnvelope } from '../../src/events.js';
import { events } from '../helpers/cli.js';
import { localCastle, type LocalCastle } from '../helpers/local-castle.js';
import { requirement } from '../helpers/requires.js';

const ROOT = requirement(process.getuid?.() === 0, 'needs root');

const PASSWORD_KEY = 'BLOG_DB_PGUSER_BLOG_PASSWORD';

async function query(c: LocalCastle, text: string, params: unknown[] = [], user = 'blog'): Promise<pg.QueryResult> {
  const key = user === 'blog' ? PASSWORD_KEY : 'BLOG_DB_PGUSER_BLOG_ADMIN_PASSWORD';
  const client = new pg.Client({ host: '127.0.0.1', port: c.ports.pgbouncer, database: 'blog', user, password: c.secret(key) });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

function checks(evs: readonly EventEnvelope[]): Map<string, { ok: boolean; detail: string }> {
  const out = new Map<string, { ok: boolean; detail: string }>();
  for (const e of evs) if (e.type === 'check') out.set(e.name, { ok: e.ok, detail: e.detail });
  return out;
}

function steps(evs: readonly EventEnvelope[]): Map<string, Extract<EventEnvelope, { type: 'step-finished' }>> {
  const out = new Map<string, Extract<EventEnvelope, { type: 'step-finished' }>>();
  for (const e of evs) if (e.type === 'step-finished') out.set(e.stepId, e);
  return out;
}

test('rebirth: gate, nuclear wipe, restore from S3 and proof, with rows that only the archived WAL holds', async (t) => {
  const c = await localCastle();
  t.after(() => c.destroy());
  // The gate relies on the last backup plus archived WAL, and rows land between that backup and the
  // fingerprint: they can only come back through WAL replay.
  const yaml = readFileSync(join(c.dir, 'castle.yaml'), 'utf8').replace(
    '  gate:  [{backup: {}, timeout: 5m}]',
    '  gate:\n    - {backup: {}}\n    - {sql: {database: blog, file: late-writes.sql}, name: "writes after the last backup"}\n    - {backup: {newBackup: false}}',
  );
  writeFileSync(join(c.dir, 'castle.yaml'), yaml);
  writeFileSync(join(c.dir, 'late-writes.sql'), "INSERT INTO posts (title, body) SELECT 'late ' || g, 'only in WAL' FROM generate_series(1, 500) g;\n");
  const up = c.castle(['up']);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.match(up.stdout, /up\/database\/0 succeeded .* created system \d+: PostgreSQL \d+ on 127\.0\.0\.1:\d+, first full backup \S+F/);
  await query(c, 'CREATE TABLE notes (id int PRIMARY KEY, body text)');
  await query(c, 'INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(1, 2000) g');
  const before = (await query(c, 'SELECT count(*)::int AS n FROM posts')).rows[0].n as number;
  const pgbouncerPid = join(c.dataDir, 'pgbouncer', 'blog-db', 'pgbouncer.pid');
  const blogPid = join(c.dataDir, 'app', `blog-${c.ports.blog}`, 'blog.pid');
  const pids = () => [readFileSync(pgbouncerPid, 'utf8').trim(), readFileSync(blogPid, 'utf8').trim()];
  const pidsBefore = pids();

  const r = c.castle(['rebirth']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const evs = events(c.dir);
  const ch = checks(evs);
  assert.equal(ch.get('system identifier')?.ok, true);
  assert.equal(ch.get('data identical')?.ok, true, ch.get('data identical')?.detail);
  assert.match(
    ch.get('data identical')!.detail,
    /^2 tables, \d+ rows in 2 databases match the gate, including writes after backup \S+ \(WAL through [0-9A-F]{24}\); fingerprint (\d+ MB\/s|\d+ kB in \d+ ms)$/,
  );
  assert.equal(ch.get('app serves the data')?.ok, true, ch.get('app serves the data')?.detail);
  const st = steps(evs);
  assert.match(st.get('down/database/0')!.summary!, /^wiped .*postgres\/blog-db \(stopped \d+ process/);
  assert.match(st.get('up/database/0')!.summary!, /^restored \S+ from repo1 \(local repo2 is absent: restoring from S3\)/);
  // pgBouncer and the blog hold no data: the rebirth left them running, and its up found them current and answering
  assert.match(st.get('down/pooler/0')!.summary!, /^left running across the rebirth/);
  assert.match(st.get('down/app/0')!.summary!, /^left running across the rebirth/);
  assert.match(st.get('up/pooler/0')!.summary!, /^already running with this config on 127\.0\.0\.1:\d+ \(pid \d+\)$/);
  assert.match(st.get('up/app/1')!.summary!, /already running with this build and config\)$/);
  assert.deepEqual(pids(), pidsBefore);
  // phases in order: gate, the wipe, the layers, the proof
  const fin = evs.find((e) => e.type === 'run-finished');
  assert.ok(fin?.type === 'run-finished');
  assert.deepEqual(
    fin.phases.map((p) => p.phase),
    ['gate', 'down/app', 'down/pooler', 'down/database', 'up/object-store', 'up/database', 'up/pooler', 'up/app', 'proof'],
  );
  assert.match(r.stdout, /^proof:$/m);
  assert.match(r.stdout, /^  ✔ data identical: /m);
  // the gate left pgBackRest's retention to the restored cluster's start, which applied it; the users'
  // passwords matched the secret source, so nothing was set again after the restore
  const rebirthRun = join(
    c.dir,
    '.castle',
    'runs',
    readdirSync(join(c.dir, '.castle', 'runs'))
      .sort()
      .pop()!,
  );
  assert.doesNotMatch(readFileSync(join(rebirthRun, 'steps', 'gate__0.log'), 'utf8'), /expire command begin/);
  assert.match(
    readFileSync(join(c.dataDir, 'postgres', 'blog-db', 'pgbackrest', 'log', 'db-expire.log'), 'utf8'),
    /expire command end: completed successfully/,
  );
  assert.deepEqual(
    evs.filter((e) => e.type === 'warning'),
    [],
  );
  assert.doesNotMatch(readFileSync(join(rebirthRun, 'steps', 'up__database__0.log'), 'utf8'), /set the password/);
  // the 500 late rows are there, and so is everything else
  assert.equal((await query(c, 'SELECT count(*)::int AS n FROM posts')).rows[0].n, before + 500);
  assert.equal((await query(c, "SELECT count(*)::int AS n FROM posts WHERE body = 'only in WAL'")).rows[0].n, 500);
  assert.equal((await query(c, 'SELECT count(*)::int AS n FROM notes')).rows[0].n, 2000);
  // secrets never reach the logs
  const runDir = rebirthRun;
  const all = [
    readFileSync(join(runDir, 'events.jsonl'), 'utf8'),
    ...readdirSync(join(runDir, 'steps')).map((f) => readFileSync(join(runDir, 'steps', f), 'utf8')),
    r.stdout,
  ];
  for (const key of [PASSWORD_KEY, 'S3_SECRET_ACCESS_KEY']) {
    const value = c.secret(key);
    assert.ok(
      all.every((text) => !text.includes(value)),
      `${key} leaked`,
    );
  }
  // a new password in the secret source: `up` finds pgBouncer's auth file and the blog's password stale and restarts both
  c.setSecret(PASSWORD_KEY, `rotated-${process.pid}-Aa1`);
  const up2 = c.castle(['up']);
  assert.equal(up2.code, 0, up2.stdout + up2.stderr);
  const st2 = steps(events(c.dir));
  assert.match(st2.get('up/pooler/0')!.summary!, /^listening on 127\.0\.0\.1:\d+ \(pid \d+\)$/);
  assert.doesNotMatch(st2.get('up/app/1')!.summary!, /already running/);
  const pidsAfter = pids();
  assert.notEqual(pidsAfter[0], pidsBefore[0], 'pgBouncer restarted');
  assert.notEqual(pidsAfter[1], pidsBefore[1], 'the blog restarted');
  assert.equal((await query(c, 'SELECT count(*)::int AS n FROM notes')).rows[0].n, 2000, 'the new password works through pgBouncer');
  const page = await fetch(`http://127.0.0.1:${c.ports.blog}/healthz`);
  assert.equal(page.status, 200, 'the restarted blog reads the database with the new password');
});

test('the wipe is refused, and nothing deleted, when the S3 endpoint is down or its credentials are wrong', async (t) => {
  const c = await localCastle();
  t.after(() => c.destroy());
  assert.equal(c.castle(['up']).code, 0);
  const pgdata = join(c.dataDir, 'postgres', 'blog-db', 'pgdata');

  const good = c.secret('S3_ACCESS_KEY_ID');
  c.setSecret('S3_ACCESS_KEY_ID', 'WRONGKEYIDFORTEST');
  const wrong = c.castle(['rebirth']);
  assert.equal(wrong.code, 1);
  const ch = checks(events(c.dir));
  assert.equal(ch.get('backup gate')?.ok, false);
  assert.match(ch.get('backup gate')!.detail, /^backup gate failed, nothing may be wiped: /);
  assert.match(ch.get('backup gate')!.detail, /403|SignatureDoesNotMatch|InvalidAccessKeyId|credentials/i);
  assert.ok(
    !wrong.stdout.includes('WRONGKEYIDFORTEST') &&
      !readFileSync(
        join(
          c.dir,
          '.castle',
          'runs',
          readdirSync(join(c.dir, '.castle', 'runs'))
            .sort()
            .pop()!,
          'events.jsonl',
        ),
        'utf8',
      ).includes('WRONGKEYIDFORTEST'),
    'the key id is not printed',
  );
  assert.ok(existsSync(join(pgdata, 'PG_VERSION')), 'nothing deleted');
  const down = steps(events(c.dir)).get('down/database/0');
  assert.equal(down?.status, 'skipped');
  c.setSecret('S3_ACCESS_KEY_ID', good);

  // right key id, wrong secret: the endpoint verifies SigV4 (403 SignatureDoesNotMatch), so the gate refuses
  const goodSecret = c.secret('S3_SECRET_ACCESS_KEY');
  c.setSecret('S3_SECRET_ACCESS_KEY', goodSecret.slice(0, -1) + (goodSecret.endsWith('A') ? 'B' : 'A'));
  const wrongSecret = c.castle(['rebirth']);
  assert.equal(wrongSecret.code, 1);
  const chs = checks(events(c.dir));
  assert.equal(chs.get('backup gate')?.ok, false);
  assert.match(chs.get('backup gate')!.detail, /^backup gate failed, nothing may be wiped: .*rejected the credentials \(HTTP 403 SignatureDoesNotMatch\)/);
  assert.ok(existsSync(join(pgdata, 'PG_VERSION')), 'nothing deleted');
  assert.equal(steps(events(c.dir)).get('down/database/0')?.status, 'skipped');
  c.setSecret('S3_SECRET_ACCESS_KEY', goodSecret);

  const pid = Number(readFileSync(join(c.s3Dir, 's3.pid'), 'utf8'));
  process.kill(pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  const noS3 = c.castle(['rebirth']);
  assert.equal(noS3.code, 1);
  const ch2 = checks(events(c.dir));
  assert.equal(ch2.get('backup gate')?.ok, false);
  assert.match(ch2.get('backup gate')!.detail, new RegExp(`nothing may be wiped: .*(refused|ECONNREFUSED|connect)`, 'i'));
  assert.ok(existsSync(join(pgdata, 'PG_VERSION')), 'nothing deleted');
  assert.equal((await query(c, 'SELECT count(*)::int AS n FROM posts')).rows[0].n, 3, 'the castle still serves');
});

test('the wipe is refused when WAL archiving is failing', async (t) => {
  const c = await localCastle();
  t.after(() => c.destroy());
  assert.equal(c.castle(['up']).code, 0);
  await query(c, "ALTER SYSTEM SET archive_command = '/bin/false'", [], 'blog-admin');
  await query(c, 'SELECT pg_reload_conf()', [], 'blog-admin');
  const r = c.castle(['rebirth']);
  assert.equal(r.code, 1);
  const ch = checks(events(c.dir));
  assert.equal(ch.get('backup gate')?.ok, false);
  assert.match(ch.get('backup gate')!.detail, /archiv/i);
  assert.ok(existsSync(join(c.dataDir, 'postgres', 'blog-db', 'pgdata', 'PG_VERSION')), 'nothing deleted');
  await query(c, 'ALTER SYSTEM RESET archive_command', [], 'blog-admin');
  await query(c, 'SELECT pg_reload_conf()', [], 'blog-admin');
});

test('when the data is gone but the local repo2 is present and current, up restores from it', async (t) => {
  const c = await localCastle();
  t.after(() => c.destroy());
  assert.equal(c.castle(['up']).code, 0);
  await query(c, "INSERT INTO posts (title, body) VALUES ('kept locally', 'x')");
  // a gate keeps repo2 current; then only the data directory is lost
  assert.equal(c.castle(['down', '--only', 'app']).code, 0);
  const pgdata = join(c.dataDir, 'postgres', 'blog-db', 'pgdata');
  const bin = readdirSync('/usr/lib/postgresql').sort().pop()!;
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'castle', '--'] : [];
  const stop = spawnSync(
    asUser[0] ?? `/usr/lib/postgresql/${bin}/bin/pg_ctl`,
    [...asUser.slice(1), ...(asUser.length ? [`/usr/lib/postgresql/${bin}/bin/pg_ctl`] : []), '-D', pgdata, 'stop', '-m', 'fast'],
    { encoding: 'utf8' },
  );
  assert.equal(stop.status, 0, stop.stderr);
  rmSync(pgdata, { recursive: true, force: true });
  const r = c.castle(['up']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(steps(events(c.dir)).get('up/database/0')!.summary!, /^restored \S+ from repo2 \(local repo2 is present and current/);
  assert.equal((await query(c, "SELECT count(*)::int AS n FROM posts WHERE title = 'kept locally'")).rows[0].n, 1);
});

test('a cluster without dataSource pointed at a repo that holds backups is refused: it would fork the stanza', async (t) => {
  const a = await localCastle();
  t.after(() => a.destroy());
  assert.equal(a.castle(['up']).code, 0);
  const b = await localCastle();
  t.after(() => b.destroy());
  // castle b uses a's object store and repo, and its cluster has no dataSource
  const yaml = readFileSync(join(b.dir, 'castle.yaml'), 'utf8').replace(
    /objectStore: \{dir: [^,]+, port: \d+\}/,
    `objectStore: {dir: ${a.s3Dir}, port: ${a.ports.s3}}`,
  );
  writeFileSync(join(b.dir, 'castle.yaml'), yaml);
  const cluster = readFileSync(join(b.dir, 'db', 'cluster.yaml'), 'utf8');
  writeFileSync(join(b.dir, 'db', 'cluster.yaml'), cluster.replace(/\n  # On rebirth[\s\S]*?(?=\n  proxy:)/, ''));
  const r = b.castle(['up']);
  assert.equal(r.code, 1, r.stdout);
  const db = steps(events(b.dir)).get('up/database/0');
  assert.equal(db?.status, 'failed');
  assert.match(
    db!.reason!,
    /the S3 repo already holds backups of stanza 'db', and PostgresCluster 'blog-db' has no spec\.dataSource\.pgbackrest: a fresh cluster would come back empty and register a second system-id/,
  );
  assert.ok(!existsSync(join(b.dataDir, 'postgres', 'blog-db', 'pgdata')), 'nothing was created');
});

test('as root on a machine without the unprivileged user, up creates it and runs the castle as that user', { skip: ROOT.skip }, async (t) => {
  ROOT.check();
  const user = `castlet${process.pid % 100000}`;
  const gone = () => spawnSync('id', ['-u', user]).status !== 0;
  if (!gone()) spawnSync('userdel', ['-r', user]);
  assert.ok(gone(), `${user} must not exist before the test`);
  const c = await localCastle((y) => y.replace(/^  secrets: .*$/m, (l) => `${l}\n  runAs: ${user}`));
  t.after(() => {
    c.destroy();
    spawnSync('userdel', ['-r', user]);
  });
  const up = c.castle(['up']);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.ok(!gone(), `up created ${user}`);
  const pgdata = join(c.dataDir, 'postgres', 'blog-db', 'pgdata');
  assert.ok(existsSync(join(pgdata, 'PG_VERSION')), `${pgdata} holds a cluster`);
  const owner = spawnSync('stat', ['-c', '%U', pgdata], { encoding: 'utf8' }).stdout.trim();
  assert.equal(owner, user);
  const r = await query(c, 'select count(*)::int as n from posts');
  assert.ok(r.rows[0].n > 0, 'the blog database answers through pgBouncer');
});
