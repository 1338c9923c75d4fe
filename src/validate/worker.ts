import { parentPort, workerData } from 'node:worker_threads';
import { analyzeFiles, emptyAnalysis, pack, type AnalyzeOptions, type PackedAnalysis } from './analyze.js';
import { loadQueued, type QueuedFile } from './pool.js';
import { ObjectIndex } from './check/references.js';
import type { CrdInfo } from './schema/crd.js';
import type { SchemaRegistry } from './schema/store.js';
import { loadBuiltinCrds } from './schema/builtin.js';
import { loadRegistry } from './schema/registry-load.js';

/** One worker analyses one share of the files and posts each file's FileAnalysis back (see pool.ts); the CRDs come in a message (WorkerStart). */
export interface WorkerInput {
  cacheDir: string;
  kubernetesVersion: string | undefined;
  options: AnalyzeOptions;
  /** load the shipped CRDs (these operator releases, see schema/operators.ts), as the main thread does; undefined: none */
  builtinCrds: readonly string[] | undefined;
  /** the inputs define CRDs: wait for them (WorkerStart) before analysing */
  inputCrds: boolean;
  /** [position in the input order, file] */
  files: [number, QueuedFile][];
}

/** The schemas a prestarted worker loads before its files come (prestartWorker's workerData): those the run will want, most likely. */
export interface SchemaChoice {
  readonly cacheDir: string;
  readonly kubernetesVersion: string | undefined;
  readonly builtinCrds: readonly string[] | undefined;
}

/** what the worker waits for once its modules and schemas are loaded, if told to (inputCrds): the CRDs read among the inputs meanwhile */
export interface WorkerStart {
  crds: CrdInfo[];
}

export type WorkerMessage = { kind: 'file'; order: number; packed: PackedAnalysis } | { kind: 'done' } | { kind: 'failed'; error: string };

const post = (m: WorkerMessage): void => parentPort?.postMessage(m);
// the thread may be started before its files are known (prestartWorker): they come in the first message, the CRDs in the
// second; one listener queues both, as a message that comes while no listener is on the port is lost
const inbox: unknown[] = [];
let waiting: ((m: unknown) => void) | undefined;
parentPort?.on('message', (m: unknown) => {
  if (waiting) {
    const w = waiting;
    waiting = undefined;
    w(m);
  } else inbox.push(m);
});
const next = <T>(): Promise<T> =>
  inbox.length > 0 ? Promise.resolve(inbox.shift() as T) : new Promise<T>((resolve) => (waiting = resolve as (m: unknown) => void));
function loadSchemas(c: SchemaChoice): SchemaRegistry {
  const registry = loadRegistry(c.cacheDir, c.kubernetesVersion);
  if (c.builtinCrds) for (const crd of loadBuiltinCrds(c.cacheDir, undefined, c.builtinCrds)) registry.addCrd(crd);
  return registry;
}

const sameChoice = (a: SchemaChoice, b: SchemaChoice): boolean =>
  a.cacheDir === b.cacheDir && a.kubernetesVersion === b.kubernetesVersion && JSON.stringify(a.builtinCrds) === JSON.stringify(b.builtinCrds);

// Prestarted with the run's options: the schemas are loaded while the main thread reads the inputs. An error (a
// Kubernetes version with no schemas) is the main thread's to report; the files' message then loads them again.
const preset = workerData as SchemaChoice | undefined;
let preloaded: { readonly choice: SchemaChoice; readonly registry: SchemaRegistry } | undefined;
try {
  if (preset) preloaded = { choice: preset, registry: loadSchemas(preset) };
} catch {
  preloaded = undefined;
}

try {
  const input = await next<WorkerInput>();
  const registry = preloaded && sameChoice(preloaded.choice, input) ? preloaded.registry : loadSchemas(input);
  // started before the inputs' CRDs were read (WorkerPool); they replace a shipped CRD of the same kind, as in the main thread
  if (input.inputCrds) for (const c of (await next<WorkerStart>()).crds) registry.addCrd(c);
  // what this thread's files provided so far: the references they meet need not cross to the main thread
  const known = new ObjectIndex();
  for (const [order, q] of input.files) {
    const a = emptyAnalysis();
    const f = loadQueued(q, a.diagnostics);
    if (f) analyzeFiles([f], registry, input.options, a);
    post({ kind: 'file', order, packed: pack(a, known) });
  }
  post({ kind: 'done' });
  parentPort?.removeAllListeners('message');
} catch (e) {
  post({ kind: 'failed', error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
}
