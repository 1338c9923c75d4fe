import { crypto } from '../builtins-lazy.js';
import type { CelRule, KindSchema, SNode } from './types.js';

/** Bumped whenever `convertSchema` changes: it is part of every cache key and stored conversion. */
export const CONVERTER_VERSION = 2;

/** A CustomResourceDefinition reduced to what validation needs, per version. */
export interface CrdInfo {
  readonly converter: number;
  readonly name: string;
  readonly group: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  readonly kinds: KindSchema[];
  readonly hash: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** Normalises an `openAPIV3Schema` node. Descriptions and examples are dropped: they are most of a CRD's bytes. */
export function convertSchema(s: unknown, depth = 0, refOf?: (s: Obj) => string | undefined): SNode {
  if (!isObj(s) || depth > 200) return {};
  const ref = refOf?.(s);
  if (ref !== undefined) return { ref };
  const n: SNode = {};
  const t = s['type'];
  if (t === 'object' || t === 'array' || t === 'string' || t === 'integer' || t === 'number' || t === 'boolean') n.t = t;
  if (isObj(s['properties'])) {
    n.props = {};
    for (const [k, v] of Object.entries(s['properties'])) n.props[k] = convertSchema(v, depth + 1, refOf);
  }
  if (Array.isArray(s['required'])) n.req = s['required'].filter((x): x is string => typeof x === 'string');
  const ap = s['additionalProperties'];
  if (isObj(ap)) n.add = convertSchema(ap, depth + 1, refOf);
  else if (ap === true) n.add = {};
  if (s['items'] !== undefined) n.items = convertSchema(s['items'], depth + 1, refOf);
  if (Array.isArray(s['enum'])) n.enum = s['enum'];
  if (s['default'] !== undefined) n.def = s['default'];
  if (typeof s['pattern'] === 'string') n.pat = s['pattern'];
  if (typeof s['format'] === 'string' && s['format'] !== '') n.fmt = s['format'];
  if (s['x-kubernetes-int-or-string'] === true) n.ios = true;
  if (s['nullable'] === true) n.nul = true;
  if (s['x-kubernetes-preserve-unknown-fields'] === true) n.pres = true;
  if (s['x-kubernetes-embedded-resource'] === true) n.emb = true;
  const lt = s['x-kubernetes-list-type'];
  if (lt === 'atomic' || lt === 'set' || lt === 'map') n.lt = lt;
  if (Array.isArray(s['x-kubernetes-list-map-keys'])) n.lk = s['x-kubernetes-list-map-keys'].filter((x): x is string => typeof x === 'string');
  const mt = s['x-kubernetes-map-type'];
  if (mt === 'granular' || mt === 'atomic') n.mt = mt;
  const set = <K extends keyof SNode>(k: K, v: SNode[K] | undefined): void => {
    if (v !== undefined) n[k] = v;
  };
  set('min', num(s['minimum']));
  set('max', num(s['maximum']));
  if (s['exclusiveMinimum'] === true) n.exMin = true;
  if (s['exclusiveMaximum'] === true) n.exMax = true;
  set('mult', num(s['multipleOf']));
  set('minL', num(s['minLength']));
  set('maxL', num(s['maxLength']));
  set('minI', num(s['minItems']));
  set('maxI', num(s['maxItems']));
  set('minP', num(s['minProperties']));
  set('maxP', num(s['maxProperties']));
  for (const c of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = s[c];
    // int-or-string fields carry anyOf [integer, string]: the flag already says it
    if (Array.isArray(list) && !n.ios) n[c] = list.map((x) => convertSchema(x, depth + 1, refOf));
  }
  const v = s['x-kubernetes-validations'];
  if (Array.isArray(v)) {
    const rules: CelRule[] = [];
    for (const r of v) {
      if (!isObj(r) || typeof r['rule'] !== 'string') continue;
      const rule: CelRule = { rule: r['rule'] };
      if (typeof r['message'] === 'string') rule.message = r['message'];
      if (typeof r['messageExpression'] === 'string') rule.messageExpression = r['messageExpression'];
      if (typeof r['fieldPath'] === 'string') rule.fieldPath = r['fieldPath'];
      if (typeof r['reason'] === 'string') rule.reason = r['reason'];
      if (r['optionalOldSelf'] === true) rule.optionalOldSelf = true;
      rules.push(rule);
    }
    if (rules.length) n.cel = rules;
  }
  return n;
}

export function isCrd(doc: unknown): boolean {
  return isObj(doc) && doc['kind'] === 'CustomResourceDefinition' && typeof doc['apiVersion'] === 'string' && doc['apiVersion'].startsWith('apiextensions.k8s.io/');
}

export function crdHash(doc: unknown): string {
  return crypto().createHash('sha256').update(`crd-v${CONVERTER_VERSION}\0`).update(JSON.stringify(doc)).digest('hex').slice(0, 24);
}

/** undefined when the document is not a usable apiextensions.k8s.io/v1 CRD */
export function convertCrd(doc: unknown, origin: string, hash = crdHash(doc)): CrdInfo | undefined {
  if (!isCrd(doc)) return undefined;
  const d = doc as Obj;
  const spec = d['spec'];
  const meta = d['metadata'];
  if (!isObj(spec) || !isObj(spec['names'])) return undefined;
  const group = typeof spec['group'] === 'string' ? spec['group'] : '';
  const names = spec['names'];
  const kind = typeof names['kind'] === 'string' ? names['kind'] : '';
  const plural = typeof names['plural'] === 'string' ? names['plural'] : '';
  if (!group || !kind) return undefined;
  const namespaced = spec['scope'] !== 'Cluster';
  const name = isObj(meta) && typeof meta['name'] === 'string' ? meta['name'] : `${plural}.${group}`;
  const kinds: KindSchema[] = [];
  const versions = Array.isArray(spec['versions']) ? spec['versions'] : [];
  for (const v of versions) {
    if (!isObj(v) || typeof v['name'] !== 'string') continue;
    const schema = isObj(v['schema']) ? v['schema']['openAPIV3Schema'] : undefined;
    const ks: KindSchema = {
      group,
      version: v['name'],
      kind,
      plural,
      namespaced,
      served: v['served'] !== false,
      root: schema === undefined ? { pres: true } : convertSchema(schema),
      origin,
    };
    if (v['deprecated'] === true) ks.deprecated = true;
    if (typeof v['deprecationWarning'] === 'string') ks.deprecationWarning = v['deprecationWarning'];
    kinds.push(ks);
  }
  return { converter: CONVERTER_VERSION, name, group, kind, plural, namespaced, kinds, hash };
}
