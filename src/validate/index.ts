import type { Diagnostic } from '../diag/diagnostic.js';
import { parseDocuments, type ManifestDoc } from './documents.js';
import { InputCollector } from './inputs.js';
import { describe, diag, groupOf, locateIn } from './check/context.js';
import { rawSegments } from './check/field-path.js';
import { checkNames } from './check/names.js';
import { checkCrdBatches, checkPostgresCluster } from './check/rebirth.js';
import { buildIndex, checkReferences } from './check/references.js';
import { StructuralChecker } from './check/structural.js';
import { crdHash, isCrd } from './schema/crd.js';
import { compileCrd, defaultCacheDir, listImported, loadCoreBundle, loadPulledCore, SchemaRegistry, type CacheEvent } from './schema/store.js';

export { defaultCacheDir } from './schema/store.js';

export interface ValidateOptions {
  /** compiled-schema cache; default `$XDG_CACHE_HOME/castle/schemas` or `~/.cache/castle/schemas` */
  readonly cacheDir?: string;
  /** core kinds' version, `1.34`; default the bundled one. Other versions need `castle schemas pull` first. */
  readonly kubernetesVersion?: string;
  /** warnings count as failures (`ok` is false) */
  readonly strict?: boolean;
  /** the preflight of `up`/`rebirth`: rebirth-safety findings that lose data are errors, not warnings */
  readonly rebirth?: boolean;
  /** false: never run `kubectl kustomize` */
  readonly kustomize?: boolean;
  /** files bigger than this are reported, not parsed (default 16 MiB) */
  readonly maxFileBytes?: number;
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
  cacheHits: number;
  compiled: number;
  errors: number;
  warnings: number;
  ms: number;
}

export interface ValidateResult {
  readonly diagnostics: Diagnostic[];
  /** file (as shown in diagnostics) -> text, for `formatDiagnostics(diags, f => sources.get(f))` */
  readonly sources: Map<string, string>;
  readonly stats: ValidateStats;
  /** no error (and, with `strict`, no warning) */
  readonly ok: boolean;
}

export class ValidateUsageError extends Error {}

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
  const collector = new InputCollector({ ...(opts.maxFileBytes ? { maxFileBytes: opts.maxFileBytes } : {}), ...(opts.kustomize === false ? { kustomize: false } : {}) });
  for (const p of paths) collector.add(p);
  const diagnostics: Diagnostic[] = [...collector.diagnostics];
  const sources = new Map<string, string>();
  const docs = parseDocuments(collector.files, diagnostics, sources);
  const events: CacheEvent[] = [];
  const registry = loadRegistry(cacheDir, opts.kubernetesVersion, events);

  let crds = 0;
  for (const d of docs) {
    if (!isCrd(d.value)) continue;
    const info = compileCrd(cacheDir, d.value, `${d.src.file}`, crdHash(d.value), events);
    if (info) {
      registry.addCrd(info);
      crds++;
    }
  }

  const stats: ValidateStats = { files: collector.files.length, documents: docs.length, validated: 0, unknownKind: 0, crds, celEvaluated: 0, celUnevaluated: 0, celSkipped: 0, cacheHits: 0, compiled: 0, errors: 0, warnings: 0, ms: 0 };
  const unknown = new Map<string, { first: ManifestDoc; count: number }>();
  const index = buildIndex(docs);
  const unevaluated = new Map<string, { d: Diagnostic; count: number }>();

  for (const d of docs) {
    checkSchema(d, registry, diagnostics, unknown, unevaluated, stats);
    checkNames(d, diagnostics);
    checkReferences(d, index, diagnostics);
    checkPostgresCluster(d, { rebirth: opts.rebirth === true }, diagnostics);
  }
  checkCrdBatches(docs, diagnostics);

  for (const [gvk, u] of unknown) {
    const [apiVersion, kind] = gvk.split('|');
    diagnostics.push(
      diag(u.first, 'info', 'schema/unknown-kind', `no schema for ${kind} ${apiVersion}${u.count > 1 ? ` (${u.count} documents)` : ''}: its structure is not checked`, ['kind'], {
        hint: `import its CRD with \`castle schemas add <crd.yaml|url>\` or \`castle schemas pull\`, or list the CRD among the inputs`,
      }),
    );
  }
  for (const u of unevaluated.values()) diagnostics.push(u.count > 1 ? { ...u.d, message: `${u.d.message} (${u.count} times)` } : u.d);

  const out = dedupe(diagnostics).sort(byLocation);
  stats.cacheHits = events.filter((e) => e.kind === 'hit').length;
  stats.compiled = events.filter((e) => e.kind === 'compiled').length;
  stats.errors = out.filter((x) => x.severity === 'error').length;
  stats.warnings = out.filter((x) => x.severity === 'warning').length;
  stats.ms = Math.round(performance.now() - t0);
  return { diagnostics: out, sources, stats, ok: stats.errors === 0 && (!opts.strict || stats.warnings === 0) };
}

/** Core kinds (bundled or pulled for another version), imported CRDs. CRDs among the inputs are added per run. */
export function loadRegistry(cacheDir: string, kubernetesVersion: string | undefined, events?: CacheEvent[]): SchemaRegistry {
  let core = loadCoreBundle(cacheDir, events);
  if (kubernetesVersion && !sameMinor(kubernetesVersion, core.kubernetesVersion ?? '')) {
    const pulled = loadPulledCore(cacheDir, kubernetesVersion.replace(/^v/, ''));
    if (!pulled) {
      throw new ValidateUsageError(
        `no core schemas for Kubernetes ${kubernetesVersion}: the bundled ones are for ${core.kubernetesVersion}; run \`castle schemas pull --core\` against a ${kubernetesVersion} cluster first`,
      );
    }
    core = pulled;
  }
  const registry = new SchemaRegistry(core);
  for (const info of listImported(cacheDir)) registry.addCrd(info);
  return registry;
}

function sameMinor(a: string, b: string): boolean {
  const mm = (v: string): string => v.replace(/^v/, '').split('.').slice(0, 2).join('.');
  return mm(a) === mm(b);
}

function checkSchema(
  d: ManifestDoc,
  registry: SchemaRegistry,
  out: Diagnostic[],
  unknown: Map<string, { first: ManifestDoc; count: number }>,
  unevaluated: Map<string, { d: Diagnostic; count: number }>,
  stats: ValidateStats,
): void {
  const schema = registry.get(d.apiVersion, d.kind);
  if (!schema || !schema.served) {
    const versions = registry.versionsOf(groupOf(d.apiVersion), d.kind).filter((v) => v.served);
    if (versions.length > 0) {
      const crd = registry.crdName(groupOf(d.apiVersion), d.kind);
      out.push(
        diag(d, 'error', 'schema/version-not-served', `${d.apiVersion} is not served for ${d.kind}${crd ? ` by CRD ${crd}` : ''}: served versions are ${versions.map((v) => (v.group ? `${v.group}/${v.version}` : v.version)).join(', ')}`, ['apiVersion'], {
          hint: `no matches for kind "${d.kind}" in version "${d.apiVersion}" is what the API server answers`,
        }),
      );
      return;
    }
    const key = `${d.apiVersion}|${d.kind}`;
    const u = unknown.get(key);
    if (u) u.count++;
    else unknown.set(key, { first: d, count: 1 });
    stats.unknownKind++;
    return;
  }
  if (schema.deprecated) {
    out.push(diag(d, 'warning', 'schema/deprecated-version', schema.deprecationWarning ?? `${d.apiVersion} ${d.kind} is deprecated`, ['apiVersion']));
  }
  const isCore = schema.origin.startsWith('core');
  const checker = new StructuralChecker({ defs: registry.defs, nullIsAbsent: isCore, evalCel: true, ...(isCore ? {} : { objectMeta: registry.objectMeta() }) });
  checker.checkObject(schema.root, d.value);
  stats.validated++;
  stats.celEvaluated += checker.stats.celEvaluated;
  stats.celUnevaluated += checker.stats.celUnevaluated;
  stats.celSkipped += checker.stats.celSkipped;
  for (const e of checker.errors) {
    const dg: Diagnostic = { severity: e.severity, rule: e.rule, message: e.message, location: locateIn(d, rawSegments(e.path), e.atKey ?? false) };
    if (e.rule === 'cel/unevaluated') {
      const k = `${schema.kind}|${e.message.replace(/^[^:]*: /, '')}`;
      const u = unevaluated.get(k);
      if (u) u.count++;
      else unevaluated.set(k, { d: { ...dg, hint: `counted as not passed; check ${describe(d)} by hand or on a cluster` }, count: 1 });
      continue;
    }
    out.push(dg);
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
