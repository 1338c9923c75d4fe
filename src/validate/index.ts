import type { Diagnostic } from '../diag/diagnostic.js';
import { loadBuiltinCrds } from './schema/builtin.js';
import { collectGarbage } from './heap.js';
import {
  analyzeDocs,
  analyzeFiles,
  holdable,
  holdableNeed,
  emptyAnalysis,
  mergeAnalysis,
  pack,
  unpackNeed,
  type FileAnalysis,
  type PackedAnalysis,
  type PackedNeed,
} from './analyze.js';
import { parseDocuments } from './documents.js';
import { endPrestarted, loadQueued, type WorkerPool } from './pool.js';
import { startPool, startRun, type StartedRun } from './start.js';
import { byLine, dedupeSorted } from './order.js';
import { Spool } from './spool.js';
import { readText } from './read-text.js';
import { Locator, type LocRef } from './check/context.js';
import { checkCrdBatches } from './check/rebirth.js';
import { missingNeed, needIsMet, needKey, ObjectIndex } from './check/references.js';
import { crdHash, isCrd, type CrdInfo } from './schema/crd.js';
import type { KubeTarget } from './kube-client.js';
import { loadRegistry } from './schema/registry-load.js';
import { compileCrd, type CacheEvent } from './schema/store.js';

export { defaultCacheDir } from './schema/store.js';
export { ValidateUsageError, loadRegistry } from './schema/registry-load.js';
export { renderResult, type Format } from './output/render.js';
export { startRun, type StartedRun } from './start.js';
export type { KubeTarget } from './kube-client.js';

export interface ValidateOptions {
  /** compiled-schema cache; default `$XDG_CACHE_HOME/castle/schemas` or `~/.cache/castle/schemas` */
  readonly cacheDir?: string;
  /** core kinds' version, `1.34`; default the bundled one. Other versions need `castle schemas pull --core` first. */
  readonly kubernetesVersion?: string;
  /** warnings count as failures (`ok` is false) */
  readonly strict?: boolean;
  /** the preflight of `up`/`rebirth`: rebirth-safety findings that lose data are errors, not warnings */
  readonly rebirth?: boolean;
  /** false: never run `kubectl kustomize` */
  readonly kustomize?: boolean;
  /** files bigger than this are reported, not parsed (default 16 MiB) */
  readonly maxFileBytes?: number;
  /** also know the CRDs shipped with Castle (PGO, External Secrets); the CLI and the preflight set it */
  readonly builtinCrds?: boolean;
  /** the shipped operator releases to use instead of the newest (`eso@0.19`); see schema/operators.ts */
  readonly crds?: readonly string[];
  /** false: read YAML with the `yaml` package only, never the line reader (same results, slower; for the bench) */
  readonly fastYaml?: boolean;
  /** worker threads for big inputs (default true) */
  readonly parallel?: boolean;
  /** how many worker threads analyse the files: default by input size and cores (see pool.ts); 0 for none */
  readonly workers?: number;
  /** also resolve references against this live cluster (kubeconfig); then a reference found nowhere is an error */
  readonly cluster?: KubeTarget;
}

export interface ValidateStats {
  files: number;
  documents: number;
  /** documents checked against a schema */
  validated: number;
  /** documents whose kind no schema knows */
  unknownKind: number;
  crds: number;
  celEvaluated: number;
  celUnevaluated: number;
  celSkipped: number;
  /** CRD rules whose estimated cost (checked when the CRD is applied) Castle could not estimate */
  celNotEstimated: number;
  /** findings on `${VAR}` placeholders no postBuild.substitute resolved: not reported */
  placeholders: number;
  /** `--cluster`: errors on values an update leaves unchanged, dropped as the API server ratchets them */
  ratcheted: number;
  cacheHits: number;
  compiled: number;
  errors: number;
  warnings: number;
  workers: number;
  ms: number;
}

export interface ValidateResult {
  readonly diagnostics: Diagnostic[];
  /** file (as shown in diagnostics) -> text, for the files that have diagnostics: `formatDiagnostics(diags, f => sources.get(f))` */
  readonly sources: Map<string, string>;
  readonly stats: ValidateStats;
  /** no error (and, with `strict`, no warning) */
  readonly ok: boolean;
}

/** What a streamed run returns: the findings went to the callback. */
export interface ValidateRun {
  readonly stats: ValidateStats;
  readonly ok: boolean;
}

/**
 * Gets the findings one at a time, in their final order (by file, then line and column; in the
 * order found on a tie), without duplicates. `source` gives the text of a finding's file (read once
 * per file, while that file's findings are given). A sink that returns a promise (it wrote a piece of
 * output) is waited for before the next finding.
 */
export type FindingSink = (d: Diagnostic, source: (file: string) => string | undefined) => void | Promise<void>;

/**
 * Validates Kubernetes manifests offline, with the API server's rules, before anything is destroyed.
 *
 * Contract, for the preflight of `up`/`rebirth`:
 * - `paths`: files (YAML/JSON, multi-document), directories (walked; a directory with a
 *   kustomization.yaml is read through its `resources`, rendered with `kubectl kustomize` when it
 *   needs to be and kubectl exists), relative to the process cwd or absolute.
 * - Never throws for bad input: unreadable, binary, huge or malformed files, YAML bombs and unknown
 *   kinds become diagnostics with a location. Throws `ValidateUsageError` only for bad options
 *   (a `kubernetesVersion` with no schemas).
 * - `ok` false means: do not wipe. Print with `formatDiagnostics(result.diagnostics, (f) => result.sources.get(f))`.
 * - Pass `{ rebirth: true }` from the preflight: a PostgresCluster that would come back empty is an error.
 */
export async function validateManifests(paths: readonly string[], opts: ValidateOptions = {}, started?: StartedRun): Promise<ValidateResult> {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const run = await validateStream(
    paths,
    opts,
    (d, source) => {
      diagnostics.push(d);
      const file = d.location?.file;
      if (file === undefined || sources.has(file)) return;
      const text = source(file);
      if (text !== undefined) sources.set(file, text);
    },
    started,
  );
  return { diagnostics, sources, stats: run.stats, ok: run.ok };
}

/**
 * `validateManifests`, with the findings given to `emit` one at a time instead of returned: memory
 * does not grow with their number (they wait in a Spool, on disk past its budget, until every
 * file is read). The CLI prints this way.
 */
export async function validateStream(paths: readonly string[], opts: ValidateOptions, emit: FindingSink, started?: StartedRun): Promise<ValidateRun> {
  const pool: { current?: WorkerPool | undefined } = {};
  let spool: Spool<Diagnostic> | undefined;
  let needs: Spool<PackedNeed> | undefined;
  try {
    const s = started ?? startRun(paths, opts);
    pool.current = s.pool;
    // this thread's findings and references are held as they are: budgets they fit in at 10,000 documents, so such a
    // run never makes them JSON and reads them back; a worker's come as JSON, read back however long they are held
    const here = s.workers === 0;
    spool = new Spool<Diagnostic>(here ? HELD_FINDINGS_BYTES : undefined);
    needs = new Spool<PackedNeed>(here ? HELD_REFERENCES_BYTES : undefined);
    return await run(s, opts, spool, needs, emit, pool);
  } finally {
    endPrestarted();
    pool.current?.close();
    spool?.close();
    needs?.close();
  }
}

/** the bench's 10,000-document findings corpus: 39,989 findings, about 18 MiB as objects; 30,000 references, about 5 MiB */
const HELD_FINDINGS_BYTES = 24 * 1024 * 1024;
const HELD_REFERENCES_BYTES = 8 * 1024 * 1024;

async function run(
  started: StartedRun,
  opts: ValidateOptions,
  spool: Spool<Diagnostic>,
  needs: Spool<PackedNeed>,
  emit: FindingSink,
  /** the worker threads, once started: ended by the caller however the run ends */
  pool: { current?: WorkerPool | undefined },
): Promise<ValidateRun> {
  const { t0, cacheDir, analyzeOptions, crdFiles, rest, kept, onDisk, fileCount, workers } = started;
  const textOf = (file: string): string | undefined => kept.get(file) ?? readText(onDisk.get(file));
  const events: CacheEvent[] = [];
  const registry = loadRegistry(cacheDir, opts.kubernetesVersion, events);
  const analysis: FileAnalysis = emptyAnalysis();
  for (const d of started.diagnostics) spool.add(d.location?.file ?? '', d);
  const crds: CrdInfo[] = [];
  // the CRDs among the inputs: the workers load the shipped ones themselves
  const inputCrds: CrdInfo[] = [];
  if (opts.builtinCrds === true) {
    for (const info of loadBuiltinCrds(cacheDir, events, opts.crds)) {
      registry.addCrd(info);
      crds.push(info);
    }
  }
  // the inputs' texts are dropped (files on disk are read again when analysed) and the schemas are loaded
  collectGarbage();
  // a cold cache: the workers start now, to read the schemas this thread has just compiled (see schemasCached)
  if (workers > 0 && !pool.current) pool.current = startPool(started);
  const crdDocs = parseDocuments(crdFiles, analysis.diagnostics, analyzeOptions);
  for (const d of crdDocs) {
    if (!isCrd(d.value)) continue;
    const info = compileCrd(cacheDir, d.value, d.file, crdHash(d.value), events);
    if (info) {
      registry.addCrd(info);
      crds.push(info);
      inputCrds.push(info);
    }
  }
  analyzeDocs(
    crdDocs,
    registry,
    analyzeOptions,
    analysis,
    crdFiles.some((f) => f.text.includes('${')),
  );
  // what is known of kinds without a schema and of rules not evaluated: one entry per kind or rule
  // `rank`: where the first one was found, as [file, entry] in input order, whichever thread found it
  const unknown = new Map<string, { at: LocRef; count: number; rank: Rank }>();
  let unknownKind = 0;
  const unevaluated = new Map<string, { d: Diagnostic; count: number; rank: Rank }>();
  const index = new ObjectIndex();
  // After each file: its findings go to the spool, what it provides settles most needs at once,
  // and the others wait in a spool for the last file (then for the live cluster).
  // `p`: what a worker packed (its counts are merged already); else this thread's analysis
  const settle = (order: number, p: PackedAnalysis = pack(analysis)): void => {
    const f = p.findings;
    for (let i = 0; i < f.length; i += 2) spool.addLine(f[i]!, f[i + 1]!);
    for (const k of p.provided) index.addKey(k);
    const n = p.needs;
    for (let i = 0; i < n.length; i += 3) if (!index.hasKey(n[i]!)) needs.addLine(n[i + 1]!, n[i + 2]!);
    analysis.unknown.forEach((u, i) => {
      const e = unknown.get(u.key);
      if (!e) unknown.set(u.key, { at: u.at, count: 1, rank: [order, i] });
      else {
        e.count++;
        if (before([order, i], e.rank)) Object.assign(e, { at: u.at, rank: [order, i] });
      }
    });
    unknownKind += analysis.unknown.length;
    analysis.unknown.length = 0;
    analysis.unevaluated.forEach((u, i) => {
      const e = unevaluated.get(u.key);
      if (!e) unevaluated.set(u.key, { d: u.diag, count: 1, rank: [order, i] });
      else {
        e.count++;
        if (before([order, i], e.rank)) Object.assign(e, { d: u.diag, rank: [order, i] });
      }
    });
    analysis.unevaluated.length = 0;
  };
  /** after a file analysed in this thread: its findings and references are held as they are, not made JSON and read back */
  const settleHere = (order: number): void => {
    for (const d of analysis.diagnostics) spool.addRecord(d.location?.file ?? '', d, holdable(d));
    analysis.diagnostics.length = 0;
    // what the file provides first: its own references to it are met
    for (const [kind, namespace, name] of analysis.provided) index.addKey(ObjectIndex.key(kind, namespace, name));
    analysis.provided.length = 0;
    for (const n of analysis.needs) {
      if (index.hasKey(needKey(n))) continue;
      const h = holdableNeed(n);
      needs.addRecord(n.at.file, h.packed, h.bytes);
    }
    analysis.needs.length = 0;
    settle(order);
  };
  settleHere(-1);

  if (pool.current) {
    await pool.current.run(inputCrds, (p, order) => {
      mergeAnalysis(analysis, p.analysis);
      settle(order, p);
    });
  } else {
    for (let i = 0; i < rest.length; i++) {
      const f = loadQueued(rest[i]!, analysis.diagnostics);
      rest[i] = undefined; // its text is garbage once analysed
      if (f) analyzeFiles([f], registry, analyzeOptions, analysis);
      settleHere(i);
    }
  }

  if (opts.cluster && analysis.deferred.length > 0) {
    // custom resources, as updates of their live objects: transition rules and ratcheting; their findings come after every file's own
    // the cluster's modules (Node's HTTP and TLS with them) are loaded only for a run against a cluster
    const { checkAgainstLive } = await import('./live-update.js');
    const problems = await checkAgainstLive(analysis.deferred, registry, textOf, opts.cluster, analysis, analyzeOptions);
    for (const d of problems) analysis.diagnostics.push(d);
    analysis.deferred.length = 0;
    settleHere(rest.length);
  }
  const locator = new Locator(textOf);
  let live = false;
  // findings of the whole run, after each file's own: [file, finding], in the order they are found
  const late: Diagnostic[] = [];
  if (opts.cluster) {
    try {
      const { liveObjects } = await import('./live.js');
      for (const p of await liveObjects(opts.cluster)) index.add(p);
      live = true;
    } catch (e) {
      late.push({
        severity: 'error',
        rule: 'cluster/unreachable',
        message: `cannot read the live cluster for references: ${(e as Error).message.split('\n')[0]}`,
      });
    }
  }
  const missing = (n: ReturnType<typeof unpackNeed>): Diagnostic => {
    const d = missingNeed(n, n.loc !== undefined ? n.loc : locator.resolve(n.at));
    return live
      ? {
          ...d,
          severity: 'error',
          message: d.message.replace('is not defined in the validated manifests', 'is not defined in the validated manifests nor in the cluster'),
        }
      : d;
  };
  checkCrdBatches(analysis.batch, locator, late);
  analysis.batch.length = 0;

  for (const [key, u] of [...unknown].sort((a, b) => compareRank(a[1].rank, b[1].rank))) {
    const [apiVersion, kind] = key.split('|');
    late.push({
      severity: 'info',
      rule: 'schema/unknown-kind',
      message: `no schema for ${kind} ${apiVersion}${u.count > 1 ? ` (${u.count} documents)` : ''}: its structure is not checked`,
      location: locator.resolve(u.at),
      hint: 'import its CRD with `castle schemas add <crd.yaml|url>` or `castle schemas pull`, or list the CRD among the inputs',
    });
  }
  for (const u of [...unevaluated.values()].sort((a, b) => compareRank(a.rank, b.rank)))
    late.push(u.count > 1 ? { ...u.d, message: `${u.d.message} (${u.count} times)` } : u.d);
  const lateOf = new Map<string, Diagnostic[]>();
  for (const d of late) {
    const file = d.location?.file ?? '';
    const l = lateOf.get(file);
    if (l) l.push(d);
    else lateOf.set(file, [d]);
  }

  // file by file, in the order printed: only one file's findings and text are held at a time
  let errors = 0;
  let warnings = 0;
  const files = [...new Set([...spool.files(), ...needs.files(), ...lateOf.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const file of files) {
    const found = spool.take(file);
    // references nothing provides: their warnings are made when their file is printed
    for (const p of needs.take(file)) {
      const n = unpackNeed(file, p);
      if (!needIsMet(n, index)) found.push(missing(n));
    }
    for (const d of lateOf.get(file) ?? []) found.push(d);
    let text: string | undefined | null = null;
    const source = (f: string): string | undefined => {
      if (f !== file) return textOf(f);
      if (text === null) text = textOf(f);
      return text;
    };
    for (const d of dedupeSorted(found.sort(byLine))) {
      if (d.severity === 'error') errors++;
      else if (d.severity === 'warning') warnings++;
      // a sink that writes a piece out is waited for: its reader may be slow, and what it wrote is let go on the loop's turn
      const wrote = emit(d, source);
      if (wrote) await wrote;
    }
  }
  const stats: ValidateStats = {
    files: fileCount,
    documents: analysis.documents,
    validated: analysis.validated,
    unknownKind,
    crds: crds.length,
    celEvaluated: analysis.celEvaluated,
    celUnevaluated: analysis.celUnevaluated,
    celSkipped: analysis.celSkipped,
    celNotEstimated: analysis.celNotEstimated,
    placeholders: analysis.placeholders,
    ratcheted: analysis.ratcheted,
    cacheHits: events.filter((e) => e.kind === 'hit').length,
    compiled: events.filter((e) => e.kind === 'compiled').length,
    errors,
    warnings,
    workers,
    ms: Math.round(performance.now() - t0),
  };
  return { stats, ok: stats.errors === 0 && (!opts.strict || stats.warnings === 0) };
}

/** [file in input order (-1: the CRD files), entry in that file's analysis] */
type Rank = readonly [number, number];

function compareRank(a: Rank, b: Rank): number {
  return a[0] - b[0] || a[1] - b[1];
}

function before(a: Rank, b: Rank): boolean {
  return compareRank(a, b) < 0;
}
