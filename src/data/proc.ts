// Child processes for the data machinery: every command runs in its own process group (so an abort
// kills the whole tree), its output goes to a caller-provided log (redacted), and an expected failure
// is a value, never an exception.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

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

/** Kill a process group (negative pid), then SIGKILL after `graceMs` if it is still there. */
export function killGroup(pid: number, graceMs = 3000): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, graceMs);
  t.unref();
}

/** Runs a command to completion. Never throws for the command's own failures. */
export function exec(cmd: string, args: readonly string[], o: ExecOptions = {}): Promise<ExecResult> {
  const log = o.log ?? noLog;
  const redact = o.redact ?? noRedact;
  const prefix = o.logPrefix ?? '';
  const started = Date.now();
  const [c, a] = wrapAsUser(cmd, args, o.asUser, o.env);
  return new Promise((resolve) => {
    if (o.signal?.aborted) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', aborted: true, timedOut: false, durationMs: 0 });
      return;
    }
    const child = spawn(c, a, {
      cwd: o.cwd ?? '/',
      env: { ...process.env, ...(o.env ?? {}) },
      detached: true,
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let aborted = false;
    let timedOut = false;
    let spawnError: string | undefined;
    const partial = { out: '', err: '' };
    const emit = (which: 'out' | 'err', chunk: string, flush = false) => {
      if (which === 'out' && o.quietStdout) return;
      let buf = partial[which] + chunk;
      const lines = buf.split('\n');
      buf = flush ? '' : (lines.pop() ?? '');
      partial[which] = buf;
      for (const line of lines) if (line.length) log(redact(prefix + line));
    };
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += d;
      emit('out', d);
    });
    child.stderr!.on('data', (d: string) => {
      if (stderr.length < MAX_CAPTURE) stderr += d;
      emit('err', d);
    });
    if (o.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(o.input);
    }
    const onAbort = () => {
      aborted = true;
      if (child.pid) killGroup(child.pid);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      o.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            if (child.pid) killGroup(child.pid);
          }, o.timeoutMs)
        : undefined;
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err.code === 'ENOENT' ? `${c}: command not found` : `${c}: ${err.message}`;
    });
    child.on('close', (code, sig) => {
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      emit('out', '', true);
      emit('err', '', true);
      resolve({
        code,
        signal: sig,
        stdout: redact(stdout),
        stderr: redact(stderr),
        aborted,
        timedOut,
        durationMs: Date.now() - started,
        ...(spawnError ? { spawnError } : {}),
      });
    });
  });
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
