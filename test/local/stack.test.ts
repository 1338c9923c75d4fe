import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBlog, stopBlog, httpGet } from '../../src/targets/local/blog/launch.js';
import { isOurProcess, readPidFile } from '../../src/targets/local/daemon.js';
import { pgBouncerReady, startPgBouncer, stopPgBouncer } from '../../src/targets/local/pgbouncer.js';
import { freePort, startTestPostgres, type TestPostgres } from './helpers.js';

const BLOG_PASSWORD = 'blog-pw-9f2Kx7Qa';
const TITLE = 'Il Castello Effimero <rinasce>';

describe('real PostgreSQL + pgBouncer + blog daemon', () => {
  let pgc: TestPostgres;
  let bouncerDir: string;
  let blogDir: string;
  let bouncerPort: number;
  let blogPort: number;

  before(async () => {
    pgc = await startTestPostgres();
    bouncerDir = path.join(pgc.dir, 'pgbouncer');
    blogDir = path.join(pgc.dir, 'blog');
    const su = pgc.superuser();
    await su.connect();
    await su.query(`create role blog login password '${BLOG_PASSWORD}'`);
    await su.query('create database blog owner blog');
    await su.end();
    const db = pgc.superuser('blog');
    await db.connect();
    await db.query('create table posts (id serial primary key, title text not null, body text not null)');
    await db.query('alter table posts owner to blog');
    await db.query('insert into posts (title, body) values ($1, $2), ($3, $4)', [TITLE, 'Dalla distruzione alla rinascita.', 'Second post', 'Body two']);
    await db.end();
    bouncerPort = await freePort();
    blogPort = await freePort();
  });

  after(async () => {
    await stopBlog(blogDir, blogPort, 2000).catch(() => undefined);
    await stopPgBouncer(bouncerDir, 2000).catch(() => undefined);
    await pgc?.stop('immediate');
    if (pgc) await rm(pgc.dir, { recursive: true, force: true });
  });

  test('pgBouncer starts as a daemon, answers select 1, and holds no password in its ini', async () => {
    const r = await startPgBouncer(
      { dir: bouncerDir, port: bouncerPort, server: { host: '127.0.0.1', port: pgc.port }, databases: ['blog'], users: [{ name: 'blog', password: BLOG_PASSWORD }] },
      { readyTimeoutMs: 15_000 },
    );
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.ok(await isOurProcess(r.value.pid, r.value.paths.ini), 'pid file names a live pgbouncer running our ini');
    if (pgc.user) {
      const status = await (await import('node:fs/promises')).readFile(`/proc/${r.value.pid}/status`, 'utf8');
      assert.match(status, new RegExp(`^Uid:\\s+${pgc.user.uid}\\s`, 'm'), 'pgbouncer runs as the unprivileged user');
    }
    const ready = await pgBouncerReady({ port: bouncerPort, user: 'blog', password: BLOG_PASSWORD, database: 'blog' });
    assert.ok(ready.ok);
    const { readFile, stat } = await import('node:fs/promises');
    const ini = await readFile(r.value.paths.ini, 'utf8');
    assert.match(ini, /listen_addr = 127\.0\.0\.1/);
    assert.match(ini, /auth_type = scram-sha-256/);
    assert.ok(!ini.includes(BLOG_PASSWORD));
    assert.equal((await stat(r.value.paths.authFile)).mode & 0o777, 0o600);
    const bad = await pgBouncerReady({ port: bouncerPort, user: 'blog', password: 'wrong-password', database: 'blog' });
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && !bad.reason.includes('wrong-password'), 'the reason never carries the password');
  });

  test('a second start of the same pgBouncer is refused, not doubled', async () => {
    const r = await startPgBouncer({ dir: bouncerDir, port: bouncerPort, server: { host: '127.0.0.1', port: pgc.port }, databases: ['blog'], users: [{ name: 'blog', password: BLOG_PASSWORD }] });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /already running/);
  });

  test('the blog serves posts from the database through pgBouncer', async () => {
    const r = await startBlog({ dir: blogDir, port: blogPort, db: { port: bouncerPort, database: 'blog', user: 'blog', password: BLOG_PASSWORD } });
    assert.ok(r.ok, r.ok ? '' : r.reason);
    const home = await httpGet(blogPort, '/');
    assert.equal(home?.status, 200);
    assert.ok(home?.body.includes('Il Castello Effimero &lt;rinasce&gt;'), home?.body);
    assert.ok(home?.body.includes('Second post'));
    const post = await httpGet(blogPort, '/posts/1');
    assert.equal(post?.status, 200);
    assert.match(post?.body ?? '', /Dalla distruzione alla rinascita/);
    assert.equal((await httpGet(blogPort, '/posts/999'))?.status, 404);
    const health = await httpGet(blogPort, '/healthz');
    assert.equal(health?.status, 200);
    const h = JSON.parse(health!.body) as { status: string; latencyMs: number };
    assert.equal(h.status, 'ok');
    assert.equal(typeof h.latencyMs, 'number');
    // The blog's connection really goes through pgBouncer: PostgreSQL sees it coming from 127.0.0.1 as blog.
    const su = pgc.superuser();
    await su.connect();
    const seen = await su.query(`select count(*)::int as n from pg_stat_activity where usename = 'blog' and client_addr = '127.0.0.1'`);
    await su.end();
    assert.ok(seen.rows[0].n >= 1);
    const { readFile } = await import('node:fs/promises');
    assert.ok(!(await readFile(path.join(blogDir, 'blog.log'), 'utf8')).includes(BLOG_PASSWORD));
  });

  test('/healthz turns 503 when PostgreSQL stops', async () => {
    await pgc.stop('fast');
    let status: number | undefined;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      status = (await httpGet(blogPort, '/healthz', 5000))?.status;
      if (status === 503) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 503);
  });

  test('blog and pgBouncer stop by pid, and stopping again is a no-op', async () => {
    const blogPid = await readPidFile(path.join(blogDir, 'blog.pid'));
    assert.ok(blogPid);
    let t0 = Date.now();
    const b = await stopBlog(blogDir, blogPort);
    assert.ok(b.ok && b.value.stopped);
    assert.ok(Date.now() - t0 < 1500, `blog stopped on SIGTERM within 1.5 s (took ${Date.now() - t0} ms)`);
    assert.equal(await isOurProcess(blogPid!, 'main.js'), false);
    t0 = Date.now();
    const p = await stopPgBouncer(bouncerDir);
    assert.ok(p.ok && p.value.stopped && p.value.killed === false, 'pgbouncer ends on SIGTERM, no SIGKILL needed');
    assert.ok(Date.now() - t0 < 1500, `pgbouncer stopped within 1.5 s (took ${Date.now() - t0} ms)`);
    const again = await stopPgBouncer(bouncerDir);
    assert.ok(again.ok && !again.value.stopped);
  });
});
