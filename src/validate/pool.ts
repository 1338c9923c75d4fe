import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Diagnostic } from '../diag/diagnostic.js';
import type { FileAnalysis } from './analyze.js';
import type { InputFile } from './inputs.js';
import type { WorkerInput, WorkerMessage } from './worker.js';

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

/** A file waiting to be analysed; `deferred`: its text was dropped and is read from `abs` again then. */
export interface QueuedFile extends InputFile {
  readonly bytes: number;
  readonly deferred?: true;
}

/** The file with its text, or undefined (and a finding) when it cannot be read again. */
export function loadQueued(f: QueuedFile, diagnostics: Diagnostic[]): InputFile | undefined {
  if (!f.deferred || f.abs === undefined) return f;
  try {
    return { file: f.file, text: readFileSync(f.abs, 'utf8'), abs: f.abs, ...(f.via !== undefined ? { via: f.via } : {}) };
  } catch (e) {
    diagnostics.push({ severity: 'error', rule: 'input/unreadable', message: `${f.file}: ${(e as Error).message}` });
    return undefined;
  }
}

/**
 * Splits the files over worker threads: one per 8 MiB of YAML, at most one per core and 4. Each
 * worker reads its files itself and posts each file's analysis as soon as it is done, to `onFile`
 * (called in this thread, one file at a time): nothing waits for the whole share.
 */
export async function analyzeInWorkers(files: readonly QueuedFile[], base: Omit<WorkerInput, 'files'>, onFile: (a: FileAnalysis) => void): Promise<number> {
  const total = files.reduce((n, f) => n + f.bytes, 0);
  const n = Math.max(1, Math.min(4, availableParallelism(), Math.ceil(total / BYTES_PER_WORKER)));
  const shares: QueuedFile[][] = Array.from({ length: n }, () => []);
  const sizes = new Array<number>(n).fill(0);
  // biggest first onto the lightest share: balanced without splitting files
  for (const f of [...files].sort((a, b) => b.bytes - a.bytes)) {
    const i = sizes.indexOf(Math.min(...sizes));
    shares[i]!.push(f);
    sizes[i]! += f.bytes;
  }
  await Promise.all(
    shares.map(
      (share) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(new URL('./worker.js', import.meta.url), {
            workerData: { ...base, files: share } satisfies WorkerInput,
            resourceLimits: { maxYoungGenerationSizeMb: 64, maxOldGenerationSizeMb: 2048 },
          });
          w.on('message', (m: WorkerMessage) => {
            switch (m.kind) {
              case 'file':
                onFile(m.analysis);
                return;
              case 'done':
                resolve();
                void w.terminate();
                return;
              case 'failed':
                reject(new Error(`validation worker failed: ${m.error}`));
                void w.terminate();
                return;
              default: {
                const never: never = m;
                throw new Error(`unknown worker message ${String(never)}`);
              }
            }
          });
          w.once('error', reject);
        }),
    ),
  );
  return n;
}
