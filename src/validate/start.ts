import type { Diagnostic } from '../diag/diagnostic.js';
import type { AnalyzeOptions } from './analyze.js';
import { InputCollector, type InputFile } from './inputs.js';
import { endPrestarted, schemaChoice, schemasCached, workerCount, WorkerPool, type QueuedFile } from './pool.js';
import type { ValidateOptions } from './index.js';
import type { SchemaChoice } from './worker.js';

// The first part of a run, apart from the validator (index.ts loads ~100 more modules, 110-130 ms): the inputs are read
// and the worker threads get their files before this thread has loaded the rest, so that they start analysing at once.

// anywhere in the text: CRDs also come indented in a `kind: List`, or as JSON
const CRD_TEXT = /\bkind["']?\s*:\s*["']?CustomResourceDefinition\b/;

/** A run whose inputs are read and whose workers (if any) have their files; validateStream goes on from it. */
export interface StartedRun {
  readonly t0: number;
  /** the schemas every thread loads: the cache, the Kubernetes version, the shipped CRDs */
  readonly choice: SchemaChoice;
  readonly cacheDir: string;
  readonly analyzeOptions: AnalyzeOptions;
  /** files that define CRDs: analysed first, in this thread */
  readonly crdFiles: InputFile[];
  /** the other files, in input order; an entry is dropped (undefined) once analysed in this thread */
  readonly rest: (QueuedFile | undefined)[];
  /** file (as shown) -> text, for texts not on disk (rendered, substituted) */
  readonly kept: Map<string, string>;
  /** file (as shown) -> its path on disk */
  readonly onDisk: Map<string, string>;
  readonly fileCount: number;
  /** what reading the inputs found (unreadable, binary, too large...) */
  readonly diagnostics: readonly Diagnostic[];
  readonly workers: number;
  /** the worker threads, already given their files (on a cold cache, undefined: the run starts them once it has compiled the schemas); the run ends them however it ends */
  readonly pool: WorkerPool | undefined;
}

/**
 * Reads the inputs (see validateManifests for what `paths` may be) and starts the worker threads on them. The texts
 * are not kept: a file on disk is read again when it is analysed and for its findings; rendered and substituted texts,
 * which are not on disk, are. The workers load the shipped CRDs themselves and wait only for the CRDs among the inputs,
 * when there are some. Never throws for bad input; the caller must end the pool (validateStream does).
 */
export function startRun(paths: readonly string[], opts: ValidateOptions): StartedRun {
  const t0 = performance.now();
  const choice = schemaChoice(opts);
  const cacheDir = choice.cacheDir;
  const collector = new InputCollector({
    ...(opts.maxFileBytes ? { maxFileBytes: opts.maxFileBytes } : {}),
    ...(opts.kustomize === false ? { kustomize: false } : {}),
  });
  for (const p of paths) collector.add(p);
  collector.followGitOps();
  const kept = new Map<string, string>();
  const onDisk = new Map<string, string>();
  for (const f of collector.files) {
    if (f.abs && !f.substituted) onDisk.set(f.file, f.abs);
    else kept.set(f.file, f.text);
  }
  const analyzeOptions: AnalyzeOptions = {
    rebirth: opts.rebirth === true,
    cacheDir,
    ...(opts.cluster ? { deferLive: true } : {}),
    ...(opts.fastYaml === false ? { fastYaml: false } : {}),
  };
  // Files that define CRDs go first, in this thread: every other file may need those schemas.
  const crdFiles: InputFile[] = [];
  const rest: (QueuedFile | undefined)[] = [];
  for (const f of collector.files) {
    if (CRD_TEXT.test(f.text)) crdFiles.push(f);
    else rest.push(f.abs && !f.substituted ? deferred(f) : { ...f, bytes: f.text.length });
  }
  const restBytes = rest.reduce((n, f) => n + (f?.bytes ?? 0), 0);
  const workers = opts.parallel === false ? 0 : (opts.workers ?? workerCount(restBytes));
  const fileCount = collector.files.length;
  collector.files.length = 0;
  if (workers === 0) endPrestarted();
  const run = { t0, choice, cacheDir, analyzeOptions, crdFiles, rest, kept, onDisk, fileCount, diagnostics: collector.diagnostics, workers };
  return { ...run, pool: workers > 0 && schemasCached(choice) ? startPool(run) : undefined };
}

/** The run's worker threads, given every file but those that define CRDs; they wait for those CRDs when there are some. */
export function startPool(run: Omit<StartedRun, 'pool'>): WorkerPool {
  return new WorkerPool(run.rest as QueuedFile[], run.workers, { ...run.choice, inputCrds: run.crdFiles.length > 0, options: run.analyzeOptions });
}

/** A file on disk waits for its turn without its text, which is read again then (see loadQueued). */
function deferred(f: InputFile): QueuedFile {
  return {
    file: f.file,
    text: '',
    bytes: f.bytes ?? f.text.length,
    ...(f.via !== undefined ? { via: f.via } : {}),
    ...(f.abs !== undefined ? { abs: f.abs } : {}),
    deferred: true,
  };
}
