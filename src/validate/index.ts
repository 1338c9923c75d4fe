import { readFileSync } from 'node:fs';
import type { Diagnostic } from '../diag/diagnostic.js';
import { loadBuiltinCrds } from './schema/builtin.js';
import { analyzeDocs, analyzeFiles, emptyAnalysis, mergeAnalysis, type FileAnalysis } from './analyze.js';
import { parseDocuments } from './documents.js';
import { InputCollector, type InputFile } from './inputs.js';
import { analyzeInWorkers, useWorkers } from './pool.js';
import { Locator, type LocRef } from './check/context.js';
import { checkCrdBatches } from './check/rebirth.js';
import { missingNeed, needIsMet, ObjectIndex } from './check/references.js';
import { crdHash, isCrd, type CrdInfo } from './schema/crd.js';
import type { KubeTarget } from './kube-client.js';
import { liveObjects } from './live.js';
import { checkAgainstLive } from './live-update.js';
import { loadRegistry } from './schema/registry-load.js';
import { compileCrd, defaultCacheDir, type CacheEvent } from './schema/store.js';

export { defaultCacheDir } from './schema/store.js';
export { ValidateUsageError, loadRegistry } from './schema/registry-load.js';
export { renderResult, type Format } from './output/render.js';
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

// anywhere in the text: CRDs also come indented in a `kind: List`, or as JSON
const CRD_TEXT = /\bkind["']?\s*:\s*["']?CustomResourceDefinition\b/;

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
export async function validateManifests(paths: readonly string[], opts: ValidateOptions = {}): Promise<ValidateResult> {
  const t0 = performance.now();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const collector = new InputCollector({
    ...(opts.maxFileBytes ? { maxFileBytes: opts.maxFileBytes } : {}),
    ...(opts.kustomize === false ? { kustomize: false } : {}),
  });
  for (const p of paths) collector.add(p);
  collector.followGitOps();
  // Texts are not kept through the run: a file on disk is read again for its findings only (the
  // locations of references nothing provides, the snippets of the printer); rendered and
  // substituted texts, which are not on disk, are kept.
  const kept = new Map<string, string>();
  const onDisk = new Map<string, string>();
  for (const f of collector.files) {
    if (f.abs && !f.substituted) onDisk.set(f.file, f.abs);
    else kept.set(f.file, f.text);
  }
  const textOf = (file: string): string | undefined => kept.get(file) ?? readText(onDisk.get(file));
  const events: CacheEvent[] = [];
  const registry = loadRegistry(cacheDir, opts.kubernetesVersion, events);
  const analyzeOptions = {
    rebirth: opts.rebirth === true,
    cacheDir,
    ...(opts.cluster ? { deferLive: true } : {}),
    ...(opts.fastYaml === false ? { fastYaml: false } : {}),
  };

  // Files that define CRDs go first, in this thread: every other file may need those schemas.
  const crdFiles: InputFile[] = [];
  const rest: (InputFile | undefined)[] = [];
  for (const f of collector.files) (CRD_TEXT.test(f.text) ? crdFiles : rest).push(f);
  const fileCount = collector.files.length;
  collector.files.length = 0;
  const analysis: FileAnalysis = emptyAnalysis();
  analysis.diagnostics.push(...collector.diagnostics);
  const crds: CrdInfo[] = [];
  if (opts.builtinCrds === true) {
    for (const info of loadBuiltinCrds(cacheDir, events, opts.crds)) {
      registry.addCrd(info);
      crds.push(info);
    }
  }
  const crdDocs = parseDocuments(crdFiles, analysis.diagnostics, analyzeOptions);
  for (const d of crdDocs) {
    if (!isCrd(d.value)) continue;
    const info = compileCrd(cacheDir, d.value, d.file, crdHash(d.value), events);
    if (info) {
      registry.addCrd(info);
      crds.push(info);
    }
  }
  analyzeDocs(
    crdDocs,
    registry,
    analyzeOptions,
    analysis,
    crdFiles.some((f) => f.text.includes('${')),
  );

  const index = new ObjectIndex();
  const restBytes = rest.reduce((n, f) => n + (f?.text.length ?? 0), 0);
  let workers = 0;
  if (opts.parallel !== false && useWorkers(restBytes)) {
    const r = await analyzeInWorkers(rest as InputFile[], { cacheDir, kubernetesVersion: opts.kubernetesVersion, crds, options: analyzeOptions });
    workers = r.workers;
    mergeAnalysis(analysis, r.analysis);
  } else {
    let checked = 0;
    for (let i = 0; i < rest.length; i++) {
      analyzeFiles([rest[i]!], registry, analyzeOptions, analysis);
      rest[i] = undefined; // its text is garbage now
      // what is provided so far settles most needs at once: only the others are kept for the end
      for (const p of analysis.provided) index.add(p);
      analysis.provided.length = 0;
      let w = checked;
      for (let j = checked; j < analysis.needs.length; j++) {
        const n = analysis.needs[j]!;
        if (!needIsMet(n, index)) analysis.needs[w++] = n;
      }
      analysis.needs.length = w;
      checked = w;
    }
  }

  const diagnostics = analysis.diagnostics;
  if (opts.cluster && analysis.deferred.length > 0) {
    // custom resources, as updates of their live objects: transition rules and ratcheting
    diagnostics.push(...(await checkAgainstLive(analysis.deferred, registry, textOf, opts.cluster, analysis, analyzeOptions)));
    analysis.deferred.length = 0;
  }
  const locator = new Locator(textOf);
  for (const p of analysis.provided) index.add(p);
  analysis.provided.length = 0;
  let live = false;
  if (opts.cluster) {
    try {
      for (const p of await liveObjects(opts.cluster)) index.add(p);
      live = true;
    } catch (e) {
      diagnostics.push({
        severity: 'error',
        rule: 'cluster/unreachable',
        message: `cannot read the live cluster for references: ${(e as Error).message.split('\n')[0]}`,
      });
    }
  }
  for (const n of analysis.needs) {
    if (needIsMet(n, index)) continue;
    const d = missingNeed(n, locator);
    diagnostics.push(
      live
        ? {
            ...d,
            severity: 'error',
            message: d.message.replace('is not defined in the validated manifests', 'is not defined in the validated manifests nor in the cluster'),
          }
        : d,
    );
  }
  checkCrdBatches(analysis.batch, locator, diagnostics);

  const unknown = new Map<string, { at: LocRef; count: number }>();
  for (const u of analysis.unknown) {
    const e = unknown.get(u.key);
    if (e) e.count++;
    else unknown.set(u.key, { at: u.at, count: 1 });
  }
  for (const [key, u] of unknown) {
    const [apiVersion, kind] = key.split('|');
    diagnostics.push({
      severity: 'info',
      rule: 'schema/unknown-kind',
      message: `no schema for ${kind} ${apiVersion}${u.count > 1 ? ` (${u.count} documents)` : ''}: its structure is not checked`,
      location: locator.resolve(u.at),
      hint: 'import its CRD with `castle schemas add <crd.yaml|url>` or `castle schemas pull`, or list the CRD among the inputs',
    });
  }
  const unevaluated = new Map<string, { d: Diagnostic; count: number }>();
  for (const u of analysis.unevaluated) {
    const e = unevaluated.get(u.key);
    if (e) e.count++;
    else unevaluated.set(u.key, { d: u.diag, count: 1 });
  }
  for (const u of unevaluated.values()) diagnostics.push(u.count > 1 ? { ...u.d, message: `${u.d.message} (${u.count} times)` } : u.d);

  const out = dedupe(diagnostics).sort(byLocation);
  const sources = new Map<string, string>();
  for (const d of out) {
    const file = d.location?.file;
    if (file === undefined || sources.has(file)) continue;
    const text = textOf(file);
    if (text !== undefined) sources.set(file, text);
  }
  const stats: ValidateStats = {
    files: fileCount,
    documents: analysis.documents,
    validated: analysis.validated,
    unknownKind: analysis.unknown.length,
    crds: crds.length,
    celEvaluated: analysis.celEvaluated,
    celUnevaluated: analysis.celUnevaluated,
    celSkipped: analysis.celSkipped,
    placeholders: analysis.placeholders,
    ratcheted: analysis.ratcheted,
    cacheHits: events.filter((e) => e.kind === 'hit').length,
    compiled: events.filter((e) => e.kind === 'compiled').length,
    errors: out.filter((x) => x.severity === 'error').length,
    warnings: out.filter((x) => x.severity === 'warning').length,
    workers,
    ms: Math.round(performance.now() - t0),
  };
  return { diagnostics: out, sources, stats, ok: stats.errors === 0 && (!opts.strict || stats.warnings === 0) };
}

function readText(abs: string | undefined): string | undefined {
  if (abs === undefined) return undefined;
  try {
    return readFileSync(abs, 'utf8');
  } catch {
    return undefined;
  }
}

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const k = `${d.location?.file}:${d.location?.line}:${d.location?.col}:${d.rule}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function byLocation(a: Diagnostic, b: Diagnostic): number {
  const fa = a.location?.file ?? '';
  const fb = b.location?.file ?? '';
  if (fa !== fb) return fa < fb ? -1 : 1;
  return (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0);
}
