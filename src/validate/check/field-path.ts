/**
 * One path, three renderings: the API server's field.Path for 422 causes (`spec.users[1].name`),
 * structured-merge-diff's path for SSA errors (`.spec.backups.pgbackrest.repos[name="repo1"].x`,
 * list-map items by key), and raw segments to find the YAML node.
 */
/** `m`: a key of a map (additionalProperties), which field.Path prints as `labels[app.kubernetes.io/name]` */
export type Seg = { readonly f: string; readonly m?: true } | { readonly i: number; readonly k?: string };

export type FieldPath = readonly Seg[];

export function fieldPathString(path: FieldPath): string {
  let s = '';
  for (const seg of path) {
    if ('f' in seg) s += seg.m ? `[${seg.f}]` : s ? `.${seg.f}` : seg.f;
    else s += `[${seg.i}]`;
  }
  return s;
}

export function smdPathString(path: FieldPath): string {
  let s = '';
  for (const seg of path) {
    if ('f' in seg) s += `.${seg.f}`;
    else s += seg.k !== undefined ? `[${seg.k}]` : `[${seg.i}]`;
  }
  return s;
}

export function rawSegments(path: FieldPath): (string | number)[] {
  return path.map((seg) => ('f' in seg ? seg.f : seg.i));
}

/** `name="repo1"`, `containerPort=80,protocol="TCP"`: strings quoted, numbers bare, as SMD prints them */
export function listMapKey(item: unknown, keys: readonly string[]): string | undefined {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return undefined;
  const parts: string[] = [];
  for (const k of keys) {
    const v = (item as Record<string, unknown>)[k];
    if (v === undefined) return undefined;
    parts.push(`${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  }
  return parts.join(',');
}

/** How the API server prints a bad value in `Invalid value: ...` */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return '"null"';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(jsonTypeName(v));
}

export function jsonTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'bigint') return 'integer';
  return typeof v;
}
