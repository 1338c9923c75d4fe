// Server-side apply for the Kubernetes test server, hand-written because structured-merge-diff has no
// JavaScript port: field sets per manager, conflicts worded as apimachinery words them, and the merge.
// List items are keyed like SMD: by the schema's x-kubernetes-list-map-keys, else (built-in kinds, no
// schema here) by `name` when every item has one; other lists are atomic.
import type { SNode } from '../../src/validate/schema/types.js';

export type Obj = Record<string, unknown>;

/** One segment of a field path: an object field, or a list item found by its key fields. */
export type PathSeg = { readonly f: string } | { readonly key: Readonly<Record<string, unknown>> };
export type Path = readonly PathSeg[];

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `.spec.backups.pgbackrest.repos[name="repo1"].s3.bucket`, as structured-merge-diff prints a path */
export function smdPath(p: Path): string {
  return p
    .map((s) =>
      'f' in s
        ? `.${s.f}`
        : `[${Object.entries(s.key)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
            .join(',')}]`,
    )
    .join('');
}

interface Ctx {
  readonly resolve: (n: SNode) => SNode;
}

function child(n: SNode | undefined, ctx: Ctx, field: string): SNode | undefined {
  if (!n) return undefined;
  const r = ctx.resolve(n);
  return r.props?.[field] ?? r.add ?? (r.pres ? {} : undefined);
}

function listKeys(n: SNode | undefined, ctx: Ctx, items: unknown[]): string[] | null {
  const r = n ? ctx.resolve(n) : undefined;
  if (r?.lt === 'map' && r.lk?.length) return r.lk;
  if (r && (r.lt === 'atomic' || r.lt === 'set')) return null;
  if (items.length > 0 && items.every((i) => isObj(i) && typeof i['name'] === 'string')) return ['name'];
  return null;
}

function keyOf(item: unknown, keys: string[]): Record<string, unknown> | null {
  if (!isObj(item)) return null;
  const k: Record<string, unknown> = {};
  for (const name of keys) {
    if (item[name] === undefined) return null;
    k[name] = item[name];
  }
  return k;
}

const sameKey = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => Object.keys(a).every((k) => a[k] === b[k]);

/** The leaf fields an applied configuration sets (objects recurse, keyed list items recurse, the rest are leaves). */
export function leafPaths(v: unknown, schema: SNode | undefined, ctx: Ctx, prefix: Path = []): Path[] {
  if (isObj(v)) {
    const out: Path[] = [];
    const entries = Object.entries(v);
    if (entries.length === 0 && prefix.length > 0) return [prefix];
    for (const [k, x] of entries) out.push(...leafPaths(x, child(schema, ctx, k), ctx, [...prefix, { f: k }]));
    return out;
  }
  if (Array.isArray(v)) {
    const keys = listKeys(schema, ctx, v);
    if (!keys) return [prefix];
    const itemSchema = schema ? ctx.resolve(schema).items : undefined;
    const out: Path[] = [];
    for (const item of v) {
      const k = keyOf(item, keys);
      if (!k) return [prefix];
      const base: Path = [...prefix, { key: k }];
      out.push(base);
      out.push(...leafPaths(item, itemSchema, ctx, base).filter((p) => p.length > base.length));
    }
    return out;
  }
  return [prefix];
}

/** The value at a path, or undefined. */
export function getAt(v: unknown, p: Path): unknown {
  let cur: unknown = v;
  for (const s of p) {
    if ('f' in s) {
      if (!isObj(cur)) return undefined;
      cur = cur[s.f];
    } else {
      if (!Array.isArray(cur)) return undefined;
      cur = cur.find((i) => isObj(i) && sameKey(s.key, i));
    }
  }
  return cur;
}

/** Removes the value at a path (and objects left empty by it). */
export function removeAt(v: Obj, p: Path): void {
  if (p.length === 0) return;
  const parent = getAt(v, p.slice(0, -1));
  const last = p[p.length - 1]!;
  if ('f' in last && isObj(parent)) delete parent[last.f];
  else if (!('f' in last) && Array.isArray(parent)) {
    const i = parent.findIndex((x) => isObj(x) && sameKey(last.key, x));
    if (i >= 0) parent.splice(i, 1);
  }
  if (p.length > 1) {
    const up = getAt(v, p.slice(0, -1));
    if ((isObj(up) && Object.keys(up).length === 0) || (Array.isArray(up) && up.length === 0)) removeAt(v, p.slice(0, -1));
  }
}

/** Deep merge of an applied configuration into the live object (keyed lists merged by key, atomic lists replaced). */
export function merge(live: unknown, applied: unknown, schema: SNode | undefined, ctx: Ctx): unknown {
  if (isObj(applied)) {
    const out: Obj = isObj(live) ? { ...live } : {};
    for (const [k, v] of Object.entries(applied)) out[k] = merge(out[k], v, child(schema, ctx, k), ctx);
    return out;
  }
  if (Array.isArray(applied)) {
    const keys = listKeys(schema, ctx, applied);
    if (!keys || !Array.isArray(live)) return structuredClone(applied);
    const itemSchema = schema ? ctx.resolve(schema).items : undefined;
    const out = [...live];
    for (const item of applied) {
      const k = keyOf(item, keys);
      const i = k ? out.findIndex((x) => keyOf(x, keys) !== null && sameKey(k, keyOf(x, keys)!)) : -1;
      if (i >= 0) out[i] = merge(out[i], item, itemSchema, ctx);
      else out.push(structuredClone(item));
    }
    return out;
  }
  return applied;
}

export const pathKey = (p: Path): string => smdPath(p);

export interface Conflict {
  readonly manager: string;
  readonly path: string;
}

/** One entry of metadata.managedFields, kept as paths while the server runs. */
export interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time: string;
  fields: Map<string, Path>;
}

/** How apimachinery prints a manager in a conflict (`"mgr"`, `"mgr" using apps/v1`, `... with subresource "status"`). */
export function managerText(m: ManagerEntry): string {
  let s = JSON.stringify(m.manager);
  if (m.operation === 'Update') s += ` using ${m.apiVersion}`;
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  return s;
}

/** `Apply failed with 1 conflict: conflict with "x": .spec.y` / N conflicts grouped by manager (apimachinery conflict.go). */
export function conflictMessage(conflicts: readonly Conflict[]): string {
  if (conflicts.length === 1) return `Apply failed with 1 conflict: conflict with ${conflicts[0]!.manager}: ${conflicts[0]!.path}`;
  const by = new Map<string, string[]>();
  for (const c of conflicts) by.set(c.manager, [...(by.get(c.manager) ?? []), c.path]);
  const parts = [...by.keys()].sort().map(
    (m) =>
      `conflicts with ${m}:\n${by
        .get(m)!
        .map((p) => `- ${p}`)
        .join('\n')}`,
  );
  return `Apply failed with ${conflicts.length} conflicts: ${parts.join('\n')}`;
}

/** managedFields' FieldsV1 form (`f:spec`, `k:{"name":"repo1"}`, `.` for a keyed item itself). */
export function fieldsV1(paths: Iterable<Path>): Obj {
  const root: Obj = {};
  for (const p of paths) {
    let cur = root;
    for (const s of p) {
      const k = 'f' in s ? `f:${s.f}` : `k:${JSON.stringify(s.key)}`;
      cur = (cur[k] ??= {}) as Obj;
    }
    if (p.length > 0 && !('f' in p[p.length - 1]!)) cur['.'] = {};
  }
  return root;
}

const deepEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Applies `applied` for `manager` onto `live`. A field another manager owns with a different value is a
 * conflict unless `force` (which takes it over); fields the manager set before and no longer applies are
 * removed unless someone else owns them.
 */
export function apply(
  live: Obj | undefined,
  applied: Obj,
  managers: ManagerEntry[],
  manager: string,
  apiVersion: string,
  force: boolean,
  schema: SNode | undefined,
  ctx: Ctx,
  now: string,
): { ok: true; object: Obj; managers: ManagerEntry[] } | { ok: false; conflicts: Conflict[] } {
  const managed = (x: Obj): Obj => {
    const { metadata, ...rest } = x;
    const m = isObj(metadata) ? { ...metadata } : {};
    for (const k of ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation']) delete m[k];
    return { ...rest, metadata: m };
  };
  const body = managed(applied);
  const skip = new Set(['.apiVersion', '.kind', '.metadata.name', '.metadata.namespace']);
  const paths = leafPaths(body, schema, ctx).filter((p) => !skip.has(smdPath(p)));
  const mine = new Map(paths.map((p) => [pathKey(p), p]));
  const conflicts: Conflict[] = [];
  const others = managers.filter((m) => !(m.manager === manager && m.operation === 'Apply' && !m.subresource));
  if (live) {
    for (const [k, p] of mine) {
      // a keyed list item as such never conflicts: its fields do (SMD compares leaf values)
      if (p.length > 0 && !('f' in p[p.length - 1]!)) continue;
      for (const m of others) {
        if (!m.fields.has(k)) continue;
        if (deepEqual(getAt(live, p), getAt(body, p))) continue;
        if (force) m.fields.delete(k);
        else conflicts.push({ manager: managerText(m), path: k });
      }
    }
  }
  if (conflicts.length)
    return { ok: false, conflicts: conflicts.sort((a, b) => (a.manager === b.manager ? a.path.localeCompare(b.path) : a.manager.localeCompare(b.manager))) };
  let object: Obj = live ? structuredClone(live) : {};
  const before = managers.find((m) => m.manager === manager && m.operation === 'Apply' && !m.subresource);
  if (before) {
    for (const [k, p] of before.fields) {
      if (mine.has(k) || others.some((m) => m.fields.has(k))) continue;
      removeAt(object, p);
    }
  }
  object = merge(object, body, schema, ctx) as Obj;
  const next = others.filter((m) => m.fields.size > 0);
  next.push({ manager, operation: 'Apply', apiVersion, time: now, fields: mine });
  return { ok: true, object, managers: next };
}

/** The fields an Update (a status write, a merge patch) touches: every leaf of the new value that changed. */
export function changedPaths(before: unknown, after: unknown, schema: SNode | undefined, ctx: Ctx): Path[] {
  return leafPaths(after, schema, ctx).filter((p) => !deepEqual(getAt(before, p), getAt(after, p)));
}
