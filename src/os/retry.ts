import { sleep } from './sleep.js';

/** Waits that double from `firstMs` up to `maxMs`, over at most `attempts` tries (the first included). */
export interface Backoff {
  readonly attempts: number;
  readonly firstMs: number;
  readonly maxMs: number;
}

/**
 * Runs `once` again while `retryable` takes its result, the attempts last and `signal` has not aborted; returns
 * the last result. Each wait is jittered by +-25% so that parallel callers contending for one lock spread out.
 */
export async function withRetries<R>(
  once: (attempt: number) => Promise<R>,
  o: { readonly backoff: Backoff; retryable(r: R): boolean; onRetry?(r: R, attempt: number, delayMs: number): void; readonly signal?: AbortSignal | undefined },
): Promise<R> {
  let delay = o.backoff.firstMs;
  for (let attempt = 1; ; attempt++) {
    const r = await once(attempt);
    if (attempt >= o.backoff.attempts || o.signal?.aborted || !o.retryable(r)) return r;
    o.onRetry?.(r, attempt, delay);
    await sleep(delay * (0.75 + Math.random() / 2), o.signal);
    if (o.signal?.aborted) return r;
    delay = Math.min(delay * 2, o.backoff.maxMs);
  }
}
