import { chmod, copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redactor } from '../../../secrets/redactor.js';
import { fail, ok, type Result } from '../../../core/result.js';
import { answersWithin, fileHolds, runningDaemon, startDaemon, stopDaemon, type DaemonHandle } from '../../../os/daemon.js';
import type { UserIds } from '../../../os/passwd.js';
import { checkReachable, chownTree, runAsUser } from '../../../os/user.js';

/** the blog's entry point in the build (legacy daemons ran it from here) */
export const BLOG_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** the blog and pg in one file (scripts/bundle-blog.mjs), copied into the castle's folder to run */
export const BLOG_BUNDLE = fileURLToPath(new URL('../../../../blog/blog.cjs', import.meta.url));

export interface BlogLaunch {
  /** the castle's blog directory: pid file, log file, password file */
  readonly dir: string;
  readonly port: number;
  /** pgBouncer's address and the blog's database credentials */
  readonly db: { readonly host?: string; readonly port: number; readonly database: string; readonly user: string; readonly password: string };
  /** unprivileged user when castle is root (default `castle`) */
  readonly user?: string;
  /** `healthy` (default): ready when /healthz is 200; `listening`: when any HTTP answer comes */
  readonly readiness?: 'healthy' | 'listening';
  readonly readyTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly redactor?: Redactor;
}

export function blogPaths(dir: string) {
  return {
    pidFile: path.join(dir, 'blog.pid'),
    logFile: path.join(dir, 'blog.log'),
    passwordFile: path.join(dir, 'db-password'),
    script: path.join(dir, 'blog.cjs'),
    node: path.join(dir, 'node'),
    /** what the running blog was started with (no secret: the password is in passwordFile) */
    launchFile: path.join(dir, 'launch.json'),
  };
}

// Port and directory are in the command line so that two blogs on one machine are told apart.
// Blogs started before `--dir` existed end their command line with `--port N` exactly.
const argsFor = (dir: string, port: number) => ['--port', String(port), '--dir', path.resolve(dir)];
export const blogCmdlineMatch = (dir: string, port: number) => (cmd: string) =>
  cmd.includes(`${blogPaths(path.resolve(dir)).script} ${argsFor(dir, port).join(' ')}`) ||
  cmd.includes(`${BLOG_MAIN} ${argsFor(dir, port).join(' ')}`) ||
  cmd.endsWith(`${BLOG_MAIN} --port ${port}`);

/** Whether `user` may run `file`: every folder above it traversable, the file executable for it. */
async function canExecute(user: UserIds, file: string): Promise<boolean> {
  if (!(await checkReachable(user, path.dirname(file))).ok) return false;
  const st = await stat(file).catch(() => undefined);
  if (!st) return false;
  const m = st.mode;
  return st.uid === user.uid ? (m & 0o100) !== 0 : st.gid === user.gid ? (m & 0o010) !== 0 : (m & 0o001) !== 0;
}

/** Copies `from` to `to` (mode `mode`) unless a file of the same size and age is there already. */
async function install(from: string, to: string, mode: number): Promise<void> {
  const [a, b] = await Promise.all([stat(from), stat(to).catch(() => undefined)]);
  if (!b || a.size !== b.size || a.mtimeMs > b.mtimeMs) {
    // the old copy is read-only: replaced, not written over (a running blog keeps the file it opened)
    await rm(to, { force: true });
    await copyFile(from, to);
  }
  await chmod(to, mode);
}

/**
 * What the blog runs from, all in its own folder when it runs as another user: that user cannot read a
 * checkout (or a Node.js) under a folder such as /root, mode 0700. The script is always copied; Node.js
 * only when the user cannot run this one.
 */
export async function installBlog(dir: string, user: UserIds | undefined, node = process.execPath): Promise<Result<{ node: string; script: string }>> {
  const p = blogPaths(dir);
  try {
    await install(BLOG_BUNDLE, p.script, 0o444);
  } catch (e) {
    return fail(`cannot install the blog into ${dir}: ${(e as Error).message} (is ${BLOG_BUNDLE} built? run \`npm run build\`)`, { retryable: false });
  }
  if (!user || (await canExecute(user, node))) return ok({ node, script: p.script });
  try {
    await install(node, p.node, 0o555);
  } catch (e) {
    return fail(`user '${user.name}' cannot run ${node} and copying it into ${dir} failed: ${(e as Error).message}`, { retryable: false });
  }
  return ok({ node: p.node, script: p.script });
}

/** GET http://127.0.0.1:port/path with a timeout; undefined when nothing answers. */
export async function httpGet(port: number, pathname: string, timeoutMs = 2000): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${pathname}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

/** Starts the blog as a detached daemon reading posts through pgBouncer. */
export async function startBlog(l: BlogLaunch): Promise<Result<DaemonHandle & { url: string }>> {
  const user = l.user ?? 'castle';
  const who = await runAsUser(user);
  if (!who.ok) return who;
  const p = blogPaths(l.dir);
  await mkdir(l.dir, { recursive: true, mode: 0o700 });
  await writeFile(p.passwordFile, l.db.password + '\n', { mode: 0o600 });
  const installed = await installBlog(path.resolve(l.dir), who.value);
  if (!installed.ok) return installed;
  const given = await chownTree(who.value, l.dir);
  if (!given.ok) return given;
  const redactor = l.redactor ?? new Redactor();
  redactor.add(l.db.password);
  const readiness = l.readiness ?? 'healthy';
  const r = await startDaemon({
    name: 'blog',
    command: installed.value.node,
    args: [installed.value.script, ...argsFor(l.dir, l.port)],
    user,
    cwd: l.dir,
    env: {
      PGHOST: l.db.host ?? '127.0.0.1',
      PGPORT: String(l.db.port),
      PGDATABASE: l.db.database,
      PGUSER: l.db.user,
      BLOG_DB_PASSWORD_FILE: p.passwordFile,
    },
    pidFile: p.pidFile,
    logFile: p.logFile,
    match: blogCmdlineMatch(l.dir, l.port),
    readyTimeoutMs: l.readyTimeoutMs ?? 15_000,
    redact: (t) => redactor.redact(t),
    ...(l.signal ? { signal: l.signal } : {}),
    ready: async () => {
      const res = await httpGet(l.port, '/healthz', 1500);
      return readiness === 'healthy' ? res?.status === 200 : res !== undefined;
    },
  });
  if (!r.ok) return r;
  await writeFile(p.launchFile, await launchRecord(l), { mode: 0o644 });
  return { ok: true, value: { ...r.value, url: `http://127.0.0.1:${l.port}/` } };
}

/** What a blog runs with, besides its password: the build it runs and where it reads the database. */
async function launchRecord(l: BlogLaunch): Promise<string> {
  const bundle = await stat(BLOG_BUNDLE).catch(() => undefined);
  const { password: _password, ...db } = l.db;
  return (
    JSON.stringify({ bundle: bundle ? [bundle.size, bundle.mtimeMs] : null, node: process.execPath, port: l.port, db: { host: '127.0.0.1', ...db } }) + '\n'
  );
}

/**
 * `up`, idempotent: a blog of this folder and port that runs this build, with these database settings and password,
 * and answers /healthz (a query through pgBouncer) is left running; anything else is stopped and started again.
 */
export async function ensureBlog(l: BlogLaunch & { graceMs?: number; reuseWaitMs?: number }): Promise<Result<DaemonHandle & { url: string; reused: boolean }>> {
  const p = blogPaths(l.dir);
  const pid = runningDaemon(p.pidFile, blogCmdlineMatch(l.dir, l.port));
  if (
    pid !== undefined &&
    (await fileHolds(p.passwordFile, l.db.password + '\n')) &&
    (await fileHolds(p.launchFile, await launchRecord(l))) &&
    // its pool reconnects through pgBouncer on the next request: one /healthz answers for the blog, pgBouncer and the server
    (await answersWithin(async () => (await httpGet(l.port, '/healthz', 1500))?.status === 200, l.reuseWaitMs ?? 3000, l.signal))
  )
    return { ok: true, value: { pid, pidFile: p.pidFile, logFile: p.logFile, url: `http://127.0.0.1:${l.port}/`, reused: true } };
  const stopped = await stopBlog(l.dir, l.port, l.graceMs);
  if (!stopped.ok) return stopped;
  const st = await startBlog(l);
  return st.ok ? { ok: true, value: { ...st.value, reused: false } } : st;
}

/** Stops the blog of `dir` listening on `port`, by its pid file. */
export async function stopBlog(dir: string, port: number, graceMs = 5_000): Promise<Result<{ stopped: boolean; pid?: number; killed?: boolean }>> {
  const p = blogPaths(dir);
  return stopDaemon({ name: 'blog', pidFile: p.pidFile, match: blogCmdlineMatch(dir, port), graceMs });
}
