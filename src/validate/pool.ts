import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { workerThreads } from './builtins-lazy.js';
import type { Diagnostic } from '../diag/diagnostic.js';
import type { PackedAnalysis } from './analyze.js';
import type { InputFile } from './inputs.js';
import type { CrdInfo } from './schema/crd.js';
import type { ValidateOptions } from './index.js';
import { defaultCacheDir } from './schema/cache-dir.js';
import type { SchemaChoice, WorkerInput, WorkerMessage, WorkerStart } from './worker.js';

/**
 * Up to this much YAML (about 15,000 documents) one thread is faster: a worker starts cold, loads the
 * modules and schemas again and packs what it found for this thread. Measured on 2 cores (`/usr/bin/time`,
 * the bench's corpora, 3 alternated runs each), one thread against one worker: 5,000 documents with
 * findings 1.11-1.16 s against 1.30-1.31 s; 10,000 with findings 1.55-1.58 s against 1.68-1.69 s
 * (peak RSS 171 MiB against 144); 10,000 clean 1.12-1.14 s against 1.15-1.20 s; 20,000 with findings
 * 2.37-2.45 s against 2.44-2.46 s (200 MiB against 178); 100,000 with findings 8.9 s against 8.7 s and
 * 285-295 MiB against 234: past this size the worker's bounded heap wins in memory, at about the same time.
 */
export const PARALLEL_THRESHOLD_BYTES = 12 * 1024 * 1024;

/**
 * How many worker threads analyse `bytes` of YAML: none for inputs up to PARALLEL_THRESHOLD_BYTES or
 * one core, else one per core but one (this thread files their findings, spools them and prints),
 * at most 4. On 2 cores two analysing threads are slower than one: the analysis
 * allocates, and two threads that allocate slow each other (this thread analysing 30% of the
 * 10,000-document findings corpus while the worker took the rest: 1.81 s against 1.68 s for the
 * worker alone). One worker's gain on big inputs is its bounded heap (heapLimits), not parallel work.
 */
export function workerCount(bytes: number, cores = availableParallelism()): number {
  if (bytes <= PARALLEL_THRESHOLD_BYTES || cores < 2) return 0;
  return Math.min(4, cores - 1);
}

/** The schemas a run with `opts` loads in each worker: its cache, Kubernetes version and shipped CRDs. */
export function schemaChoice(opts: ValidateOptions): SchemaChoice {
  return {
    cacheDir: opts.cacheDir ?? defaultCacheDir(),
    kubernetesVersion: opts.kubernetesVersion,
    builtinCrds: opts.builtinCrds === true ? (opts.crds ?? []) : undefined,
  };
}

/**
 * Whether the cache holds compiled schemas (a run has filled it before). On a cold cache the workers start only once
 * the main thread has compiled them (index.ts): else each thread compiles the same schemas at once (a cold run of the
 * bench: 3.2 s instead of 2.7 s, 1.5 s more CPU).
 */
export function schemasCached(c: SchemaChoice): boolean {
  return existsSync(join(c.cacheDir, 'core')) && (c.builtinCrds === undefined || existsSync(join(c.cacheDir, 'builtin')));
}

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

const WORKER = new URL('./worker.js', import.meta.url);

interface HeapLimits {
  readonly maxYoungGenerationSizeMb: number;
  readonly maxOldGenerationSizeMb: number;
}

/**
 * A young generation of 16 MiB, and an old one of 128 MiB plus room for the biggest file's values:
 * V8 lets a heap with no limit grow to 4-5x what it holds before it collects.
 */
function heapLimits(biggestBytes: number): HeapLimits {
  return { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 128 + Math.ceil((biggestBytes / (1024 * 1024)) * 24) };
}

/** the files a prestarted worker's heap is sized for (heapLimits); a bigger file gets a new worker */
const PRESTART_FILE_BYTES = 2 * 1024 * 1024;
let prestarted: { worker: Worker; limits: HeapLimits } | undefined;

/**
 * Starts one worker thread before the inputs are read, so that it loads its modules (100-200 ms)
 * while this thread loads its own and reads the inputs: the CLI calls it first thing. It waits
 * for its files (WorkerPool); the run ends it when no worker is wanted (small inputs, see
 * workerCount), or the process exits without waiting for it (it is unref'd). Not for one core, nor
 * for inputs too small for a worker: `bytes`, their manifests' size (manifestBytes).
 */
export function prestartWorker(bytes: number, cores = availableParallelism(), schemas?: SchemaChoice): boolean {
  if (prestarted || cores < 2 || bytes <= PARALLEL_THRESHOLD_BYTES) return false;
  const limits = heapLimits(PRESTART_FILE_BYTES);
  // with the run's schemas, it loads them while this thread reads the inputs (worker.ts)
  const worker = new (workerThreads().Worker)(WORKER, { resourceLimits: limits, ...(schemas ? { workerData: schemas } : {}) });
  worker.unref();
  // a failure to start is seen again by the pool's own worker
  worker.on('error', () => undefined);
  prestarted = { worker, limits };
  return true;
}

/** the prestarted worker, when its heap is big enough for `limits`; else it is ended */
function takePrestarted(limits: HeapLimits): Worker | undefined {
  const p = prestarted;
  prestarted = undefined;
  if (!p) return undefined;
  if (p.limits.maxOldGenerationSizeMb < limits.maxOldGenerationSizeMb) {
    void p.worker.terminate();
    return undefined;
  }
  p.worker.ref();
  return p.worker;
}

/** ends a prestarted worker no run took */
export function endPrestarted(): void {
  void prestarted?.worker.terminate();
  prestarted = undefined;
}

/**
 * Splits the files over `n` worker threads, as soon as the files are known (startRun), before this
 * thread has loaded the validator: each loads the schemas and the shipped CRDs itself, and waits for
 * the CRDs among the inputs (run) only when there are some. Each worker reads its files itself and
 * posts each file's analysis as soon as it is done, to run's `onFile` (called in this thread, one
 * file at a time, in the order posted; what came before run() is given first): nothing waits for the
 * whole share. close() ends them when the run never comes (bad options).
 */
export class WorkerPool {
  readonly #workers: Worker[] = [];
  /** per worker: settled when it has posted its last file, or failed */
  readonly #done: Promise<void>[] = [];
  #onFile: ((a: PackedAnalysis, order: number) => void) | undefined;
  /** files a worker finished before run() (one that waits for no CRD starts as soon as it has its files), in order */
  readonly #early: [PackedAnalysis, number][] = [];
  /** how many of its workers were started before the files were known (prestartWorker) */
  prestarted = 0;

  constructor(files: readonly QueuedFile[], n: number, base: Omit<WorkerInput, 'files'>) {
    const biggest = files.reduce((m, f) => Math.max(m, f.bytes), 0);
    const resourceLimits = heapLimits(biggest);
    const shares: [number, QueuedFile][][] = Array.from({ length: n }, () => []);
    const sizes = new Array<number>(n).fill(0);
    // biggest first onto the lightest share: balanced without splitting files
    const bySize = files.map((f, order) => [order, f] as [number, QueuedFile]).sort((a, b) => b[1].bytes - a[1].bytes);
    for (const entry of bySize) {
      const i = sizes.indexOf(Math.min(...sizes));
      shares[i]!.push(entry);
      sizes[i]! += entry[1].bytes;
    }
    // each share in input order: its findings come out in the order one thread would find them
    for (const share of shares) share.sort((a, b) => a[0] - b[0]);
    for (const share of shares) {
      const early = takePrestarted(resourceLimits);
      if (early) this.prestarted++;
      const w = early ?? new (workerThreads().Worker)(WORKER, { resourceLimits });
      w.postMessage({ ...base, files: share } satisfies WorkerInput);
      this.#workers.push(w);
      this.#done.push(
        new Promise<void>((resolve, reject) => {
          w.on('message', (m: WorkerMessage) => {
            switch (m.kind) {
              case 'file':
                if (this.#onFile) this.#onFile(m.packed, m.order);
                else this.#early.push([m.packed, m.order]);
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
      );
    }
    // a failure before run() is reported by run(), not as an unhandled rejection
    for (const d of this.#done) d.catch(() => undefined);
  }

  /** gives the workers the CRDs read meanwhile; resolves once every file is analysed and given to `onFile` */
  async run(crds: CrdInfo[], onFile: (a: PackedAnalysis, order: number) => void): Promise<void> {
    this.#onFile = onFile;
    for (const [a, order] of this.#early.splice(0)) onFile(a, order);
    for (const w of this.#workers) w.postMessage({ crds } satisfies WorkerStart);
    await Promise.all(this.#done);
  }

  /** ends the workers (a run that never came, or failed) */
  close(): void {
    for (const w of this.#workers) void w.terminate();
  }
}
