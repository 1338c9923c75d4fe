// Child processes for the data machinery: every command runs in its own process group (so an abort
// kills the whole tree), its output goes to a caller-provided log (redacted), and an expected failure
// is a value, never an exception.

import { existsSync, readFileSync } from 'node:fs';
import { runProcess } from '../engine/process.js';

export type Log = (text: string) => void;
export type Redact = (text: string) => string;

/** An expected failure is a value: `reason` is what a user reads. */
export type Result<T extends object = {}> = ({ readonly ok: true } & T) | { readonly ok: false; readonly reason: string };

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
}

export interface ExecOptions extends OpOptions {
  /** extra environment for the command (also passed through `runuser` with `env`) */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** run as this OS user through `runuser -u USER --` when we are root; null/undefined = as ourselves */
  readonly asUser?: string | null;
  readonly input?: string;
  readonly timeoutMs?: number;
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
  /** set when the command could not be started (ENOENT, EACCES) */
  readonly spawnError?: string;
}

const MAX_CAPTURE = 4 * 1024 * 1024;
/** after SIGTERM to a command's process group, SIGKILL if it is still there */
const KILL_GRACE_MS = 3000;

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** argv (cmd + args) wrapped for `asUser`: `runuser -u USER -- env K=V cmd args` when root. */
export function wrapAsUser(
  cmd: string,
  args: readonly string[],
  asUser: string | null | undefined,
  env: Record<string, string> = {},
): [string, string[]] {
  if (asUser && isRoot() && asUser !== 'root') {
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return ['runuser', ['-u', asUser, '--', 'env', ...envArgs, cmd, ...args]];
  }
  return [cmd, [...args]];
}

/** Runs a command to completion (the engine's process runner underneath). Never throws for the command's own failures. */
export async function exec(cmd: string, args: readonly string[], o: ExecOptions = {}): Promise<ExecResult> {
  const log = o.log ?? noLog;
  const redact = o.redact ?? noRedact;
  const prefix = o.logPrefix ?? '';
  const started = Date.now();
  const [c, a] = wrapAsUser(cmd, args, o.asUser, o.env);
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
    const exit = await runProcess(c, a, {
      cwd: o.cwd ?? '/',
      env: { ...process.env, ...(o.env ?? {}) },
      signal: stop.signal,
      killGraceMs: KILL_GRACE_MS,
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
    const base = { stdout: redact(stdout), stderr: redact(stderr), durationMs: Date.now() - started, aborted: false, timedOut: false };
    switch (exit.state) {
      case 'exited':
        return { ...base, code: exit.code, signal: null };
      case 'signalled':
        return { ...base, code: null, signal: exit.signal as NodeJS.Signals };
      case 'aborted':
        return { ...base, code: null, signal: null, aborted: exit.reason !== 'timeout', timedOut: exit.reason === 'timeout' };
      case 'spawn-failed':
        return { ...base, code: null, signal: null, spawnError: exit.code === 'ENOENT' ? `${c}: command not found` : `${c}: ${exit.error}` };
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
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => l.trim()).slice(-3).join(' | ');
  const how = r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  return `${what} failed (${how})${text ? `: ${text}` : ''}`;
}

/** True when a process with this pid exists (signal 0). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process (Linux /proc), or null. */
export function pidCmdline(pid: number): string[] | null {
  const f = `/proc/${pid}/cmdline`;
  if (!existsSync(f)) return null;
  try {
    return readFileSync(f, 'utf8').split('\0').filter((s) => s.length);
  } catch {
    return null;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', done);
      resolve();
    }, ms);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** True when the process is gone or a zombie (exited, not yet reaped by its parent). */
export function processGone(pid: number): boolean {
  return !pidAlive(pid) || isZombie(pid);
}

/** Waits until `pid` is gone, up to `timeoutMs`. */
export async function waitPidGone(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!pidAlive(pid) || isZombie(pid)) return true;
    await sleep(50);
  }
  return !pidAlive(pid) || isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z';
  } catch {
    return false;
  }
}

/** Redactor that masks each non-empty secret. Compose with a caller's redactor. */
export function makeRedactor(secrets: readonly (string | undefined)[], outer: Redact = noRedact): Redact {
  const list = secrets.filter((s): s is string => !!s && s.length >= 4).sort((a, b) => b.length - a.length);
  return (text: string) => {
    let t = text;
    for (const s of list) t = t.split(s).join('***');
    return outer(t);
  };
}
