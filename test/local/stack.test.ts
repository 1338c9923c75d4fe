import assert from 'node:assert/strict';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBlog, stopBlog, httpGet } from '../../src/targets/local/blog/launch.js';
import { exec } from '../../src/os/exec.js';
import { isOurProcess, readPidFile } from '../../src/os/pid.js';
import { chownTree } from '../../src/os/user.js';
import { loadLocalClusterModel } from '../../src/targets/local/manifests.js';
import { pgBouncerReady, poolDatabases, startPgBouncer, stopPgBouncer } from '../../src/targets/local/pgbouncer.js';
import { freePort, REPO_ROOT, startTestPostgres, type TestPostgres } from './helpers.js';

const BLOG_PASSWORD = 'blog-pw-9f2Kx7Qa';
const ADMIN_PASSWORD = 'admin-pw-Qz81LmN';
const TITLE = 'Il Castello Effimero <rinasce>';

describe('real PostgreSQL + pgBouncer + blog daemon', () => {
  let pgc: TestPostgres;
  let bouncerDir: string;
  let blogDir: string;
  let bouncerPort: number;
  let blogPort: number;

  // The database is built from examples/local/db (users, databaseInitSQL through psql) and seeded
  // with examples/local/blog/seed-posts.sql, as the local target will do.
  before(async () => {
    pgc = await startTestPostgres();
    bouncerDir = path.join(pgc.dir, 'pgbouncer');
    blogDir = path.join(pgc.dir, 'blog');
    const model = await loadLocalClusterModel(['cluster.yaml', 'init-sql.yaml', 's3-creds.yaml'].map((f) => path.join(REPO_ROOT, 'examples/local/db', f)));
    assert.ok(model.ok, model.ok ? '' : JSON.stringify(model.diagnostics));
    const passwords = new Map([
      ['blog', BLOG_PASSWORD],
      ['blog-admin', ADMIN_PASSWORD],
    ]);
    const su = pgc.superuser();
    await su.connect();
    for (const u of model.value.users) {
      await su.query(`create role "${u.name}" login ${u.options ?? ''} password '${passwords.get(u.name)}'`);
    }
    for (const db of poolDatabases(model.value.users)) {
      const owner = model.value.users.find((u) => u.databases.includes(db))!.name;
      await su.query(`create database "${db}" owner "${owner}"`);
    }
    await su.end();
    const sqlFile = path.join(pgc.dir, 'init.sql');
    await writeFile(sqlFile, model.value.initSql!.text);
    await copyFile(path.join(REPO_ROOT, 'examples/local/blog/seed-posts.sql'), path.join(pgc.dir, 'seed-posts.sql'));
    assert.ok((await chownTree(pgc.user, pgc.dir)).ok);
    const psql = (db: string, file: string) =>
      exec(
        path.join(pgc.bin, 'psql'),
        ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', pgc.socketDir, '-p', String(pgc.port), '-U', 'postgres', '-d', db, '-f', file],
        { asUser: pgc.user ?? null, cwd: pgc.dir },
      );
    const init = await psql('postgres', sqlFile);
    assert.equal(init.code, 0, init.stderr);
    const seed = await psql('blog', path.join(pgc.dir, 'seed-posts.sql'));
    assert.equal(seed.code, 0, seed.stderr);
    const db = pgc.superuser('blog');
    await db.connect();
    await db.query('insert into posts (title, body) values ($1, $2)', [TITLE, 'Dalla distruzione alla rinascita.']);
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
      {
        dir: bouncerDir,
        port: bouncerPort,
        server: { host: '127.0.0.1', port: pgc.port },
        databases: ['blog'],
        users: [{ name: 'blog', password: BLOG_PASSWORD }],
      },
      { readyTimeoutMs: 15_000 },
    );
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.ok(isOurProcess(r.value.pid, r.value.paths.ini), 'pid file names a live pgbouncer running our ini');
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
    const r = await startPgBouncer({
      dir: bouncerDir,
      port: bouncerPort,
      server: { host: '127.0.0.1', port: pgc.port },
      databases: ['blog'],
      users: [{ name: 'blog', password: BLOG_PASSWORD }],
    });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /already running/);
  });

  test('auth_query mode: only the auth user is in the auth file, other users are looked up in PostgreSQL', async () => {
    const dir = path.join(pgc.dir, 'pgbouncer-aq');
    const port = await freePort();
    try {
      const r = await startPgBouncer(
        {
          dir,
          port,
          server: { host: '127.0.0.1', port: pgc.port },
          databases: ['blog'],
          users: [{ name: 'blog-admin', password: ADMIN_PASSWORD }],
          authQuery: { user: 'blog-admin' },
        },
        { probe: { user: 'blog', password: BLOG_PASSWORD, database: 'blog' } },
      );
      assert.ok(r.ok, r.ok ? '' : r.reason);
      const { readFile } = await import('node:fs/promises');
      assert.ok(!(await readFile(r.value.paths.authFile, 'utf8')).includes(BLOG_PASSWORD));
      assert.ok((await pgBouncerReady({ port, user: 'blog', password: BLOG_PASSWORD, database: 'blog' })).ok);
    } finally {
      await stopPgBouncer(dir, 1000);
    }
  });

  test('the blog serves posts from the database through pgBouncer', async () => {
    const r = await startBlog({ dir: blogDir, port: blogPort, db: { port: bouncerPort, database: 'blog', user: 'blog', password: BLOG_PASSWORD } });
    assert.ok(r.ok, r.ok ? '' : r.reason);
    // it runs from its own folder, never from the checkout (which its user may not be able to read)
    const { readFileSync } = await import('node:fs');
    const argv = readFileSync(`/proc/${r.value.pid}/cmdline`, 'utf8').split('\0');
    assert.equal(argv[1], path.join(path.resolve(blogDir), 'blog.cjs'), argv.join(' '));
    const home = await httpGet(blogPort, '/');
    assert.equal(home?.status, 200);
    assert.ok(home?.body.includes('Il Castello Effimero &lt;rinasce&gt;'), home?.body);
    assert.ok(home?.body.includes('Data Immortality'), 'a title from examples/local/blog/seed-posts.sql');
    assert.equal(home?.body.match(/<li>/g)?.length, 4);
    const post = await httpGet(blogPort, '/posts/4');
    assert.equal(post?.status, 200);
    assert.match(post?.body ?? '', /Dalla distruzione alla rinascita/);
    assert.match((await httpGet(blogPort, '/posts/2'))?.body ?? '', /S3 for survival/);
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
    const blogPid = readPidFile(path.join(blogDir, 'blog.pid'));
    assert.ok(blogPid);
    const b = await stopBlog(blogDir, blogPort);
    assert.ok(b.ok && b.value.stopped && b.value.killed === false, 'the blog ends on SIGTERM, no SIGKILL needed');
    assert.equal(isOurProcess(blogPid!, 'main.js'), false);
    const p = await stopPgBouncer(bouncerDir);
    assert.ok(p.ok && p.value.stopped && p.value.killed === false, 'pgbouncer ends on SIGTERM, no SIGKILL needed');
    const again = await stopPgBouncer(bouncerDir);
    assert.ok(again.ok && !again.value.stopped);
  });
});

test('the blog is recognised by port and directory, and in the older --port-only form', async () => {
  const { BLOG_MAIN, blogCmdlineMatch } = await import('../../src/targets/local/blog/launch.js');
  const m = blogCmdlineMatch('/c/app/blog-80', 80);
  assert.equal(m(`/usr/bin/node ${BLOG_MAIN} --port 80 --dir /c/app/blog-80`), true);
  assert.equal(m(`/usr/bin/node ${BLOG_MAIN} --port 80`), true, 'started before --dir existed');
  assert.equal(m(`/usr/bin/node ${BLOG_MAIN} --port 8080`), false);
  assert.equal(m(`/usr/bin/node ${BLOG_MAIN} --port 80 --dir /other/blog-80`), false);
  assert.equal(m('/usr/bin/node /c/app/blog-80/blog.cjs --port 80 --dir /c/app/blog-80'), true, 'the copy in its folder');
  assert.equal(m('/c/app/blog-80/node /c/app/blog-80/blog.cjs --port 80 --dir /c/app/blog-80'), true, 'with its own copy of Node.js');
  assert.equal(m('/usr/bin/node /c/app/blog-81/blog.cjs --port 80 --dir /c/app/blog-81'), false);
});
