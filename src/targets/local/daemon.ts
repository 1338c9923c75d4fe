import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureOsUser } from '../../data/postgres.js';
import { Redactor } from '../../secrets/redactor.js';

const execFileP = promisify(execFile);

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export interface UserIds {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** The passwd entry of `name`, or undefined. */
export async function lookupUser(name: string): Promise<UserIds | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
  }
  return undefined;
}

/**
 * The unprivileged account that runs PostgreSQL, pgBouncer and the blog when castle runs as root
 * (initdb refuses root). Created with `useradd --system` when missing; another step may be creating it at
 * the same moment, so "already exists" counts as success.
 */
export async function ensureUser(name = 'castle'): Promise<Result<UserIds>> {
  const existing = await lookupUser(name);
  if (existing) return { ok: true, value: existing };
  if (process.getuid?.() !== 0) return { ok: false, reason: `user '${name}' does not exist and only root can create it: run \`useradd --system --user-group --create-home --home-dir /var/lib/${name} ${name}\` as root` };
  // One way to create it, shared with the data layer (which may be creating it at the same moment).
  const made = await ensureOsUser(name);
  if (!made.ok) return { ok: false, reason: made.reason };
  const created = await lookupUser(name);
  return created ? { ok: true, value: created } : { ok: false, reason: `useradd reported success but '${name}' is not in /etc/passwd` };
}

/**
 * Who runs child processes: as root, the named unprivileged user; otherwise ourselves (a non-root
 * castle cannot switch users, and needs not).
 */
export async function resolveRunAs(user: string | undefined): Promise<Result<UserIds | undefined>> {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !user) return { ok: true, value: undefined };
  const u = await ensureUser(user);
  return u.ok ? u : { ok: false, reason: u.reason };
}

/** chown -R to the run-as user (no-op when not root). */
export async function giveTo(user: UserIds | undefined, ...paths: string[]): Promise<void> {
  if (!user) return;
  for (const p of paths) await execFileP('chown', ['-R', `${user.uid}:${user.gid}`, p]);
}

/**
 * Whether `user` can traverse every directory down to `dir` (a daemon running as that user cannot
 * chdir into a castle kept under, say, a root-only 0700 temp dir). Failure names the blocking one.
 */
export async function checkReachable(user: UserIds, dir: string): Promise<Result<void>> {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  let cur: string = path.sep;
  for (const part of ['', ...parts]) {
    cur = path.join(cur, part);
    let st;
    try {
      st = await stat(cur);
    } catch {
      return { ok: true, value: undefined }; // not created yet: whoever creates it sets its owner
    }
    const m = st.mode;
    const ok = st.uid === user.uid ? (m & 0o100) !== 0 : st.gid === user.gid ? (m & 0o010) !== 0 : (m & 0o001) !== 0;
    if (!ok) {
      return { ok: false, reason: `user '${user.name}' cannot reach ${dir}: ${cur} is mode ${(m & 0o777).toString(8)} owned by uid ${st.uid}; run \`chmod o+x ${cur}\` or keep the castle elsewhere` };
    }
  }
  return { ok: true, value: undefined };
}

export interface DaemonSpec {
  /** for messages, e.g. `pgbouncer` */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** run as this user when castle is root */
  readonly user?: string;
  readonly cwd?: string;
  /** the complete environment (PATH and HOME are added when absent) */
  readonly env?: Readonly<Record<string, string>>;
  readonly pidFile: string;
  readonly logFile: string;
  /** what in /proc/<pid>/cmdline identifies this daemon (e.g. its config path) */
  readonly match: CmdlineMatch;
  /** resolves true once the daemon serves; polled until readyTimeoutMs */
  readonly ready?: (signal: AbortSignal) => Promise<boolean>;
  readonly readyTimeoutMs?: number;
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  /** masks secrets in the log excerpt of failure reasons */
  readonly redactor?: Redactor;
}

export interface DaemonHandle {
  readonly pid: number;
  readonly pidFile: string;
  readonly logFile: string;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** /proc/<pid>/cmdline joined with spaces, or undefined when the process is gone (or a zombie). */
export async function processCmdline(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised comm (which may itself hold spaces or parens).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

/** Identifies a daemon by its command line: a substring, or a predicate on the whole line. */
export type CmdlineMatch = string | ((cmdline: string) => boolean);

/** True when `pid` is alive and its command line matches: only then may we signal it. */
export async function isOurProcess(pid: number, match: CmdlineMatch): Promise<boolean> {
  const cmd = await processCmdline(pid);
  if (cmd === undefined) return false;
  return typeof match === 'string' ? cmd.includes(match) : match(cmd);
}

async function processGroup(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

export async function readPidFile(pidFile: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  const pid = text ? Number(text.trim().split('\n')[0]) : NaN;
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

async function logTail(logFile: string, redactor: Redactor | undefined, lines = 15): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
  return (redactor ?? new Redactor()).redact(tail);
}

/**
 * Starts a daemon in its own process group (detached), stdout/stderr appended to logFile, its pid
 * written to pidFile; then waits for `ready`. A daemon already running (pid file + matching cmdline)
 * is reported as a failure rather than doubled. On timeout, early exit or abort, the daemon is
 * stopped and the reason carries the end of its log.
 */
export async function startDaemon(spec: DaemonSpec): Promise<Result<DaemonHandle>> {
  const prev = await readPidFile(spec.pidFile);
  if (prev && (await isOurProcess(prev, spec.match))) {
    return { ok: false, reason: `${spec.name} is already running (pid ${prev}, pid file ${spec.pidFile}): stop it first` };
  }
  const who = await resolveRunAs(spec.user);
  if (!who.ok) return who;
  const user = who.value;
  if (user && spec.cwd) {
    const reach = await checkReachable(user, spec.cwd);
    if (!reach.ok) return reach;
  }
  await mkdir(path.dirname(spec.pidFile), { recursive: true });
  await mkdir(path.dirname(spec.logFile), { recursive: true });
  const logFd = openSync(spec.logFile, 'a', 0o640);
  if (user) await chown(spec.logFile, user.uid, user.gid);
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    ...(user ? { HOME: user.home, USER: user.name, LOGNAME: user.name } : process.env['HOME'] ? { HOME: process.env['HOME'] } : {}),
    ...(spec.env ?? {}),
  };
  let child;
  try {
    child = spawn(spec.command, [...spec.args], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      cwd: spec.cwd ?? (user ? user.home : process.cwd()),
      env,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
  } finally {
    closeSync(logFd);
  }
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('error', (e) => resolve(e));
    child.once('spawn', () => resolve(undefined));
  });
  if (spawnError || child.pid === undefined) {
    return { ok: false, reason: `cannot start ${spec.name} (${spec.command}): ${spawnError?.message ?? 'no pid'}` };
  }
  const pid = child.pid;
  let exited: { code: number | null; sig: NodeJS.Signals | null } | undefined;
  child.once('exit', (code, sig) => (exited = { code, sig }));
  child.unref();
  await writeFile(spec.pidFile, `${pid}\n`, { mode: 0o644 });

  const handle: DaemonHandle = { pid, pidFile: spec.pidFile, logFile: spec.logFile };
  const timeoutMs = spec.readyTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  const probe = new AbortController();
  const onAbort = () => probe.abort();
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  let attempt = 0;
  try {
    for (;;) {
      if (exited) {
        await rm(spec.pidFile, { force: true });
        const how = exited.sig ? `signal ${exited.sig}` : `exit code ${exited.code}`;
        return { ok: false, reason: `${spec.name} exited during startup (${how}); end of ${spec.logFile}:\n${await logTail(spec.logFile, spec.redactor)}` };
      }
      if (spec.signal?.aborted) {
        await stopDaemon({ name: spec.name, pidFile: spec.pidFile, match: spec.match });
        return { ok: false, reason: `${spec.name} start cancelled` };
      }
      if (!spec.ready || (await spec.ready(probe.signal).catch(() => false))) return { ok: true, value: handle };
      if (Date.now() >= deadline) {
        const tail = await logTail(spec.logFile, spec.redactor);
        await stopDaemon({ name: spec.name, pidFile: spec.pidFile, match: spec.match });
        return { ok: false, reason: `${spec.name} (pid ${pid}) was not ready within ${timeoutMs} ms and was stopped; end of ${spec.logFile}:\n${tail}` };
      }
      // a daemon is usually ready within milliseconds: look again soon, then back off to pollMs
      await sleep(Math.min(spec.pollMs ?? 100, 5 * 2 ** attempt++), spec.signal);
    }
  } finally {
    spec.signal?.removeEventListener('abort', onAbort);
  }
}

export interface StopSpec {
  readonly name: string;
  readonly pidFile: string;
  readonly match: CmdlineMatch;
  /** SIGTERM, then SIGKILL after this long (default 10 s) */
  readonly graceMs?: number;
}

/**
 * Stops the daemon named by pidFile: only if its cmdline still contains `match` (a recycled pid is
 * left alone). SIGTERM to its process group, SIGKILL after the grace period. `stopped: false` means
 * nothing of ours was running.
 */
export async function stopDaemon(spec: StopSpec): Promise<Result<{ stopped: boolean; pid?: number; killed?: boolean }>> {
  const pid = await readPidFile(spec.pidFile);
  if (!pid) return { ok: true, value: { stopped: false } };
  if (!(await isOurProcess(pid, spec.match))) {
    // Gone, or the pid now belongs to someone else: either way, not ours to signal.
    await rm(spec.pidFile, { force: true });
    return { ok: true, value: { stopped: false, pid } };
  }
  // Detached children lead their own group; signal the group so helpers they forked go too.
  const pgid = await processGroup(pid);
  const target = pgid === pid ? -pid : pid;
  const send = (sig: NodeJS.Signals): void => {
    try {
      process.kill(target, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  };
  try {
    send('SIGTERM');
  } catch (e) {
    return { ok: false, reason: `cannot signal ${spec.name} (pid ${pid}): ${(e as Error).message}` };
  }
  const grace = spec.graceMs ?? 10_000;
  const until = Date.now() + grace;
  while (Date.now() < until) {
    if (!(await isOurProcess(pid, spec.match))) {
      await rm(spec.pidFile, { force: true });
      return { ok: true, value: { stopped: true, pid, killed: false } };
    }
    await sleep(50);
  }
  try {
    send('SIGKILL');
  } catch (e) {
    return { ok: false, reason: `cannot SIGKILL ${spec.name} (pid ${pid}): ${(e as Error).message}` };
  }
  const hard = Date.now() + 5_000;
  while (Date.now() < hard) {
    if (!(await isOurProcess(pid, spec.match))) {
      await rm(spec.pidFile, { force: true });
      return { ok: true, value: { stopped: true, pid, killed: true } };
    }
    await sleep(50);
  }
  return { ok: false, reason: `${spec.name} (pid ${pid}) survived SIGKILL for 5 s` };
}

/** Runs a short command (as the run-as user when root) and collects its output; for tests and setup steps. */
export async function runAs(
  user: UserIds | undefined,
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], {
      cwd: opts.cwd ?? (user ? user.home : process.cwd()),
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...(user ? { HOME: user.home, USER: user.name } : {}), ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(kill, opts.timeoutMs ?? 60_000);
    opts.signal?.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', kill);
      resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr });
    });
  });
}
