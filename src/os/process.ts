// The one process runner: every command Castle runs to completion goes through here (steps, exec).
import { spawn } from 'node:child_process';
import { signalGroup } from './pid.js';
import { STARTER_VAR, starterMark } from './starter.js';

export interface ProcessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly signal: AbortSignal;
  /** receives stdout, and stderr too unless `onStderr` is given */
  readonly onOutput: (text: string) => void;
  readonly onStderr?: (text: string) => void;
  /** after SIGTERM to the group, wait this long before SIGKILL */
  readonly killGraceMs: number;
  readonly input?: string;
  /** run as this user (we are root): the process itself gets the uid/gid, no wrapper process in between */
  readonly user?: { readonly uid: number; readonly gid: number };
}

export type ProcessExit =
  | { readonly state: 'exited'; readonly code: number; readonly tail: string }
  | { readonly state: 'signalled'; readonly signal: string; readonly tail: string }
  | { readonly state: 'aborted'; readonly reason: unknown; readonly tail: string }
  | { readonly state: 'spawn-failed'; readonly error: string; readonly code?: string };

const TAIL = 64 * 1024;

/**
 * The environment plus whose command it is, for a later run once this process is gone (./starter.ts). Layered over
 * `env` instead of copied: spawn reads inherited keys too, and steps pass environments layered the same way.
 */
function withStarter(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = Object.create(env) as NodeJS.ProcessEnv;
  out[STARTER_VAR] = starterMark();
  return out;
}

/**
 * Runs a command in its own process group (so SIGTERM/SIGKILL reach its children too), streaming
 * its output. On abort: SIGTERM to the group, SIGKILL after the grace period.
 */
export function runProcess(file: string, args: readonly string[], opts: ProcessOptions): Promise<ProcessExit> {
  return new Promise((resolve) => {
    if (opts.signal.aborted) {
      resolve({ state: 'aborted', reason: opts.signal.reason, tail: '' });
      return;
    }
    let tail = '';
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: withStarter(opts.env ?? process.env),
      detached: true,
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      if (child.pid === undefined) return;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), opts.killGraceMs);
      killTimer.unref();
    };
    const onData =
      (to: (text: string) => void) =>
      (s: string): void => {
        tail = (tail + s).slice(-TAIL);
        to(s);
      };
    // decoded by the streams: a multi-byte character split across two reads stays whole
    child.stdout!.setEncoding('utf8').on('data', onData(opts.onOutput));
    child.stderr!.setEncoding('utf8').on('data', onData(opts.onStderr ?? opts.onOutput));
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // a command that exits without reading its input
      child.stdin!.end(opts.input);
    }
    let settled = false;
    const finish = (r: ProcessExit): void => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      resolve(r);
    };
    child.on('error', (err: NodeJS.ErrnoException) => finish({ state: 'spawn-failed', error: err.message, ...(err.code ? { code: err.code } : {}) }));
    child.on('exit', (code, sig) => {
      // A background child may keep the pipes open: give output a moment to drain, then stop waiting.
      const done = (): void => {
        if (opts.signal.aborted) finish({ state: 'aborted', reason: opts.signal.reason, tail });
        else if (sig) finish({ state: 'signalled', signal: sig, tail });
        else finish({ state: 'exited', code: code ?? 0, tail });
      };
      let closed = false;
      child.once('close', () => {
        closed = true;
        done();
      });
      setTimeout(() => {
        if (!closed) {
          child.stdout!.destroy();
          child.stderr!.destroy();
          done();
        }
      }, 200).unref();
    });
    opts.signal.addEventListener('abort', onAbort, { once: true });
  });
}
