import { parentPort, workerData } from 'node:worker_threads';
import { analyzeFiles, emptyAnalysis, pack, type AnalyzeOptions, type PackedAnalysis } from './analyze.js';
import { loadQueued, type QueuedFile } from './pool.js';
import type { CrdInfo } from './schema/crd.js';
import { loadRegistry } from './schema/registry-load.js';

/** One worker analyses one share of the files and posts each file's FileAnalysis back (see pool.ts); the CRDs come in a message (WorkerStart). */
export interface WorkerInput {
  cacheDir: string;
  kubernetesVersion: string | undefined;
  options: AnalyzeOptions;
  /** [position in the input order, file] */
  files: [number, QueuedFile][];
}

/** what the worker waits for once its modules and schemas are loaded: the CRDs read among the inputs meanwhile */
export interface WorkerStart {
  crds: CrdInfo[];
}

export type WorkerMessage = { kind: 'file'; order: number; packed: PackedAnalysis } | { kind: 'done' } | { kind: 'failed'; error: string };

const input = workerData as WorkerInput;
const post = (m: WorkerMessage): void => parentPort?.postMessage(m);
try {
  const registry = loadRegistry(input.cacheDir, input.kubernetesVersion);
  // started before the inputs' CRDs were read (WorkerPool): they come in the first message
  const { crds } = await new Promise<WorkerStart>((resolve) => parentPort?.once('message', resolve));
  for (const c of crds) registry.addCrd(c);
  for (const [order, q] of input.files) {
    const a = emptyAnalysis();
    const f = loadQueued(q, a.diagnostics);
    if (f) analyzeFiles([f], registry, input.options, a);
    post({ kind: 'file', order, packed: pack(a) });
  }
  post({ kind: 'done' });
} catch (e) {
  post({ kind: 'failed', error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
}
