import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redactor } from '../../../secrets/redactor.js';
import type { Result } from '../../../core/result.js';
import { startDaemon, stopDaemon, type DaemonHandle } from '../../../os/daemon.js';
import { chownTree, runAsUser } from '../../../os/user.js';

export const BLOG_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

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
  return { pidFile: path.join(dir, 'blog.pid'), logFile: path.join(dir, 'blog.log'), passwordFile: path.join(dir, 'db-password') };
}

// Port and directory are in the command line so that two blogs on one machine are told apart.
// Blogs started before `--dir` existed end their command line with `--port N` exactly.
const argsFor = (dir: string, port: number) => ['--port', String(port), '--dir', path.resolve(dir)];
export const blogCmdlineMatch = (dir: string, port: number) => (cmd: string) =>
  cmd.includes(`${BLOG_MAIN} ${argsFor(dir, port).join(' ')}`) || cmd.endsWith(`${BLOG_MAIN} --port ${port}`);

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
  const given = await chownTree(who.value, l.dir);
  if (!given.ok) return given;
  const redactor = l.redactor ?? new Redactor();
  redactor.add(l.db.password);
  const readiness = l.readiness ?? 'healthy';
  const r = await startDaemon({
    name: 'blog',
    command: process.execPath,
    args: [BLOG_MAIN, ...argsFor(l.dir, l.port)],
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
  return { ok: true, value: { ...r.value, url: `http://127.0.0.1:${l.port}/` } };
}

/** Stops the blog of `dir` listening on `port`, by its pid file. */
export async function stopBlog(dir: string, port: number, graceMs = 5_000): Promise<Result<{ stopped: boolean; pid?: number; killed?: boolean }>> {
  const p = blogPaths(dir);
  return stopDaemon({ name: 'blog', pidFile: p.pidFile, match: blogCmdlineMatch(dir, port), graceMs });
}
