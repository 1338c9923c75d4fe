import { fail, ok, type Result } from '../../core/result.js';
import { isLockTimeout, type ApiResult, type PveApi } from './api.js';
import { sleep } from '../../os/sleep.js';
import { withRetries } from '../../os/retry.js';

/** `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` */
export interface Upid {
  readonly upid: string;
  readonly node: string;
  readonly type: string;
  readonly id: string;
  readonly user: string;
}

export function parseUpid(upid: string): Upid | undefined {
  const m = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/.exec(upid);
  return m ? { upid, node: m[1]!, type: m[6]!, id: m[7]!, user: m[8]! } : undefined;
}

export interface TaskPolling {
  /** first poll after this long, then each wait grows by `factor` up to `maxMs` */
  readonly firstMs: number;
  readonly maxMs: number;
  readonly factor: number;
}

export const DEFAULT_POLLING: TaskPolling = { firstMs: 100, maxMs: 2000, factor: 1.5 };

interface TaskStatus {
  readonly status: 'running' | 'stopped';
  readonly exitstatus?: string;
}

/** `OK` and `WARNINGS: n` are successes; anything else is the task's error (its last log line). */
export const taskSucceeded = (exit: string | undefined): boolean => exit === 'OK' || (exit?.startsWith('WARNINGS') ?? false);

export interface TaskEnd {
  readonly exitstatus: string;
}

/** The last lines of a task's log, for a failure message. */
export async function taskLogTail(api: PveApi, u: Upid, lines = 8, signal?: AbortSignal): Promise<string[]> {
  const r = await api.get<{ n: number; t: string }[]>(`/nodes/${u.node}/tasks/${encodeURIComponent(u.upid)}/log`, { start: 0, limit: 500 }, signal);
  return r.ok ? r.value.slice(-lines).map((l) => l.t) : [`(task log unavailable: ${r.reason})`];
}

/**
 * Follows a task to its end: its status polled on the node named in the UPID, with growing waits (no
 * polling storm when many tasks run). A failed task gives its exit status and the tail of its log.
 */
export async function followTask(
  api: PveApi,
  upid: string,
  opts: { signal?: AbortSignal; polling?: TaskPolling; what: string },
): Promise<Result<TaskEnd> & { exit?: string }> {
  const u = parseUpid(upid);
  if (!u) return fail(`${opts.what}: Proxmox returned '${upid}', which is not a task id (UPID)`);
  const p = opts.polling ?? DEFAULT_POLLING;
  let wait = p.firstMs;
  for (;;) {
    await sleep(wait, opts.signal);
    if (opts.signal?.aborted) return fail(`${opts.what}: stopped waiting for task ${upid} (aborted); it goes on in Proxmox`);
    wait = Math.min(Math.round(wait * p.factor), p.maxMs);
    const r = await api.get<TaskStatus>(`/nodes/${u.node}/tasks/${encodeURIComponent(upid)}/status`, {}, opts.signal);
    if (!r.ok) {
      if (opts.signal?.aborted) return fail(`${opts.what}: stopped waiting for task ${upid} (aborted)`);
      return { ...fail(`${opts.what}: cannot read the status of task ${upid}: ${r.reason}`), exit: undefined };
    }
    if (r.value.status !== 'stopped') continue;
    const exit = r.value.exitstatus ?? 'unexpected status';
    if (taskSucceeded(exit)) return ok({ exitstatus: exit });
    const tail = await taskLogTail(api, u, 8, opts.signal);
    return { ...fail(`${opts.what}: task ${u.type} on ${u.node} failed: ${exit}\n  task log (last lines):\n${tail.map((l) => `    ${l}`).join('\n')}`), exit };
  }
}

/**
 * Starts a task and follows it; a task that ended on a lock timeout (another task held the VM's lock file
 * for longer than the 1-10 s Proxmox waits) is started again with growing waits.
 */
export async function runTask(
  api: PveApi,
  start: () => Promise<ApiResult<string>>,
  opts: { signal: AbortSignal; polling: TaskPolling; what: string; log: (line: string) => void; attempts?: number },
): Promise<Result<TaskEnd>> {
  return withRetries(
    async () => {
      const r = await start();
      return r.ok ? followTask(api, r.value, opts) : r;
    },
    {
      backoff: { attempts: opts.attempts ?? 5, firstMs: 500, maxMs: 8000 },
      retryable: (t) => !t.ok && 'exit' in t && t.exit !== undefined && isLockTimeout(t.exit),
      onRetry: (t, attempt, delay) => opts.log(`${opts.what}: ${'exit' in t ? t.exit : ''} (lock contention, retry ${attempt} in ${delay} ms)`),
      signal: opts.signal,
    },
  );
}
