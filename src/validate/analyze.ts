import type { Diagnostic, SourceLocation } from '../diag/diagnostic.js';
import { readFile, type ManifestDoc } from './documents.js';
import type { InputFile } from './inputs.js';
import { describe, diag, groupOf, locateIn, locRef, type LocRef } from './check/context.js';
import { rawSegments } from './check/field-path.js';
import { checkNames } from './check/names.js';
import { checkCrdCost } from './check/crd-cost.js';
import { checkWorkload } from './check/workloads.js';
import { batchMeta, checkPostgresCluster, type BatchMeta } from './check/rebirth.js';
import { checkReferences, needKey, ObjectIndex, provides, type Need, type NeedTarget, type Provided } from './check/references.js';
import { StructuralChecker, type StructuralOptions } from './check/structural.js';
import { flat, shared } from './heap.js';
import { kubernetesHint, servedSince } from './schema/kubernetes-releases.js';
import { releaseHint } from './schema/operators.js';
import type { SchemaRegistry } from './schema/store.js';

/**
 * Everything that can be decided from one file alone. Results are plain data, so a file can be
 * analysed in a worker thread; what needs every file (references, CRD batches) is settled after.
 */
export interface FileAnalysis {
  diagnostics: Diagnostic[];
  batch: BatchMeta[];
  provided: Provided[];
  needs: PlacedNeed[];
  unknown: { key: string; at: LocRef }[];
  unevaluated: { key: string; diag: Diagnostic }[];
  documents: number;
  validated: number;
  celEvaluated: number;
  celUnevaluated: number;
  celSkipped: number;
  /** CRD rules (and messageExpressions) whose estimated cost the API server checks but Castle could not estimate */
  celNotEstimated: number;
  /** findings dropped because they are on unsubstituted `${VAR}` placeholders */
  placeholders: number;
  /** custom resources left for the check against the live cluster (`deferLive`) */
  deferred: DeferredDoc[];
  /** errors an update would ratchet (values equal to the live object's) */
  ratcheted: number;
}

/** A custom resource to check as an update of its live object: where it is, and what to GET. */
export interface DeferredDoc {
  readonly file: string;
  readonly doc: number;
  readonly base: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
}

export interface AnalyzeOptions {
  readonly rebirth: boolean;
  /** false: read YAML with the `yaml` package only (see ParseOptions) */
  readonly fastYaml?: boolean;
  /** where the shipped operator releases are kept compiled, for the hints that name another release */
  readonly cacheDir?: string;
  /** `--cluster`: custom resources are not schema-checked here but recorded, to be checked against their live objects */
  readonly deferLive?: boolean;
}

export function emptyAnalysis(): FileAnalysis {
  return {
    diagnostics: [],
    batch: [],
    provided: [],
    needs: [],
    unknown: [],
    unevaluated: [],
    documents: 0,
    validated: 0,
    celEvaluated: 0,
    celUnevaluated: 0,
    celSkipped: 0,
    celNotEstimated: 0,
    placeholders: 0,
    deferred: [],
    ratcheted: 0,
  };
}

/**
 * Whether the next file is read with positions recorded (ParseOptions.track): when most documents of
 * the last file had a finding, the next file's likely do too (a tree's files are alike), and one read
 * that records them costs half of a read, then another of each document with a finding. The first
 * file is read so too: real trees have findings. The first file of the bench's corpora (100 documents,
 * the process's code not yet optimized): with a finding in each, 50-59 ms against 66-77 ms read without
 * positions and then each document again; without findings, 54-62 ms against 49-55 ms (the faster half
 * of 10 runs each). Per thread; it changes the time taken, never a result.
 */
let trackNext = true;

export function analyzeFiles(files: readonly InputFile[], registry: SchemaRegistry, o: AnalyzeOptions, into: FileAnalysis = emptyAnalysis()): FileAnalysis {
  for (const f of files) {
    const mark = markOf(into);
    const placeholders = f.text.includes('${');
    let docs = 0;
    let found = 0;
    // a document at a time, as the file is read: its values and positions are garbage once it is checked
    readFile(
      f,
      into.diagnostics,
      trackNext ? { ...o, track: true } : o,
      (ds) => {
        docs += ds.length;
        found += analyzeDocs(ds, registry, o, into, placeholders);
      },
      () => {
        rollBack(into, mark);
        docs = 0;
        found = 0;
      },
    );
    if (docs > 0) trackNext = found * 2 > docs;
  }
  return into;
}

/** How long each list of a FileAnalysis is, and each count: what it was before a file, to go back to. */
type Mark = { [K in keyof FileAnalysis]: number };

function markOf(a: FileAnalysis): Mark {
  const m = {} as Record<string, number>;
  for (const [k, v] of Object.entries(a)) m[k] = Array.isArray(v) ? v.length : (v as number);
  return m as Mark;
}

function rollBack(a: FileAnalysis, m: Mark): void {
  const r = a as unknown as Record<string, unknown[] | number>;
  for (const [k, n] of Object.entries(m)) {
    const v = r[k];
    if (Array.isArray(v)) v.length = n;
    else r[k] = n;
  }
}

/** a Flux post-build variable, `${VAR}` or `${VAR:=default}` (drone/envsubst syntax) */
const PLACEHOLDER = /\$\{[A-Za-z_][A-Za-z0-9_]*(?:[:=?+-][^}]*)?\}/;

/**
 * `placeholders`: the file holds `${...}` left after substitution (none known for it). Flux replaces
 * them before the API server sees the object, so a finding on such a value says nothing: it is
 * dropped and counted, never reported with the literal placeholder. Returns how many documents had a finding.
 */
export function analyzeDocs(docs: readonly ManifestDoc[], registry: SchemaRegistry, o: AnalyzeOptions, a: FileAnalysis, placeholders = false): number {
  let found = 0;
  for (const d of docs) {
    a.documents++;
    const before = a.diagnostics.length;
    const needsBefore = a.needs.length;
    const schema = o.deferLive ? registry.get(d.apiVersion, d.kind) : undefined;
    if (schema?.served && !schema.origin.startsWith('core') && d.name) {
      a.deferred.push({ file: d.file, doc: d.doc, base: JSON.stringify(d.base), apiVersion: d.apiVersion, kind: d.kind, name: d.name, namespace: d.namespace });
    } else checkSchema(d, registry, a, o.cacheDir);
    checkNames(d, a.diagnostics);
    if (d.kind === 'CustomResourceDefinition' && d.apiVersion === 'apiextensions.k8s.io/v1')
      a.celNotEstimated += checkCrdCost(d, a.diagnostics, registry.core.kubernetesVersion).notEstimated;
    checkWorkload(d, a.diagnostics);
    checkReferences(d, a.needs, a.diagnostics);
    checkPostgresCluster(d, o, a.diagnostics);
    if (placeholders) dropPlaceholderFindings(d, a, before, needsBefore);
    if (a.diagnostics.length > before) found++;
    // a document with a finding has its positions built: its references are placed now, for nothing,
    // in case nothing provides them (else that warning would parse the document again)
    if (d.hasPos) for (let i = needsBefore; i < a.needs.length; i++) a.needs[i] = placed(d, a.needs[i]!);
    for (const p of provides(d)) a.provided.push(p);
    // only documents applied in a batch (a kustomization) can be applied with their CRD
    if (d.via !== undefined) a.batch.push(batchMeta(d));
  }
  return found;
}

/** A reference with its location, when it was free to find (see analyzeDocs). */
export interface PlacedNeed extends Need {
  readonly loc?: SourceLocation;
}

/**
 * A reference as it is packed and spooled, its file being the spool's key: a JSON array, [kind,
 * namespace (null: none), name, line, col, length (null: none)] when its location was found, else
 * [kind, namespace, name, the LocRef to find it by]. As an object with its location's file again, the
 * 30,000 references of the bench's findings corpus were 5.3 MB of JSON instead of 1.6, and took the
 * worker twice as long to write.
 */
export type PackedNeed =
  | readonly [kind: NeedTarget['kind'], namespace: string | null, name: string, line: number, col: number, length: number | null]
  | readonly [kind: NeedTarget['kind'], namespace: string | null, name: string, at: LocRef];

/** A packed reference's target and where it is: its location, or the LocRef to find it by. */
export function unpackNeed(
  file: string,
  p: PackedNeed,
): NeedTarget & ({ readonly at: LocRef; readonly loc?: undefined } | { readonly at?: undefined; readonly loc: SourceLocation }) {
  const namespace = p[1] ?? undefined;
  if (p.length === 4) return { kind: p[0], namespace, name: p[2], at: p[3] };
  return { kind: p[0], namespace, name: p[2], loc: p[5] === null ? { file, line: p[3], col: p[4] } : { file, line: p[3], col: p[4], length: p[5] } };
}

function packNeed(n: PlacedNeed): string {
  return JSON.stringify(packedNeed(n, n.kind, n.namespace ?? null, n.name, asIs));
}

function asIs(at: LocRef): LocRef {
  return at;
}

/** a LocRef kept to the end (its place found then): the keys of its path too are copies */
function heldLocRef(at: LocRef): LocRef {
  return { ...at, path: at.path.map((s) => (typeof s === 'string' ? shared(s) : s)) };
}

/** `n` packed with these strings; `heldAt` gives the LocRef it keeps when its location is not found yet */
function packedNeed(n: PlacedNeed, kind: Need['kind'], ns: string | null, name: string, heldAt: (at: LocRef) => LocRef): PackedNeed {
  const l = n.loc;
  // the location's file is the reference's own (the spool key) but for a document read from elsewhere: then its LocRef goes
  return l && l.file === n.at.file ? [kind, ns, name, l.line, l.col, l.length ?? null] : [kind, ns, name, heldAt(n.at)];
}

/**
 * A reference of this thread, packed to be held as it is (Spool.addRecord): its strings, which may be
 * slices of its file's text, made flat copies shared with equal ones (heap.ts). An ExternalSecret's
 * store kind, read from the document, once kept the text of every file of the bench's findings corpus
 * (8 MB) to the end of the run. Returns it and at most what it holds in memory.
 */
export function holdableNeed(n: PlacedNeed): { readonly packed: PackedNeed; readonly bytes: number } {
  const ns = n.namespace === undefined ? null : shared(n.namespace);
  const packed = packedNeed(n, shared(n.kind) as Need['kind'], ns, shared(n.name), heldLocRef);
  return { packed, bytes: 2 * (n.name.length + (n.namespace?.length ?? 0)) + (packed.length === 4 ? 400 : 120) };
}

function placed(d: ManifestDoc, n: Need): PlacedNeed {
  // written out: a spread of the Need costs several times the rest of this function
  return { kind: n.kind, namespace: n.namespace, name: n.name, at: n.at, loc: d.pos.locate(n.at.path, n.at.key ?? false) };
}

export function dropPlaceholderFindings(d: ManifestDoc, a: FileAnalysis, before: number, needsBefore: number): void {
  const kept = a.needs.slice(needsBefore).filter((n) => !PLACEHOLDER.test(n.name) && !(n.namespace !== undefined && PLACEHOLDER.test(n.namespace)));
  a.placeholders += a.needs.length - needsBefore - kept.length;
  a.needs.length = needsBefore;
  for (const n of kept) a.needs.push(n);
  if (a.diagnostics.length === before) return;
  const text = d.pos.text;
  const found = a.diagnostics.splice(before);
  for (const dg of found) {
    const l = dg.location;
    if (l?.line !== undefined && dg.rule !== 'schema/required') {
      const start = d.pos.offsetOf(l.line, l.col);
      const lineEnd = text.indexOf('\n', start);
      if (PLACEHOLDER.test(text.slice(start, Math.max(start + (l.length ?? 1), lineEnd === -1 ? text.length : lineEnd)))) {
        a.placeholders++;
        continue;
      }
    }
    a.diagnostics.push(dg);
  }
}

/**
 * A FileAnalysis as it crosses from a worker thread: its findings and references already in the
 * JSON the spools keep, and what the index needs as keys. The structured clone of many small
 * objects, then their JSON.stringify in the main thread, cost more than making the JSON here.
 */
export interface PackedAnalysis {
  /** [spool key (the finding's file), JSON] pairs, flat */
  readonly findings: string[];
  /** [ObjectIndex key of what meets it, spool key (its file), JSON of the PackedNeed] triples, flat */
  readonly needs: string[];
  /** ObjectIndex keys of what the file provides */
  readonly provided: string[];
  /** the rest (counts, CRD batches, kinds without a schema, rules not evaluated), its three lists above emptied */
  readonly analysis: FileAnalysis;
}

/**
 * The most keys `known` (see pack) holds: most references are met by objects near them (in the same
 * file, or a file of namespaces read first), and a full copy of the main thread's index in the worker
 * was 10-18 MiB more peak RSS at 100,000 documents.
 */
const KNOWN_KEYS = 20_000;

/**
 * Moves `a`'s findings, references and provided objects into their packed form. `known`: what this
 * thread has seen provided so far (this file's objects are added to it, up to KNOWN_KEYS): the
 * references it meets are left out, as the main thread, which has seen at least as much when it
 * settles the file, would drop them.
 */
export function pack(a: FileAnalysis, known?: ObjectIndex): PackedAnalysis {
  const findings: string[] = [];
  for (const d of a.diagnostics) findings.push(d.location?.file ?? '', JSON.stringify(d));
  const provided = a.provided.map(([kind, namespace, name]) => ObjectIndex.key(kind, namespace, name));
  if (known) for (const k of provided) if (known.size < KNOWN_KEYS) known.addKey(k);
  const needs: string[] = [];
  for (const n of a.needs) {
    const key = needKey(n);
    if (!known?.hasKey(key)) needs.push(key, n.at.file, packNeed(n));
  }
  a.diagnostics.length = 0;
  a.needs.length = 0;
  a.provided.length = 0;
  return { findings, needs, provided, analysis: a };
}

/**
 * Readies a finding of this thread to be held as it is (Spool.addRecord): its texts made flat copies,
 * as parts of them are slices of its file's text (its message shared with equal ones). Returns at most
 * what it then holds in memory.
 */
export function holdable(d: Diagnostic): number {
  const w = d as { message: string; hint?: string; related?: readonly { readonly message: string; readonly location?: SourceLocation }[] };
  w.message = shared(w.message);
  if (w.hint !== undefined) w.hint = flat(w.hint);
  if (w.related !== undefined) w.related = w.related.map((r) => ({ ...r, message: flat(r.message) }));
  // the strings' characters (two bytes each at most) and the objects
  let chars = d.message.length + (d.hint?.length ?? 0) + d.rule.length + (d.location?.file.length ?? 0);
  for (const r of d.related ?? []) chars += r.message.length + (r.location?.file.length ?? 0) + 40;
  return 2 * chars + 160;
}

export function mergeAnalysis(into: FileAnalysis, a: FileAnalysis): void {
  // one at a time: a spread of a worker's 100,000 findings overflows the call stack
  append(into.diagnostics, a.diagnostics);
  append(into.batch, a.batch);
  append(into.provided, a.provided);
  append(into.needs, a.needs);
  append(into.unknown, a.unknown);
  append(into.unevaluated, a.unevaluated);
  append(into.deferred, a.deferred);
  into.ratcheted += a.ratcheted;
  into.documents += a.documents;
  into.validated += a.validated;
  into.celEvaluated += a.celEvaluated;
  into.celUnevaluated += a.celUnevaluated;
  into.celSkipped += a.celSkipped;
  into.celNotEstimated += a.celNotEstimated;
  into.placeholders += a.placeholders;
}

function append<T>(into: T[], items: readonly T[]): void {
  for (const x of items) into.push(x);
}

/** The options of a create's schema check, core kind or custom resource: made once per registry, not per document. */
const optionsOf = new WeakMap<SchemaRegistry, readonly [core: StructuralOptions, custom: StructuralOptions]>();

function checkerOptions(registry: SchemaRegistry, isCore: boolean): StructuralOptions {
  let o = optionsOf.get(registry);
  if (!o) {
    const base = {
      defs: registry.defs,
      evalCel: true,
      ...(registry.core.kubernetesVersion ? { kubernetesVersion: registry.core.kubernetesVersion } : {}),
    };
    o = [
      { ...base, nullIsAbsent: true },
      { ...base, nullIsAbsent: false, objectMeta: registry.objectMeta() },
    ];
    optionsOf.set(registry, o);
  }
  return isCore ? o[0] : o[1];
}

/** The schema check of one document; `old`: its live object, for an update (transition rules, ratcheting). */
export function checkSchema(d: ManifestDoc, registry: SchemaRegistry, a: FileAnalysis, cacheDir?: string, old?: unknown): void {
  const schema = registry.get(d.apiVersion, d.kind);
  const since = schema?.served ? undefined : servedSince(d.apiVersion, d.kind, registry.core);
  if (since) {
    // the verdict depends on the cluster's version, which the tree does not say: not checked, and said so
    a.diagnostics.push(
      diag(
        d,
        'warning',
        'schema/newer-kubernetes',
        `${d.kind} ${d.apiVersion} is served from Kubernetes ${since}; the bundled schemas are Kubernetes ${registry.core.kubernetesVersion}: not checked`,
        ['apiVersion'],
        {
          hint: kubernetesHint(d.apiVersion, d.kind, registry.core) ?? '',
        },
      ),
    );
    return;
  }
  if (!schema || !schema.served) {
    const versions = registry.versionsOf(groupOf(d.apiVersion), d.kind).filter((v) => v.served);
    if (versions.length > 0) {
      const crd = registry.crdName(groupOf(d.apiVersion), d.kind);
      a.diagnostics.push(
        diag(
          d,
          'error',
          'schema/version-not-served',
          `${d.apiVersion} is not served for ${d.kind}${crd ? ` by CRD ${crd}` : ''}: served versions are ${versions.map((v) => (v.group ? `${v.group}/${v.version}` : v.version)).join(', ')}`,
          ['apiVersion'],
          {
            hint:
              releaseHint(d.apiVersion, d.kind, cacheDir) ??
              kubernetesHint(d.apiVersion, d.kind, registry.core) ??
              `the API server answers: no matches for kind "${d.kind}" in version "${d.apiVersion}"`,
          },
        ),
      );
      return;
    }
    const group = groupOf(d.apiVersion);
    if (registry.knowsGroup(group)) {
      // the group is known (core or an imported CRD's): the API server would not find this kind
      const elsewhere = registry.apiVersionsOfKind(d.kind);
      const hint = releaseHint(d.apiVersion, d.kind, cacheDir) ?? kubernetesHint(d.apiVersion, d.kind, registry.core);
      a.diagnostics.push(
        diag(d, 'error', 'schema/no-kind-match', `no matches for kind ${JSON.stringify(d.kind)} in version ${JSON.stringify(d.apiVersion)}`, ['kind'], {
          ...(hint ? { hint } : elsewhere.length ? { hint: `${d.kind} is served in ${elsewhere.join(', ')}` } : {}),
        }),
      );
      return;
    }
    const newer = kubernetesHint(d.apiVersion, d.kind, registry.core);
    if (newer) {
      a.diagnostics.push(
        diag(d, 'error', 'schema/no-kind-match', `no matches for kind ${JSON.stringify(d.kind)} in version ${JSON.stringify(d.apiVersion)}`, ['kind'], {
          hint: newer,
        }),
      );
      return;
    }
    a.unknown.push({ key: `${d.apiVersion}|${d.kind}`, at: locRef(d, ['kind']) });
    return;
  }
  if (schema.deprecated) {
    a.diagnostics.push(diag(d, 'warning', 'schema/deprecated-version', schema.deprecationWarning ?? `${d.apiVersion} ${d.kind} is deprecated`, ['apiVersion']));
  }
  const isCore = schema.origin.startsWith('core');
  const checker = new StructuralChecker(old === undefined ? checkerOptions(registry, isCore) : { ...checkerOptions(registry, isCore), old });
  checker.checkObject(schema.root, d.value);
  a.validated++;
  a.celEvaluated += checker.stats.celEvaluated;
  a.celUnevaluated += checker.stats.celUnevaluated;
  a.celSkipped += checker.stats.celSkipped;
  a.ratcheted += checker.stats.ratcheted ?? 0;
  for (const e of checker.errors) {
    // a missing field is shown at the key of the object that lacks it
    const location = e.rule === 'schema/required' ? locateIn(d, rawSegments(e.path.slice(0, -1)), true) : locateIn(d, rawSegments(e.path), e.atKey ?? false);
    const dg: Diagnostic = { severity: e.severity, rule: e.rule, message: e.message, location };
    if (e.rule === 'cel/unevaluated') {
      a.unevaluated.push({
        key: `${schema.kind}|${e.message.replace(/^[^:]*: /, '')}`,
        diag: { ...dg, hint: `counted as not passed; check ${describe(d)} by hand or on a cluster` },
      });
      continue;
    }
    a.diagnostics.push(dg);
  }
}
