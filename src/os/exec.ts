// Commands run to completion on the one process runner (./process.ts): its own process group (an abort
// kills the whole tree), output to a caller-provided log (redacted), an expected failure a value.

import { lookupUser, isRoot, type UserIds } from './passwd.js';
import { runProcess } from './process.js';

export type Log = (text: string) => void;
export type Redact = (text: string) => string;

export const noLog: Log = () => {};
export const noRedact: Redact = (t) => t;

/** Options every long operation accepts. */
export interface OpOptions {
  /** aborting kills the child process group(s) of the operation */
  readonly signal?: AbortSignal;
  /** receives the output of child processes and progress lines (already redacted) */
  readonly log?: Log;
  /** masks secrets in anything logged or returned as a reason */
  readonly redact?: Redact;
  /** a line for the operator's eye (a step's note), beside the log; the log when absent */
  readonly note?: Log;
}

export interface ExecOptions extends OpOptions {
  /** extra environment for the command */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /**
   * run as this OS user when we are root (the process gets its uid/gid, HOME, USER and LOGNAME);
   * null/undefined, or not root: as ourselves
   */
  readonly asUser?: string | UserIds | null;
  readonly input?: string;
  readonly timeoutMs?: number;
  /** after SIGTERM to the command's process group on a cancel or timeout, SIGKILL after this (default 3 s) */
  readonly killGraceMs?: number;
  /** prefix of each logged line, e.g. `[pgbackrest] ` */
  readonly logPrefix?: string;
  /** don't log stdout (e.g. JSON output); it is still returned */
  readonly quietStdout?: boolean;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly aborted: boolean;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** set when the command could not be started (ENOENT, EACCES, no such user) */
  readonly spawnError?: string;
}

const MAX_CAPTURE = 4 * 1024 * 1024;
/** after SIGTERM to a command's process group, SIGKILL if it is still there */
const KILL_GRACE_MS = 3000;

/** The user a command runs as: only root switches users, and root needs not switch to itself. */
async function runAsIds(asUser: ExecOptions['asUser']): Promise<UserIds | undefined | string> {
  if (!asUser || !isRoot()) return undefined;
  if (typeof asUser !== 'string') return asUser.uid === 0 ? undefined : asUser;
  if (asUser === 'root') return undefined;
  return (await lookupUser(asUser)) ?? `user '${asUser}' does not exist`;
}

/** The environment of a command run as `user`: what a login as that user would set. */
export function userEnv(user: UserIds): Record<string, string> {
  return { HOME: user.home, USER: user.name, LOGNAME: user.name };
}

/**
 * What a command run as another user inherits of ours: never the whole environment, which holds the operator's
 * tokens (INFISICAL_TOKEN, a Proxmox API token...) that the other user could read in /proc/PID/environ.
 */
export function passedOnEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ']) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Runs a command to completion. Never throws for the command's own failures. */
export async function exec(cmd: string, args: readonly string[], o: ExecOptions = {}): Promise<ExecResult> {
  const log = o.log ?? noLog;
  const redact = o.redact ?? noRedact;
  const prefix = o.logPrefix ?? '';
  const started = Date.now();
  const base = { stdout: '', stderr: '', aborted: false, timedOut: false, code: null, signal: null };
  const user = await runAsIds(o.asUser);
  if (typeof user === 'string') return { ...base, durationMs: Date.now() - started, spawnError: `${cmd}: ${user}` };
  // the caller's signal and the timeout, as one
  const stop = new AbortController();
  const onAbort = (): void => stop.abort('cancelled');
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = o.timeoutMs !== undefined ? setTimeout(() => stop.abort('timeout'), o.timeoutMs) : undefined;
  let stdout = '';
  let stderr = '';
  const partial = { out: '', err: '' };
  const lines = (which: 'out' | 'err', chunk: string, flush = false): void => {
    if (which === 'out' && o.quietStdout) return;
    const all = (partial[which] + chunk).split('\n');
    partial[which] = flush ? '' : (all.pop() ?? '');
    for (const line of all) if (line.length) log(redact(prefix + line));
  };
  try {
    const exit = await runProcess(cmd, args, {
      cwd: o.cwd ?? '/',
      env: { ...(user ? { ...passedOnEnv(), ...userEnv(user) } : process.env), ...(o.env ?? {}) },
      signal: stop.signal,
      killGraceMs: o.killGraceMs ?? KILL_GRACE_MS,
      ...(user ? { user } : {}),
      ...(o.input !== undefined ? { input: o.input } : {}),
      onOutput: (d) => {
        if (stdout.length < MAX_CAPTURE) stdout += d;
        lines('out', d);
      },
      onStderr: (d) => {
        if (stderr.length < MAX_CAPTURE) stderr += d;
        lines('err', d);
      },
    });
    lines('out', '', true);
    lines('err', '', true);
    const done = { ...base, stdout: redact(stdout), stderr: redact(stderr), durationMs: Date.now() - started };
    switch (exit.state) {
      case 'exited':
        return { ...done, code: exit.code };
      case 'signalled':
        return { ...done, signal: exit.signal as NodeJS.Signals };
      case 'aborted':
        return { ...done, aborted: exit.reason !== 'timeout', timedOut: exit.reason === 'timeout' };
      case 'spawn-failed':
        return { ...done, spawnError: exit.code === 'ENOENT' ? `${cmd}: command not found` : `${cmd}: ${exit.error}` };
      default: {
        const never: never = exit;
        return never;
      }
    }
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/** A one-line description of how a command failed (for a `reason`). */
export function describeFailure(what: string, r: ExecResult): string {
  if (r.spawnError) return `${what}: ${r.spawnError}`;
  if (r.aborted) return `${what}: cancelled`;
  if (r.timedOut) return `${what}: timed out after ${Math.round(r.durationMs / 1000)} s`;
  const text = (r.stderr.trim() || r.stdout.trim())
    .split('\n')
    .filter((l) => l.trim())
    .slice(-3)
    .join(' | ');
  const how = r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  return `${what} failed (${how})${text ? `: ${text}` : ''}`;
}
