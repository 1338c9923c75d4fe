import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { emptyAnalysis, mergeAnalysis, type FileAnalysis } from './analyze.js';
import type { InputFile } from './inputs.js';
import type { WorkerInput } from './worker.js';

/**
 * Below this much YAML, one thread is faster: a worker pays ~100 ms to start and runs cold (not
 * JIT-optimised) code, while the line reader validates ~20,000 documents/s on a warm thread.
 */
export const PARALLEL_THRESHOLD_BYTES = 16 * 1024 * 1024;

/**
 * Workers only pay on 4 cores or more: on 2 (`npm run bench -- validate`, 100,000 clean documents)
 * two workers took 13.7 s of CPU and 815 MiB against 9.7 s and 545 MiB in one thread.
 */
export function useWorkers(bytes: number): boolean {
  return bytes > PARALLEL_THRESHOLD_BYTES && availableParallelism() >= 4;
}
const BYTES_PER_WORKER = 8 * 1024 * 1024;

/**
 * Splits the files over worker threads: one per 8 MiB of YAML, at most one per core and 4. Parsing
 * allocates many short-lived objects: a larger young generation means fewer collections.
 */
export async function analyzeInWorkers(files: readonly InputFile[], base: Omit<WorkerInput, 'files'>): Promise<{ analysis: FileAnalysis; workers: number }> {
  const total = files.reduce((n, f) => n + f.text.length, 0);
  const n = Math.max(1, Math.min(4, availableParallelism(), Math.ceil(total / BYTES_PER_WORKER)));
  const shares: InputFile[][] = Array.from({ length: n }, () => []);
  const sizes = new Array<number>(n).fill(0);
  // biggest first onto the lightest share: balanced without splitting files
  for (const f of [...files].sort((a, b) => b.text.length - a.text.length)) {
    const i = sizes.indexOf(Math.min(...sizes));
    shares[i]!.push(f);
    sizes[i]! += f.text.length;
  }
  const results = await Promise.all(
    shares.map(
      (share) =>
        new Promise<FileAnalysis>((resolve, reject) => {
          const w = new Worker(new URL('./worker.js', import.meta.url), {
            workerData: { ...base, files: share } satisfies WorkerInput,
            resourceLimits: { maxYoungGenerationSizeMb: 64, maxOldGenerationSizeMb: 2048 },
          });
          w.once('message', (m: { ok: true; analysis: FileAnalysis } | { ok: false; error: string }) => {
            if (m.ok) resolve(m.analysis);
            else reject(new Error(`validation worker failed: ${m.error}`));
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  );
  const out = emptyAnalysis();
  for (const r of results) mergeAnalysis(out, r);
  return { analysis: out, workers: n };
}
