import type { Result } from '../core/result.js';
import { sleep } from '../os/sleep.js';

/**
 * Watches the S3 endpoint while pgBackRest works against it, and aborts `ac` once it has stopped answering
 * for `misses` probes in a row: pgBackRest itself retries a dead endpoint for many minutes (seen: a backup
 * asleep between retries for over 4 minutes after the endpoint was killed), which would hold the run that long.
 */
export function watchS3(
  probe: (signal?: AbortSignal) => Promise<Result>,
  ac: AbortController,
  o: { intervalMs?: number; misses?: number } = {},
): { stop: () => Promise<string | null> } {
  // stopping cancels the sleep and the probe in flight: the watched command's end must not wait for them
  const quit = new AbortController();
  const either = AbortSignal.any([quit.signal, ac.signal]);
  let reason: string | null = null;
  const loop = (async () => {
    let missed = 0;
    while (!either.aborted) {
      await sleep(o.intervalMs ?? 1000, either);
      if (either.aborted) return;
      const p = await probe(either);
      if (either.aborted) return;
      missed = p.ok ? 0 : missed + 1;
      if (!p.ok && missed >= (o.misses ?? 3)) {
        reason = `the S3 endpoint stopped answering (${missed} probes in a row): ${p.reason}`;
        ac.abort();
        return;
      }
    }
  })();
  return {
    async stop() {
      quit.abort();
      await loop;
      return reason;
    },
  };
}
