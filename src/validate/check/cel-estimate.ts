import { Environment, type ASTNode } from '@marcbachmann/cel-js';

/**
 * The worst-case cost the API server estimates for a CRD validation rule when the CRD is created or
 * updated (cel-go checker/cost.go with the Kubernetes library's CostEstimator and the schema's size
 * estimator, k8s.io/apiextensions-apiserver 1.36). Hand-written because cel-js has no type checker
 * nor static cost estimator: the rule is rewritten into the expression tree cel-go checks (macros
 * expanded into comprehensions, operators as calls), typed against the schema's CEL declaration
 * (common.SchemaDeclType: maxItems/maxProperties/maxLength, else the sizes a 3 MiB request could
 * hold), and charged as checker.Cost charges it. Whatever is not modelled exactly (optionals,
 * Kubernetes library types, string formatting, ambiguous overloads over `dyn`) is refused with a
 * reason: such a rule is counted as not estimated, never reported.
 */

/** k8s.io/apiserver/pkg/apis/cel/config.go MaxRequestSizeBytes */
const MAX_REQUEST = 3 * 1024 * 1024;
const U64 = 18446744073709551615;
const STRING_FACTOR = 0.1;
const REGEX_FACTOR = 0.25;

export class NotEstimated extends Error {}

type Kind = 'bool' | 'int' | 'uint' | 'double' | 'string' | 'bytes' | 'null' | 'duration' | 'timestamp' | 'dyn' | 'list' | 'map' | 'object' | 'type';

/** A CEL type; for schema nodes also the DeclType's MaxElements and MinSerializedSize. */
export interface Decl {
  readonly k: Kind;
  readonly max: number;
  readonly minSize: number;
  readonly elem?: Decl;
  readonly key?: Decl;
  readonly fields?: ReadonlyMap<string, Decl>;
}

const simple = (k: Kind, minSize = 0, max = 0): Decl => ({ k, max, minSize });
const T = {
  bool: simple('bool', 4),
  int: simple('int', 1),
  uint: simple('uint', 1),
  double: simple('double', 1),
  string: simple('string', 2),
  bytes: simple('bytes', 2),
  null: simple('null', 4),
  duration: simple('duration', 3),
  timestamp: simple('timestamp', 12),
  dyn: simple('dyn', 1),
  type: simple('type'),
};
const listOf = (elem: Decl): Decl => ({ k: 'list', max: 0, minSize: 2, elem });
const mapOf = (key: Decl, elem: Decl): Decl => ({ k: 'map', max: 0, minSize: 2, key, elem });

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const zeroIfNegative = (v: number): number => (v < 0 ? 0 : v);

const RESERVED = new Set([
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

/** k8s.io/apiserver/pkg/cel escaping.go Escape: the CEL name of a property, undefined when it has none */
export function escapeName(name: string): string | undefined {
  if (name === '' || (name[0]! >= '0' && name[0]! <= '9')) return undefined;
  if (RESERVED.has(name)) return `__${name}__`;
  if (!/^[A-Za-z0-9_./-]*$/.test(name)) return undefined;
  return name.replace(/__|[-./]/g, (s) => (s === '__' ? '__underscores__' : s === '.' ? '__dot__' : s === '-' ? '__dash__' : '__slash__'));
}

/** The Kubernetes minor whose declarations rules see; 1.37 caps metadata.name and generateName. */
export interface DeclOptions {
  readonly capNames?: boolean;
}

/**
 * model.WithTypeAndObjectMeta: kind, apiVersion and metadata.{name,generateName} at a resource root;
 * from 1.37 the names carry a maxLength of 253 and 252 (or the schema's, when shorter).
 */
function withTypeAndObjectMeta(s: Obj, o: DeclOptions): Obj {
  const props = isObj(s['properties']) ? s['properties'] : undefined;
  const typ = (v: unknown): unknown => (isObj(v) ? v['type'] : undefined);
  const meta = props?.['metadata'];
  const metaProps = isObj(meta) && isObj(meta['properties']) ? meta['properties'] : undefined;
  if (
    props &&
    typ(props['kind']) === 'string' &&
    typ(props['apiVersion']) === 'string' &&
    typ(meta) === 'object' &&
    metaProps &&
    typ(metaProps['name']) === 'string' &&
    typ(metaProps['generateName']) === 'string'
  )
    return s;
  const str = { type: 'string' };
  const capped = (existing: unknown, max: number): Obj => {
    if (!o.capNames) return str;
    const own = isObj(existing) ? int(existing['maxLength']) : undefined;
    return { type: 'string', maxLength: own !== undefined && own < max ? own : max };
  };
  const name = capped(metaProps?.['name'], 253);
  const generateName = capped(metaProps?.['generateName'], 252);
  return { ...s, properties: { ...props, kind: str, apiVersion: str, metadata: { type: 'object', properties: { name, generateName } } } };
}

function maxStringLengthPerRequest(format: unknown): number {
  if (format === 'duration') return 32;
  if (format === 'date') return 12;
  if (format === 'date-time') return 32;
  return MAX_REQUEST - 2;
}

/** common.SchemaDeclType over a CRD's JSON schema; undefined where CEL sees nothing (no type, preserved unknown fields). */
export function schemaDecl(schema: unknown, isRoot: boolean, o: DeclOptions = {}): Decl | undefined {
  if (!isObj(schema)) return undefined;
  // a CRD's rules sit at many levels of one tree: each subtree is converted once
  const key = `${isRoot ? 'r' : ''}${o.capNames ? 'c' : ''}`;
  let byKey = declCache.get(schema);
  if (byKey?.has(key)) return byKey.get(key);
  const d = convertDecl(schema, isRoot, o);
  if (!byKey) declCache.set(schema, (byKey = new Map()));
  byKey.set(key, d);
  return d;
}

const declCache = new WeakMap<Obj, Map<string, Decl | undefined>>();

function convertDecl(schema: Obj, isRoot: boolean, o: DeclOptions): Decl | undefined {
  let s: Obj = schema;
  const maxLength = int(s['maxLength']);
  if (s['x-kubernetes-int-or-string'] === true) return { k: 'dyn', minSize: 1, max: maxLength !== undefined ? zeroIfNegative(maxLength) * 4 : MAX_REQUEST - 2 };
  if (isRoot) s = withTypeAndObjectMeta(s, o);
  switch (s['type']) {
    case 'array': {
      const items = s['items'];
      if (!isObj(items)) return undefined;
      const elem = schemaDecl(items, items['x-kubernetes-embedded-resource'] === true, o);
      if (!elem) return undefined;
      const maxItems = int(s['maxItems']);
      return { k: 'list', elem, minSize: 2, max: maxItems !== undefined ? zeroIfNegative(maxItems) : Math.floor((MAX_REQUEST - 2) / (elem.minSize + 1)) };
    }
    case 'object': {
      const ap = s['additionalProperties'];
      if (isObj(ap)) {
        const elem = schemaDecl(ap, ap['x-kubernetes-embedded-resource'] === true, o);
        if (!elem) return undefined;
        const maxProps = int(s['maxProperties']);
        return {
          k: 'map',
          key: T.string,
          elem,
          minSize: 2,
          max: maxProps !== undefined ? zeroIfNegative(maxProps) : Math.floor((MAX_REQUEST - 2) / (elem.minSize + 6)),
        };
      }
      const required = new Set(Array.isArray(s['required']) ? s['required'] : []);
      const fields = new Map<string, Decl>();
      let minSize = 2;
      for (const [name, prop] of Object.entries(isObj(s['properties']) ? s['properties'] : {})) {
        const d = schemaDecl(prop, isObj(prop) && prop['x-kubernetes-embedded-resource'] === true, o);
        if (!d) continue;
        const esc = escapeName(name);
        if (esc !== undefined) fields.set(esc, d);
        if (required.has(name) && isObj(prop) && prop['default'] === undefined) minSize += Buffer.byteLength(name) + d.minSize + 4;
      }
      return { k: 'object', fields, minSize, max: 0 };
    }
    case 'string': {
      const format = s['format'];
      if (format === 'byte') return { k: 'bytes', minSize: 2, max: maxLength !== undefined ? zeroIfNegative(maxLength) : maxStringLengthPerRequest(format) };
      if (format === 'duration') return { k: 'duration', minSize: 3, max: maxStringLengthPerRequest(format) };
      if (format === 'date') return { k: 'timestamp', minSize: 12, max: maxStringLengthPerRequest(format) };
      if (format === 'date-time') return { k: 'timestamp', minSize: 21, max: maxStringLengthPerRequest(format) };
      let max: number;
      if (maxLength !== undefined) max = zeroIfNegative(maxLength) * 4;
      else if (Array.isArray(s['enum']) && s['enum'].length > 0)
        max = s['enum'].reduce((m: number, v) => (typeof v === 'string' ? Math.max(m, Buffer.byteLength(v)) : m), 0);
      else max = maxStringLengthPerRequest(format);
      return { k: 'string', minSize: 2, max };
    }
    case 'boolean':
      return T.bool;
    case 'number':
      return T.double;
    case 'integer':
      return T.int;
    default:
      return undefined;
  }
}

/** compilation.go maxCardinality: how many times data of this minimum size fits in a request */
export function maxCardinality(minSize: number): number {
  return Math.floor(MAX_REQUEST / (minSize + 1));
}

// ---- the expression tree cel-go checks ----

type Lit = { k: Kind; size: number };
type E =
  | { kind: 'lit'; lit: Lit }
  | { kind: 'ident'; name: string }
  | { kind: 'select'; operand: E; field: string; test: boolean }
  | { kind: 'call'; fn: string; target?: E; args: E[] }
  | { kind: 'list'; elems: E[] }
  | { kind: 'map'; entries: [E, E][] }
  | { kind: 'comp'; range: E; iterVar: string; iterVar2?: string; accuVar: string; init: E; cond: E; step: E; result: E; macro: string };

const ACCU = '@result';
const lit = (k: Kind, size: number): E => ({ kind: 'lit', lit: { k, size } });
const accu = (): E => ({ kind: 'ident', name: ACCU });
const call = (fn: string, ...args: E[]): E => ({ kind: 'call', fn, args });

const BINARY: Record<string, string> = {
  '==': '_==_',
  '!=': '_!=_',
  '<': '_<_',
  '<=': '_<=_',
  '>': '_>_',
  '>=': '_>=_',
  '+': '_+_',
  '-': '_-_',
  '*': '_*_',
  '/': '_/_',
  '%': '_%_',
  '&&': '_&&_',
  '||': '_||_',
  in: '@in',
  '[]': '_[_]',
};

type Raw = { op: string; args: unknown };
const isRaw = (v: unknown): v is Raw => isObj(v) && typeof v['op'] === 'string' && 'args' in v;

function literal(v: unknown): E {
  if (typeof v === 'string') return lit('string', [...v].length);
  if (typeof v === 'bigint') return lit('int', 1);
  if (typeof v === 'number') return lit('double', 1);
  if (typeof v === 'boolean') return lit('bool', 1);
  if (v === null) return lit('null', 1);
  if (v instanceof Uint8Array) return lit('bytes', v.length);
  if (isObj(v) && v.constructor?.name === 'UnsignedInt') return lit('uint', 1);
  throw new NotEstimated('literal');
}

/** cel-js AST -> cel-go's checked shape, macros expanded as cel-go's parser expands them */
function lower(n: unknown): E {
  if (!isRaw(n)) throw new NotEstimated('node');
  const a = n.args;
  switch (n.op) {
    case 'value':
      return literal(a);
    case 'id':
      return { kind: 'ident', name: a as string };
    case '.': {
      const [operand, field] = a as [unknown, string];
      return { kind: 'select', operand: lower(operand), field, test: false };
    }
    case 'list':
      return { kind: 'list', elems: (a as unknown[]).map(lower) };
    case 'map':
      return { kind: 'map', entries: (a as [unknown, unknown][]).map(([k, v]) => [lower(k), lower(v)]) };
    case '?:': {
      const [c, t, f] = a as unknown[];
      return call('_?_:_', lower(c), lower(t), lower(f));
    }
    case '!_':
      return call('!_', lower(a));
    case '-_': {
      // cel-go's grammar reads a minus before a number literal as part of the literal
      if (isRaw(a) && a.op === 'value' && (typeof a.args === 'bigint' || typeof a.args === 'number')) return literal(a.args);
      return call('-_', lower(a));
    }
    case 'call':
    case 'rcall':
      return lowerCall(n);
    default: {
      const fn = BINARY[n.op];
      if (!fn) throw new NotEstimated(`operator ${n.op}`);
      const [l, r] = a as unknown[];
      return call(fn, lower(l), lower(r));
    }
  }
}

function lowerCall(n: Raw): E {
  const a = n.args as unknown[];
  const name = a[0] as string;
  const target = n.op === 'rcall' ? a[1] : undefined;
  const args = (n.op === 'rcall' ? a[2] : a[1]) as unknown[];
  if (n.op === 'call' && name === 'has' && args.length === 1) {
    const sel = args[0];
    if (!isRaw(sel) || sel.op !== '.') throw new NotEstimated('has');
    const [operand, field] = sel.args as [unknown, string];
    return { kind: 'select', operand: lower(operand), field, test: true };
  }
  if (target !== undefined && isRaw(target) && target.op === 'id' && target.args === 'cel' && name === 'bind' && args.length === 3) {
    const v = args[0];
    if (!isRaw(v) || v.op !== 'id') throw new NotEstimated('bind');
    return {
      kind: 'comp',
      range: { kind: 'list', elems: [] },
      iterVar: '#unused',
      accuVar: v.args as string,
      init: lower(args[1]),
      cond: lit('bool', 1),
      step: accu(),
      result: lower(args[2]),
      macro: 'bind',
    };
  }
  const macro = target !== undefined ? expandMacro(name, target, args) : undefined;
  if (macro) return macro;
  return { kind: 'call', fn: name, ...(target !== undefined ? { target: lower(target) } : {}), args: args.map(lower) };
}

function expandMacro(name: string, target: unknown, args: unknown[]): E | undefined {
  const two = expandTwoVar(name, target, args);
  if (two) return two;
  const quant = name === 'all' || name === 'exists' || name === 'exists_one';
  const mapLike = (name === 'map' && (args.length === 2 || args.length === 3)) || (name === 'filter' && args.length === 2);
  if (!(quant && args.length === 2) && !mapLike) {
    if (['all', 'exists', 'exists_one', 'existsOne', 'map', 'filter', 'transformList', 'transformMap', 'optMap', 'optFlatMap'].includes(name))
      throw new NotEstimated(`macro ${name}`);
    return undefined;
  }
  const v = args[0];
  if (!isRaw(v) || v.op !== 'id') throw new NotEstimated('macro variable');
  const iterVar = v.args as string;
  const range = lower(target);
  const comp = (init: E, cond: E, step: E, result: E): E => ({ kind: 'comp', range, iterVar, accuVar: ACCU, init, cond, step, result, macro: name });
  const p = lower(args[1]);
  switch (name) {
    case 'all':
      return comp(lit('bool', 1), call('@not_strictly_false', accu()), call('_&&_', accu(), p), accu());
    case 'exists':
      return comp(lit('bool', 1), call('@not_strictly_false', call('!_', accu())), call('_||_', accu(), p), accu());
    case 'exists_one':
      return comp(lit('int', 1), lit('bool', 1), call('_?_:_', p, call('_+_', accu(), lit('int', 1)), accu()), call('_==_', accu(), lit('int', 1)));
    case 'filter': {
      const step = call('_+_', accu(), { kind: 'list', elems: [{ kind: 'ident', name: iterVar }] });
      return comp({ kind: 'list', elems: [] }, lit('bool', 1), call('_?_:_', p, step, accu()), accu());
    }
    default: {
      const fn = args.length === 3 ? lower(args[2]) : p;
      const step = call('_+_', accu(), { kind: 'list', elems: [fn] });
      return comp({ kind: 'list', elems: [] }, lit('bool', 1), args.length === 3 ? call('_?_:_', p, step, accu()) : step, accu());
    }
  }
}

/** cel-go ext.TwoVarComprehensions, expanded as its macros expand them (cel-comprehensions.ts evaluates them) */
function expandTwoVar(name: string, target: unknown, args: unknown[]): E | undefined {
  const quant = (name === 'all' || name === 'exists' || name === 'existsOne' || name === 'exists_one') && args.length === 3;
  const transform = (name === 'transformList' || name === 'transformMap' || name === 'transformMapEntry') && (args.length === 3 || args.length === 4);
  if (!quant && !transform) return undefined;
  const [v1, v2] = args;
  if (!isRaw(v1) || v1.op !== 'id' || !isRaw(v2) || v2.op !== 'id' || v1.args === v2.args) throw new NotEstimated('macro variable');
  const iterVar = v1.args as string;
  const iterVar2 = v2.args as string;
  const range = lower(target);
  const comp = (init: E, cond: E, step: E, result: E): E => ({ kind: 'comp', range, iterVar, iterVar2, accuVar: ACCU, init, cond, step, result, macro: name });
  if (quant) {
    const p = lower(args[2]);
    if (name === 'all') return comp(lit('bool', 1), call('@not_strictly_false', accu()), call('_&&_', accu(), p), accu());
    if (name === 'exists') return comp(lit('bool', 1), call('@not_strictly_false', call('!_', accu())), call('_||_', accu(), p), accu());
    return comp(lit('int', 1), lit('bool', 1), call('_?_:_', p, call('_+_', accu(), lit('int', 1)), accu()), call('_==_', accu(), lit('int', 1)));
  }
  const filter = args.length === 4 ? lower(args[2]) : undefined;
  const t = lower(args[args.length - 1]);
  let step: E;
  let init: E;
  if (name === 'transformList') {
    init = { kind: 'list', elems: [] };
    step = call('_+_', accu(), { kind: 'list', elems: [t] });
  } else {
    init = { kind: 'map', entries: [] };
    step = name === 'transformMap' ? call(MAP_INSERT, accu(), { kind: 'ident', name: iterVar }, t) : call(MAP_INSERT, accu(), t);
  }
  return comp(init, lit('bool', 1), filter ? call('_?_:_', filter, step, accu()) : step, accu());
}

/** the function transformMap and transformMapEntry insert with */
const MAP_INSERT = 'cel.@mapInsert';

// ---- types ----

const STRING_FUNCS = new Set([
  'lowerAscii',
  'upperAscii',
  'trim',
  'substring',
  'replace',
  'charAt',
  'indexOf',
  'lastIndexOf',
  'split',
  'join',
  'find',
  'findAll',
]);
const TIME_GETTERS = new Set([
  'getFullYear',
  'getMonth',
  'getDayOfYear',
  'getDayOfMonth',
  'getDate',
  'getDayOfWeek',
  'getHours',
  'getMinutes',
  'getSeconds',
  'getMilliseconds',
]);

/** Comprehension variables in scope: per name, the innermost binding last (an inner loop shadows an outer one). */
class Scopes<T> {
  readonly #byName = new Map<string, T[]>();

  peek(name: string): T | undefined {
    const s = this.#byName.get(name);
    return s && s.length ? s[s.length - 1] : undefined;
  }

  push(name: string, v: T): void {
    const s = this.#byName.get(name) ?? [];
    s.push(v);
    this.#byName.set(name, s);
  }

  pop(name: string): void {
    this.#byName.get(name)?.pop();
  }
}

class Checker {
  readonly types = new Map<E, Decl>();
  readonly #scopes = new Scopes<Decl>();

  constructor(readonly vars: ReadonlyMap<string, Decl>) {}

  typeOf(e: E): Decl {
    const t = this.types.get(e);
    if (!t) throw new NotEstimated('untyped');
    return t;
  }

  check(e: E): Decl {
    const t = this.#check(e);
    this.types.set(e, t);
    return t;
  }

  #check(e: E): Decl {
    switch (e.kind) {
      case 'lit':
        return T[e.lit.k as keyof typeof T] ?? T.dyn;
      case 'ident': {
        const local = this.#scopes.peek(e.name);
        if (local) return local;
        const v = this.vars.get(e.name);
        if (v) return v;
        throw new NotEstimated(`identifier ${e.name}`);
      }
      case 'select': {
        const o = this.check(e.operand);
        if (o.k === 'object') {
          const f = o.fields?.get(e.field);
          if (!f) throw new NotEstimated(`undefined field ${e.field}`);
          return e.test ? T.bool : f;
        }
        if (o.k === 'map') return e.test ? T.bool : o.elem!;
        if (o.k === 'dyn') return e.test ? T.bool : T.dyn;
        throw new NotEstimated('select');
      }
      case 'list': {
        const ts = e.elems.map((x) => this.check(x));
        return listOf(ts.length && ts.every((t) => sameType(t, ts[0]!)) ? ts[0]! : T.dyn);
      }
      case 'map': {
        const ks = e.entries.map(([k]) => this.check(k));
        const vs = e.entries.map(([, v]) => this.check(v));
        const pick = (ts: Decl[]): Decl => (ts.length && ts.every((t) => sameType(t, ts[0]!)) ? ts[0]! : T.dyn);
        return mapOf(pick(ks), pick(vs));
      }
      case 'comp':
        return this.#comp(e);
      case 'call':
        return this.#call(e);
    }
  }

  #comp(e: Extract<E, { kind: 'comp' }>): Decl {
    const r = this.check(e.range);
    const init = this.check(e.init);
    if (e.macro === 'bind') {
      this.#scopes.push(e.accuVar, init);
      const out = this.check(e.result);
      this.#scopes.pop(e.accuVar);
      return out;
    }
    let iter: Decl;
    if (r.k === 'list') iter = e.iterVar2 !== undefined ? T.int : r.elem!;
    else if (r.k === 'map') iter = r.key!;
    else throw new NotEstimated('comprehension range');
    this.#scopes.push(e.iterVar, iter);
    if (e.iterVar2 !== undefined) this.#scopes.push(e.iterVar2, r.elem!);
    let accuType: Decl = init;
    const inserted = (): E => {
      const step = e.step.kind === 'call' && e.step.fn === '_?_:_' ? e.step.args[1]! : e.step;
      const args = (step as Extract<E, { kind: 'call' }>).args;
      return args[args.length - 1]!;
    };
    if (e.macro === 'transformList') accuType = listOf(this.check((inserted() as Extract<E, { kind: 'list' }>).elems[0]!));
    else if (e.macro === 'transformMap') accuType = mapOf(iter, this.check(inserted()));
    else if (e.macro === 'transformMapEntry') {
      accuType = this.check(inserted());
      if (accuType.k !== 'map') throw new NotEstimated('transformMapEntry of a non-map');
    } else if (e.macro === 'map') {
      const step = e.step.kind === 'call' && e.step.fn === '_?_:_' ? e.step.args[1]! : e.step;
      const fn = (step as Extract<E, { kind: 'call' }>).args[1] as Extract<E, { kind: 'list' }>;
      accuType = listOf(this.check(fn.elems[0]!));
    } else if (e.macro === 'filter') accuType = listOf(iter);
    this.#scopes.push(e.accuVar, accuType);
    this.check(e.cond);
    this.check(e.step);
    this.#scopes.pop(e.iterVar);
    if (e.iterVar2 !== undefined) this.#scopes.pop(e.iterVar2);
    const out = this.check(e.result);
    this.#scopes.pop(e.accuVar);
    return out;
  }

  #call(e: Extract<E, { kind: 'call' }>): Decl {
    const target = e.target ? this.check(e.target) : undefined;
    const args = e.args.map((x) => this.check(x));
    const [a, b] = args;
    const fn = e.fn;
    const anyDyn = args.some((t) => t.k === 'dyn') || target?.k === 'dyn';
    if (!e.target) {
      switch (fn) {
        case '_==_':
        case '_!=_':
          // operands the checker would refuse (or compare across numeric types) are not estimated
          if (!(compatible(a!, b!) || (a!.k === 'null' && b!.k === 'object') || (b!.k === 'null' && a!.k === 'object')))
            throw new NotEstimated('equality across types');
          return T.bool;
        case '_<_':
        case '_<=_':
        case '_>_':
        case '_>=_':
          // over dyn the checker keeps every overload, some of them priced by size
          if (a!.k !== b!.k || anyDyn || !['int', 'uint', 'double', 'string', 'bytes', 'bool', 'timestamp', 'duration'].includes(a!.k))
            throw new NotEstimated('ordering');
          return T.bool;
        case '@in':
          if (b!.k !== 'list' && b!.k !== 'map') throw new NotEstimated('in');
          return T.bool;
        case '@not_strictly_false':
        case '!_':
          return T.bool;
        case '_&&_':
        case '_||_':
          return T.bool;
        case '_?_:_':
          return sameType(b!, args[2]!) ? b! : T.dyn;
        case '_[_]':
          if (a!.k === 'list') return a!.elem!;
          if (a!.k === 'map') return a!.elem!;
          if (a!.k === 'dyn') return T.dyn;
          throw new NotEstimated('index');
        case '_+_':
          if (anyDyn) throw new NotEstimated('+ over dyn');
          if (a!.k === 'list' && b!.k === 'list') return listOf(sameType(a!.elem!, b!.elem!) ? a!.elem! : T.dyn);
          if ((a!.k === 'timestamp' && b!.k === 'duration') || (a!.k === 'duration' && b!.k === 'timestamp')) return T.timestamp;
          if (a!.k !== b!.k || !['int', 'uint', 'double', 'string', 'bytes', 'duration'].includes(a!.k)) throw new NotEstimated('+');
          return a!;
        case '_-_':
          if (anyDyn) throw new NotEstimated('- over dyn');
          if (a!.k === 'timestamp' && b!.k === 'timestamp') return T.duration;
          if (a!.k === 'timestamp' && b!.k === 'duration') return T.timestamp;
          if (a!.k !== b!.k || !['int', 'uint', 'double', 'duration'].includes(a!.k)) throw new NotEstimated('-');
          return a!;
        case '_*_':
        case '_/_':
        case '_%_':
          if (anyDyn || a!.k !== b!.k || !['int', 'uint', 'double'].includes(a!.k) || (fn === '_%_' && a!.k === 'double')) throw new NotEstimated('arithmetic');
          return a!;
        case '-_':
          if (a!.k !== 'int' && a!.k !== 'double') throw new NotEstimated('negation');
          return a!;
        case 'size':
          return T.int;
        case 'int':
        case 'uint':
        case 'double':
        case 'string':
        case 'bytes':
        case 'bool':
        case 'duration':
        case 'timestamp':
          if (args.length !== 1) throw new NotEstimated(fn);
          if ((fn === 'string' || fn === 'bytes') && a!.k === 'dyn') throw new NotEstimated(`${fn} of dyn`);
          return T[fn];
        case 'dyn':
          return T.dyn;
        case MAP_INSERT:
          return a!;
        case 'isQuantity':
        case 'isIP':
        case 'isCIDR':
          if (args.length !== 1 || (a!.k !== 'string' && a!.k !== 'dyn')) throw new NotEstimated(fn);
          return T.bool;
        default:
          throw new NotEstimated(`function ${fn}`);
      }
    }
    const t = target!;
    if (t.k === 'dyn') throw new NotEstimated(`${fn} on dyn`);
    switch (fn) {
      case 'size':
        if (t.k === 'string' || t.k === 'bytes' || t.k === 'list' || t.k === 'map') return T.int;
        break;
      case 'contains':
      case 'startsWith':
      case 'endsWith':
      case 'matches':
        if (t.k === 'string' && a?.k === 'string' && args.length === 1) return T.bool;
        break;
      case 'lowerAscii':
      case 'upperAscii':
      case 'trim':
      case 'substring':
      case 'replace':
      case 'charAt':
        if (t.k === 'string') return T.string;
        break;
      case 'indexOf':
      case 'lastIndexOf':
        if (t.k === 'string' || t.k === 'list') return T.int;
        break;
      case 'split':
        if (t.k === 'string') return listOf(T.string);
        break;
      case 'join':
        if (t.k === 'list' && t.elem!.k === 'string') return T.string;
        break;
      case 'find':
        if (t.k === 'string') return T.string;
        break;
      case 'findAll':
        if (t.k === 'string') return listOf(T.string);
        break;
      case 'isSorted':
        if (t.k === 'list') return T.bool;
        break;
      case 'sum':
      case 'min':
      case 'max':
        if (t.k === 'list' && t.elem!.k !== 'dyn') return t.elem!;
        break;
      default:
        if (TIME_GETTERS.has(fn) && (t.k === 'timestamp' || t.k === 'duration') && args.length <= 1) return T.int;
        if ((fn === 'getHours' || fn === 'getMinutes' || fn === 'getSeconds' || fn === 'getMilliseconds') && t.k === 'duration') return T.int;
    }
    if (anyDyn && STRING_FUNCS.has(fn)) throw new NotEstimated(`${fn} over dyn`);
    throw new NotEstimated(`method ${fn}`);
  }
}

/** the checker's assignability, with `dyn` (and the element type of an empty literal) matching anything */
function compatible(a: Decl, b: Decl): boolean {
  if (a.k === 'dyn' || b.k === 'dyn') return true;
  if (a.k !== b.k) return false;
  if (a.k === 'list') return compatible(a.elem!, b.elem!);
  if (a.k === 'map') return compatible(a.key!, b.key!) && compatible(a.elem!, b.elem!);
  if (a.k === 'object') return a === b;
  return true;
}

function sameType(a: Decl, b: Decl): boolean {
  if (a.k !== b.k) return false;
  if (a.k === 'list') return sameType(a.elem!, b.elem!);
  if (a.k === 'map') return sameType(a.key!, b.key!) && sameType(a.elem!, b.elem!);
  if (a.k === 'object') return a === b;
  return true;
}

// ---- cost (checker/cost.go) ----

export interface Est {
  min: number;
  max: number;
}
interface Entry {
  container: Kind | 'unknown';
  key: Est;
  val: Est;
}
interface LocalVar {
  path: string[];
  size: Est | undefined;
  entry: Entry | undefined;
}

const UNKNOWN: Est = { min: 0, max: U64 };
const fixed = (n: number): Est => ({ min: n, max: n });
const addU = (x: number, y: number): number => (x + y >= U64 ? U64 : x + y);
const mulU = (x: number, y: number): number => (x * y >= U64 ? U64 : x * y);
function byFactor(x: number, f: number): number {
  const c = Math.ceil(x * f);
  return c >= U64 ? U64 : c;
}
const add = (a: Est, b: Est): Est => ({ min: addU(a.min, b.min), max: addU(a.max, b.max) });
const mul = (a: Est, b: Est): Est => ({ min: mulU(a.min, b.min), max: mulU(a.max, b.max) });
const factor = (a: Est, f: number): Est => ({ min: byFactor(a.min, f), max: byFactor(a.max, f) });
const union = (a: Est, b: Est): Est => ({ min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) });
const unionEntry = (a: Entry | undefined, b: Entry | undefined): Entry | undefined =>
  a && b ? { container: a.container, key: union(a.key, b.key), val: union(a.val, b.val) } : undefined;

/** an argument as cel-go hands it to a CostEstimator: its path, type and computed size */
interface Node {
  path: string[] | undefined;
  type: Decl;
  e: E | undefined;
  size: Est | undefined;
}

/** What checker.Cost is given: the variables, the CostEstimator (sizes and call costs), the options. */
export interface EstimateEnv {
  readonly vars: ReadonlyMap<string, Decl>;
  /** CostEstimator.EstimateSize for an expression's path and type */
  sizeOf(path: readonly string[], type: Decl): Est | undefined;
  /** the Kubernetes library's EstimateCallCost (else `callCost`, a test estimator's) */
  readonly k8s: boolean;
  callCost?(fn: string, target: Decl | undefined, args: readonly Decl[]): Est | undefined;
  /** the cost of a has() test: 0 on the API server (PresenceTestHasCost(false)), 1 by cel-go's default */
  readonly presenceCost: number;
  /** false: the environment lacks ext.TwoVarComprehensions (the API server before 1.32), which refuses such a rule */
  readonly twoVarComprehensions?: boolean;
}

class Coster {
  readonly #paths = new Map<E, string[]>();
  readonly #sizes = new Map<E, Est>();
  readonly #entries = new Map<E, Entry>();
  readonly #locals = new Scopes<LocalVar>();

  constructor(
    readonly env: EstimateEnv,
    readonly ck: Checker,
  ) {}

  #path(e: E): string[] {
    if (e.kind === 'ident') {
      const v = this.#locals.peek(e.name);
      if (v) return [...v.path];
    }
    return [...(this.#paths.get(e) ?? [])];
  }

  estimateSize(path: string[] | undefined, type: Decl): Est | undefined {
    return this.env.sizeOf(path ?? [], type);
  }

  computeSize(e: E): Est | undefined {
    const s = this.#sizes.get(e);
    if (s) return s;
    if (e.kind === 'lit') return fixed(e.lit.size);
    if (e.kind === 'list') return fixed(e.elems.length);
    if (e.kind === 'map') return fixed(e.entries.length);
    const est = this.estimateSize(this.#path(e), this.ck.typeOf(e));
    if (est) {
      this.#sizes.set(e, est);
      return est;
    }
    const t = this.ck.typeOf(e);
    if (['bool', 'double', 'duration', 'int', 'timestamp', 'uint'].includes(t.k)) return fixed(1);
    if (e.kind === 'ident') {
      const v = this.#locals.peek(e.name);
      if (v?.size) return v.size;
    }
    return undefined;
  }

  #sizeOr(e: E): Est {
    return this.computeSize(e) ?? UNKNOWN;
  }

  #entry(e: E): Entry | undefined {
    const s = this.#entries.get(e);
    if (s) return s;
    if (e.kind === 'ident') return this.#locals.peek(e.name)?.entry;
    return undefined;
  }

  #node(e: E): Node {
    let path: string[] | undefined = this.#path(e);
    if (path.length > 0 && (path[0] === ACCU || path[0] === '__result__')) path = undefined;
    return { path, type: this.ck.typeOf(e), e, size: this.computeSize(e) };
  }

  cost(e: E): Est {
    switch (e.kind) {
      case 'lit':
        return fixed(0);
      case 'ident': {
        const v = this.#locals.peek(e.name);
        this.#paths.set(e, v ? v.path : [e.name]);
        return fixed(1);
      }
      case 'select': {
        if (e.test) return add(fixed(this.env.presenceCost), this.cost(e.operand));
        let sum = this.cost(e.operand);
        const k = this.ck.typeOf(e.operand).k;
        if (k === 'map' || k === 'object') sum = add(sum, fixed(1));
        this.#paths.set(e, [...this.#path(e.operand), e.field]);
        return sum;
      }
      case 'list': {
        let sum = fixed(0);
        let item: Est = { min: e.elems.length === 0 ? 0 : U64, max: 0 };
        for (const x of e.elems) {
          sum = add(sum, this.cost(x));
          item = union(item, this.#sizeOr(x));
        }
        this.#entries.set(e, { container: 'list', key: fixed(1), val: item });
        return add(sum, fixed(10));
      }
      case 'map': {
        let sum = fixed(0);
        const empty = e.entries.length === 0;
        let ks: Est = { min: empty ? 0 : U64, max: 0 };
        let vs: Est = { min: empty ? 0 : U64, max: 0 };
        for (const [k, v] of e.entries) {
          sum = add(add(sum, this.cost(k)), this.cost(v));
          ks = union(ks, this.#sizeOr(k));
          vs = union(vs, this.#sizeOr(v));
        }
        this.#entries.set(e, { container: 'map', key: ks, val: vs });
        return add(sum, fixed(30));
      }
      case 'comp':
        return e.macro === 'bind' ? this.#bind(e) : this.#comp(e);
      case 'call':
        return this.#call(e);
    }
  }

  #pushLocal(name: string, e: E): void {
    this.#locals.push(name, { path: this.#path(e), size: this.computeSize(e), entry: this.#entry(e) });
  }

  #bind(e: Extract<E, { kind: 'comp' }>): Est {
    let sum = add(this.cost(e.range), this.cost(e.init));
    this.#pushLocal(e.accuVar, e.init);
    sum = add(sum, this.cost(e.result));
    this.#locals.pop(e.accuVar);
    const s = this.computeSize(e.result);
    if (s) this.#sizes.set(e, s);
    const en = this.#entry(e.result);
    if (en) this.#entries.set(e, en);
    return sum;
  }

  #comp(e: Extract<E, { kind: 'comp' }>): Est {
    let sum = add(this.cost(e.range), this.cost(e.init));
    this.#pushLocal(e.accuVar, e.init);
    // pushIterSingle: a list's items, a map's keys
    const entry = this.#entry(e.range);
    const container = entry?.container ?? this.ck.typeOf(e.range).k;
    const isList = container === 'list';
    const path = this.#path(e.range);
    if (e.iterVar2 !== undefined) {
      // pushIterKey and pushIterValue
      this.#locals.push(e.iterVar, { path: [...path, isList ? '@indices' : '@keys'], size: entry?.key, entry: undefined });
      this.#locals.push(e.iterVar2, { path: [...path, isList ? '@items' : '@values'], size: entry?.val, entry: undefined });
    } else this.#locals.push(e.iterVar, { path: [...path, isList ? '@items' : '@keys'], size: isList ? entry?.val : entry?.key, entry: undefined });
    const loop = this.cost(e.cond);
    const step = this.cost(e.step);
    this.#locals.pop(e.iterVar);
    if (e.iterVar2 !== undefined) this.#locals.pop(e.iterVar2);
    sum = add(sum, this.cost(e.result));
    this.#locals.pop(e.accuVar);
    const range = this.#sizeOr(e.range);
    sum = add(sum, mul(range, add(step, loop)));
    if (e.init.kind === 'lit') {
      const s = this.computeSize(e.init);
      if (s) this.#sizes.set(e, s);
    } else if (e.init.kind === 'list' || e.init.kind === 'map') {
      this.#sizes.set(e, range);
      const se = this.#entry(e.step);
      if (se) this.#entries.set(e, se);
    }
    return sum;
  }

  #call(e: Extract<E, { kind: 'call' }>): Est {
    if (e.fn === 'dyn' && !e.target) {
      const c = this.cost(e.args[0]!);
      const s = this.computeSize(e.args[0]!);
      if (s) this.#sizes.set(e, s);
      const en = this.#entry(e.args[0]!);
      if (en) this.#entries.set(e, en);
      return add(fixed(1), c);
    }
    const argCosts = e.args.map((x) => this.cost(x));
    const args = e.args.map((x) => this.#node(x));
    let sum = fixed(0);
    let target: Node | undefined;
    if (e.target) {
      sum = add(sum, this.cost(e.target));
      target = this.#node(e.target);
    }
    const est = this.#functionCost(e, target, args, argCosts);
    let resultSize = est.result;
    if (e.fn === '_[_]') {
      const k = this.ck.typeOf(e.args[0]!).k;
      if (k === 'list' || k === 'map') {
        resultSize = this.#entry(e.args[0]!)?.val;
        this.#paths.set(e, [...this.#path(e.args[0]!), k === 'list' ? '@items' : '@values']);
      } else throw new NotEstimated('index over dyn');
    }
    resultSize ??= this.computeSize(e);
    if (resultSize) this.#sizes.set(e, resultSize);
    return add(sum, est.cost);
  }

  #compareCost(e: Extract<E, { kind: 'call' }>): Est {
    const smallest = Math.min(this.#sizeOr(e.args[0]!).max, this.#sizeOr(e.args[1]!).max);
    return factor({ min: smallest > 0 ? 1 : 0, max: smallest }, STRING_FACTOR);
  }

  #sizeEstimate(n: Node): Est {
    return n.size ?? this.estimateSize(n.path, n.type) ?? UNKNOWN;
  }

  #elementNode(list: Node): Node | undefined {
    if (list.type.k !== 'list') return undefined;
    return { path: list.path ? [...list.path, '@items'] : undefined, type: list.type.elem!, e: undefined, size: undefined };
  }

  #functionCost(e: Extract<E, { kind: 'call' }>, target: Node | undefined, args: Node[], argCosts: Est[]): { cost: Est; result?: Est } {
    const argSum = argCosts.reduce(add, fixed(0));
    const fn = e.fn;
    const k8s = this.env.k8s ? this.#k8sCallCost(fn, target, args) : this.#customCost(fn, target, args);
    if (k8s) return { cost: add(k8s.cost, argSum), ...(k8s.result ? { result: k8s.result } : {}) };
    const kinds = args.map((a) => a.type.k);
    switch (fn) {
      case 'bytes':
        if (!target && args.length === 1 && kinds[0] === 'string') {
          const sz = this.#sizeOr(e.args[0]!);
          return { cost: add(factor(sz, STRING_FACTOR), argSum), result: { min: sz.min, max: mulU(sz.max, 4) } };
        }
        break;
      case 'string':
        if (!target && args.length === 1 && kinds[0] === 'bytes') {
          const sz = this.#sizeOr(e.args[0]!);
          return { cost: add(factor(sz, STRING_FACTOR), argSum), result: { min: Math.floor(sz.min / 4), max: sz.max } };
        }
        break;
      case 'startsWith':
      case 'endsWith':
        if (target && target.type.k === 'string' && args.length === 1) return { cost: add(factor(this.#sizeOr(e.args[0]!), STRING_FACTOR), argSum) };
        break;
      case '@in':
        if (kinds[1] === 'list') return { cost: add(factor(this.#sizeOr(e.args[1]!), 1), argSum) };
        break;
      case 'matches':
        if (target && target.type.k === 'string' && args.length === 1) {
          const str = factor(add(this.#sizeOr(e.target!), fixed(1)), STRING_FACTOR);
          const re = factor(this.#sizeOr(e.args[0]!), REGEX_FACTOR);
          return { cost: add(mul(str, re), argSum) };
        }
        break;
      case 'contains':
        if (target && target.type.k === 'string' && args.length === 1) {
          const str = factor(this.#sizeOr(e.target!), STRING_FACTOR);
          const sub = factor(this.#sizeOr(e.args[0]!), STRING_FACTOR);
          return { cost: add(mul(str, sub), argSum) };
        }
        break;
      case '_&&_':
      case '_||_':
        return { cost: { min: argCosts[0]!.min, max: addU(argCosts[0]!.max, argCosts[1]!.max) } };
      case '_?_:_': {
        const size = union(this.#sizeOr(e.args[1]!), this.#sizeOr(e.args[2]!));
        const en = unionEntry(this.#entry(e.args[1]!), this.#entry(e.args[2]!));
        if (en) this.#entries.set(e, en);
        return { cost: add(argCosts[0]!, union(argCosts[1]!, argCosts[2]!)), result: size };
      }
      case '_+_':
        if (kinds[0] === 'string' || kinds[0] === 'bytes' || kinds[0] === 'list') {
          const size = add(this.#sizeOr(e.args[0]!), this.#sizeOr(e.args[1]!));
          const en = unionEntry(this.#entry(e.args[0]!), this.#entry(e.args[1]!));
          if (en) this.#entries.set(e, en);
          if (kinds[0] === 'list') return { cost: add(fixed(1), argSum), result: size };
          return { cost: add(factor(size, STRING_FACTOR), argSum), result: size };
        }
        break;
      case '_<_':
      case '_<=_':
      case '_>_':
      case '_>=_':
        // string and bytes comparisons cost as equality does
        if ((kinds[0] === 'string' || kinds[0] === 'bytes') && kinds[0] === kinds[1]) return { cost: add(this.#compareCost(e), argSum) };
        break;
      case '_==_':
      case '_!=_':
        return { cost: add(this.#compareCost(e), argSum) };
    }
    return { cost: add(fixed(1), argSum) };
  }

  #customCost(fn: string, target: Node | undefined, args: Node[]): { cost: Est; result?: Est } | undefined {
    const c = this.env.callCost?.(
      fn,
      target?.type,
      args.map((a) => a.type),
    );
    return c ? { cost: c } : undefined;
  }

  /** k8s.io/apiserver/pkg/cel/library/cost.go EstimateCallCost, for the functions the checker above lets through */
  #k8sCallCost(fn: string, target: Node | undefined, args: Node[]): { cost: Est; result?: Est } | undefined {
    switch (fn) {
      case 'isSorted':
      case 'sum':
      case 'max':
      case 'min':
      case 'indexOf':
      case 'lastIndexOf': {
        if (!target) return undefined;
        let el = fixed(1);
        const elNode = this.#elementNode(target);
        if (elNode) {
          if (elNode.type.k === 'string' || elNode.type.k === 'bytes') el = add(el, factor(this.#sizeEstimate(elNode), STRING_FACTOR));
          return { cost: mul(this.#sizeEstimate(target), el) };
        }
        return { cost: factor(this.#sizeEstimate(target), STRING_FACTOR) };
      }
      case 'lowerAscii':
      case 'upperAscii':
      case 'substring':
      case 'trim':
        if (target) {
          const sz = this.#sizeEstimate(target);
          return { cost: factor(sz, STRING_FACTOR), result: sz };
        }
        return undefined;
      case 'replace':
        if (target && args.length >= 2) {
          const sz = this.#sizeEstimate(target);
          const from = this.#sizeEstimate(args[0]!);
          const to = this.#sizeEstimate(args[1]!);
          const count: Est = { min: 0, max: 0 };
          const retained: Est = { min: 0, max: 0 };
          if (from.min === 0) {
            count.max = sz.max < U64 ? sz.max + 1 : sz.max;
            retained.max = sz.max;
          } else if (to.max <= from.min) {
            count.max = 0;
            retained.max = sz.max;
          } else count.max = Math.ceil(sz.max / from.min);
          if (from.max === 0) {
            count.min = sz.min < U64 ? sz.min + 1 : sz.min;
            retained.min = sz.min;
          } else if (from.max <= to.min) {
            count.min = 0;
            retained.min = sz.min;
          } else count.min = Math.ceil(sz.min / from.max);
          return { cost: factor(sz, 2 * STRING_FACTOR), result: add(mul(count, to), retained) };
        }
        return undefined;
      case 'split':
        if (target) {
          // a limit changes the result size only when it is a literal: not modelled
          if (args.length > 1) throw new NotEstimated('split with a limit');
          const sz = this.#sizeEstimate(target);
          return { cost: factor(sz, 2 * STRING_FACTOR), result: { min: 0, max: sz.max } };
        }
        return undefined;
      case 'join':
        if (target) {
          let sz: Est = { min: 0, max: 0 };
          const list = this.#sizeEstimate(target);
          const elNode = this.#elementNode(target);
          if (elNode) sz = mul(list, this.#sizeEstimate(elNode));
          if (args.length > 0) {
            const sep = this.#sizeEstimate(args[0]!);
            sz = add(sz, mul(sep, { min: list.min > 0 ? list.min - 1 : 0, max: list.max > 0 ? list.max - 1 : 0 }));
          }
          return { cost: factor(sz, STRING_FACTOR), result: sz };
        }
        return undefined;
      case 'find':
      case 'findAll':
        if (target && args.length >= 1) {
          const sz = this.#sizeEstimate(target);
          const str = factor(add(sz, fixed(1)), STRING_FACTOR);
          const re = factor(this.#sizeEstimate(args[0]!), REGEX_FACTOR);
          return { cost: mul(str, re), result: { min: 0, max: sz.max } };
        }
        return undefined;
      case 'isQuantity':
      case 'isIP':
      case 'isCIDR':
        if (args.length >= 1) return { cost: factor(this.#sizeEstimate(args[0]!), STRING_FACTOR) };
        return undefined;
      default:
        return undefined;
    }
  }
}

let env: Environment | undefined;

/** checker.Cost of an expression: its minimum and maximum */
export function estimateCost(expression: string, o: EstimateEnv): Est {
  env ??= new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false, enableOptionalTypes: true });
  let ast: ASTNode;
  try {
    ast = env.parse(expression).ast;
  } catch {
    throw new NotEstimated('parse');
  }
  const e = lower(ast);
  if (o.twoVarComprehensions === false && hasTwoVar(e)) throw new NotEstimated('two-variable comprehensions (Kubernetes 1.32)');
  const ck = new Checker(o.vars);
  ck.check(e);
  return new Coster(o, ck).cost(e);
}

function hasTwoVar(e: E): boolean {
  switch (e.kind) {
    case 'lit':
    case 'ident':
      return false;
    case 'select':
      return hasTwoVar(e.operand);
    case 'call':
      return (e.target !== undefined && hasTwoVar(e.target)) || e.args.some(hasTwoVar);
    case 'list':
      return e.elems.some(hasTwoVar);
    case 'map':
      return e.entries.some(([k, v]) => hasTwoVar(k) || hasTwoVar(v));
    case 'comp':
      return e.iterVar2 !== undefined || [e.range, e.init, e.cond, e.step, e.result].some(hasTwoVar);
  }
}

/**
 * The API server's environment for a rule on a schema node: self and oldSelf, sizes from the schema (compilation.go sizeEstimator).
 * `twoVarComprehensions`: whether the target Kubernetes has them (1.32 and later).
 */
export function ruleEnv(decl: Decl, twoVarComprehensions = true): EstimateEnv {
  return {
    twoVarComprehensions,
    vars: new Map([
      ['self', decl],
      ['oldSelf', decl],
    ]),
    // the path's first element is the variable, whatever its name: sizes are looked up from the rule's node
    sizeOf(path) {
      if (path.length === 0) return undefined;
      let d: Decl | undefined = decl;
      for (const name of path.slice(1)) {
        if (name === '@items' || name === '@values') d = d.elem;
        else if (name === '@keys') d = d.key;
        else d = d.k === 'object' ? d.fields?.get(name) : undefined;
        if (!d) return undefined;
      }
      return { min: 0, max: d.max };
    },
    k8s: true,
    presenceCost: 0,
  };
}

/** checker.Cost's maximum for one rule (or messageExpression) declared on a schema node of this declaration */
export function estimateMaxCost(expression: string, decl: Decl, twoVarComprehensions = true): number {
  return estimateCost(expression, ruleEnv(decl, twoVarComprehensions)).max;
}

/** a message type with no field a test reads (one instance: object types are equal only to themselves) */
const MESSAGE: Decl = { k: 'object', max: 0, minSize: 2, fields: new Map() };

/** a type by name, for tests that declare variables: int, string, list(int), map(string, list(int)), ... */
export function typeNamed(name: string): Decl {
  const s = name.replace(/\s+/g, '');
  const m = /^(list|map)\((.*)\)$/.exec(s);
  if (m) {
    const inner = m[2]!;
    if (m[1] === 'list') return listOf(typeNamed(inner));
    let depth = 0;
    for (let i = 0; i < inner.length; i++) {
      if (inner[i] === '(') depth++;
      else if (inner[i] === ')') depth--;
      else if (inner[i] === ',' && depth === 0) return mapOf(typeNamed(inner.slice(0, i)), typeNamed(inner.slice(i + 1)));
    }
    throw new Error(`bad map type ${name}`);
  }
  if (s === 'object') return MESSAGE;
  const t = T[s as keyof typeof T];
  if (!t) throw new Error(`unknown type ${name}`);
  return t;
}
