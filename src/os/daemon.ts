// The one daemon supervisor: a long-running process started detached (its own process group, so it
// outlives a run and its helpers stop with it), its pid in a pid file, its output appended to a log
// file, known again later by pid file + command line (a recycled pid is never signalled).

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fail, ok, type Result } from '../core/result.js';
import { userEnv, type Redact } from './exec.js';
import { tailLines } from './log-tail.js';
import { isOurProcess, readPidFile, type CmdlineMatch } from './pid.js';
import { sleep } from './sleep.js';
import { stopProcess } from './stop.js';
import { checkReachable, runAsUser } from './user.js';

export interface DaemonSpec {
  /** for messages, e.g. `pgbouncer` */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** run as this user when castle is root (created when missing) */
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
  readonly redact?: Redact;
  /** a plainer reason for an exit during startup, read from the end of its log (e.g. port in use) */
  readonly explainExit?: (logTail: string) => string | undefined;
  /** SIGTERM, then SIGKILL after this long when it must be stopped (default 10 s) */
  readonly graceMs?: number;
}

export interface DaemonHandle {
  readonly pid: number;
  readonly pidFile: string;
  readonly logFile: string;
}

function logTail(logFile: string, redact: Redact | undefined, lines = 15): string {
  const tail = tailLines(logFile, lines).join('\n');
  return redact ? redact(tail) : tail;
}

/** The pid of the daemon of `pidFile` when it runs (pid file + matching command line), else undefined. */
export function runningDaemon(pidFile: string, match: CmdlineMatch): number | undefined {
  const pid = readPidFile(pidFile);
  return pid !== undefined && isOurProcess(pid, match) ? pid : undefined;
}

/** Whether `file` holds exactly `text` (a missing or unreadable file does not): a running daemon's config is still current. */
export async function fileHolds(file: string, text: string): Promise<boolean> {
  return (await readFile(file, 'utf8').catch(() => undefined)) === text;
}

/**
 * Whether a running daemon `answers` within `waitMs` (asked again soon, then every 200 ms), so that `up` can keep it
 * instead of restarting it; false when the time is up or `signal` aborts.
 */
export async function answersWithin(answers: () => Promise<boolean>, waitMs: number, signal?: AbortSignal): Promise<boolean> {
  const end = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    if (await answers()) return true;
    if (Date.now() >= end || signal?.aborted) return false;
    await sleep(Math.min(200, 10 * 2 ** attempt), signal);
  }
}

/**
 * Starts a daemon, then waits for `ready`. One already running (pid file + matching cmdline) is a
 * failure rather than doubled. On timeout, early exit or abort, the daemon is stopped and the reason
 * carries the end of its log.
 */
export async function startDaemon(spec: DaemonSpec): Promise<Result<DaemonHandle>> {
  const prev = runningDaemon(spec.pidFile, spec.match);
  if (prev !== undefined) return fail(`${spec.name} is already running (pid ${prev}, pid file ${spec.pidFile}): stop it first`);
  const who = await runAsUser(spec.user);
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
    ...(user ? userEnv(user) : process.env['HOME'] ? { HOME: process.env['HOME'] } : {}),
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
  if (spawnError || child.pid === undefined) return fail(`cannot start ${spec.name} (${spec.command}): ${spawnError?.message ?? 'no pid'}`);
  const pid = child.pid;
  let exited: { code: number | null; sig: NodeJS.Signals | null } | undefined;
  child.once('exit', (code, sig) => (exited = { code, sig }));
  child.unref();
  await writeFile(spec.pidFile, `${pid}\n`, { mode: 0o644 });

  const handle: DaemonHandle = { pid, pidFile: spec.pidFile, logFile: spec.logFile };
  const stop = () =>
    stopDaemon({ name: spec.name, pidFile: spec.pidFile, match: spec.match, ...(spec.graceMs !== undefined ? { graceMs: spec.graceMs } : {}) });
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
        const tail = logTail(spec.logFile, spec.redact);
        return fail(spec.explainExit?.(tail) ?? `${spec.name} exited during startup (${how}); end of ${spec.logFile}:\n${tail}`);
      }
      if (spec.signal?.aborted) {
        await stop();
        return fail(`${spec.name} start cancelled`);
      }
      if (!spec.ready || (await spec.ready(probe.signal).catch(() => false))) return ok(handle);
      if (Date.now() >= deadline) {
        const tail = logTail(spec.logFile, spec.redact);
        await stop();
        return fail(`${spec.name} (pid ${pid}) was not ready within ${timeoutMs} ms and was stopped; end of ${spec.logFile}:\n${tail}`);
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
 * Stops the daemon named by pidFile, only if its cmdline still matches (a recycled pid is left alone):
 * SIGTERM to its process group, SIGKILL after the grace period. `stopped: false` means nothing of ours ran.
 */
export async function stopDaemon(spec: StopSpec): Promise<Result<{ stopped: boolean; pid?: number; killed?: boolean }>> {
  const pid = readPidFile(spec.pidFile);
  if (!pid) return ok({ stopped: false });
  if (!isOurProcess(pid, spec.match)) {
    // gone, or the pid now belongs to someone else: either way, not ours to signal
    await rm(spec.pidFile, { force: true });
    return ok({ stopped: false, pid });
  }
  const r = await stopProcess(pid, {
    name: `${spec.name} (pid ${pid})`,
    graceMs: spec.graceMs ?? 10_000,
    group: true,
    gone: (p) => !isOurProcess(p, spec.match),
  });
  if (!r.ok) return r;
  await rm(spec.pidFile, { force: true });
  return ok({ stopped: true, pid, killed: r.value.killed });
}
