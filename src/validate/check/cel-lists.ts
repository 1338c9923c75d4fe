import type { ASTNode } from '@marcbachmann/cel-js';
import { escapeName } from './cel-estimate.js';

/**
 * The list types the API server binds for `x-kubernetes-list-type` (k8s.io/apiserver/pkg/cel/common,
 * valuesunstructured.go, at kubernetes-1.36.3, and the 1.37 rules where `kubernetes137` is given): a `set` or `map` list equals another list whatever the
 * order of its elements, `+` on a set is a union and on a map list a merge by keys, and equality is
 * decided by the left operand (cel-go's `lhs.Equal(rhs)`), so `['c', 'b', 'a'] == self.set` is
 * in order while `self.set == ['c', 'b', 'a']` is not. Hand-written because cel-js compares every
 * list element by element and has no hook for a list type's `==`: the lists `toCel` builds are
 * registered here, and the `==`, `!=`, `+` and `in` steps of each parsed rule get a handler that
 * applies these semantics when an operand holds such a list (otherwise cel-js's own handler runs).
 */

export class UnhashableSetElement extends Error {}

type ListKind =
  /** a list of the object (any list type): its `in` asks each element to compare itself with the needle */
  | { kind: 'atomic'; k137?: true }
  /** `keys`: the Go map keys of the elements (raw JSON values for the object's own, values appended by `+`) */
  | SetKind
  /**
   * `props`: the list-map keys, escaped as the server escapes them before reading them from an element;
   * `built`: a 1.37 `+` result (refValMapList), which reads the keys from the CEL values
   */
  | { kind: 'map'; props: readonly string[]; k137?: true; built?: true };

interface SetKind {
  kind: 'set';
  /** Kubernetes 1.37 (kubernetes commit 69805c3b13c3): both sides keyed by their CEL values, duplicates on the right fail */
  k137?: true;
  /** a 1.37 `+` result (refValSetList): a list of CEL values, no longer of the object */
  built?: true;
  raw?: readonly unknown[];
  keys?: unknown[];
  set?: Set<unknown>;
}

const kinds = new WeakMap<object, ListKind>();
/** one for every atomic list (of each version): it holds nothing of its own */
const ATOMIC: ListKind = { kind: 'atomic' };
const ATOMIC_137: ListKind = { kind: 'atomic', k137: true };
const holding = new WeakMap<object, boolean>();

/**
 * Records a list bound from the object with its schema's `x-kubernetes-list-type`; returns it.
 * `kubernetes137`: the target cluster runs Kubernetes 1.37 or later, whose set and map lists differ (see SetKind).
 */
export function bindList(
  list: unknown[],
  raw: readonly unknown[],
  listType: string | undefined,
  mapKeys: readonly string[] | undefined,
  kubernetes137 = false,
): unknown[] {
  const v = kubernetes137 ? ({ k137: true } as const) : {};
  if (listType === 'set') kinds.set(list, { kind: 'set', raw, ...v });
  else if (listType === 'map') kinds.set(list, { kind: 'map', props: (mapKeys ?? []).map((k) => escapeName(k) ?? k), ...v });
  else kinds.set(list, kubernetes137 ? ATOMIC_137 : ATOMIC);
  return list;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/** Whether `v` is, or holds at any depth, a set or map list (cached: values are not mutated while a rule runs). */
export function holdsListTypes(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const k = kinds.get(v)?.kind;
  if (k === 'set' || k === 'map') return true;
  const isMap = v instanceof Map;
  if (!Array.isArray(v) && !isMap && !isRecord(v)) return false;
  let h = holding.get(v);
  if (h === undefined) {
    h = false;
    const values: Iterable<unknown> = Array.isArray(v) ? v : isMap ? v.values() : Object.values(v);
    for (const x of values) {
      if (holdsListTypes(x)) {
        h = true;
        break;
      }
    }
    holding.set(v, h);
  }
  return h;
}

/** cel-js's equality of two values, used where neither holds a set or map list */
export type Equality = (a: unknown, b: unknown) => boolean;

/** `a == b` as cel-go decides it: by `a`'s type, down to the first value that holds no set or map list. */
export function listTypeEqual(a: unknown, b: unknown, plain: Equality): boolean {
  if (!holdsListTypes(a)) return plain(a, b);
  const k = kinds.get(a as object);
  if (k?.kind === 'set') return Array.isArray(b) && (k.k137 ? setEqual137(a as unknown[], b) : setEqual(a as unknown[], k, b));
  if (k?.kind === 'map') return Array.isArray(b) && mapListEqual(a as unknown[], k, b, plain);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!listTypeEqual(a[i], b[i], plain)) return false;
    return true;
  }
  // an object or a map: the same size and each of a's entries equal to b's under that key
  const entries: [unknown, unknown][] = a instanceof Map ? [...a.entries()] : Object.entries(a as Record<string, unknown>);
  const bSize = b instanceof Map ? b.size : isRecord(b) ? Object.keys(b).length : -1;
  if (bSize !== entries.length) return false;
  for (const [key, x] of entries) {
    const y = b instanceof Map ? b.get(key) : Object.hasOwn(b as object, key as string) ? (b as Record<string, unknown>)[key as string] : undefined;
    if (y === undefined || !listTypeEqual(x, y, plain)) return false;
  }
  return true;
}

/**
 * `needle in list` (traits.Container): a list of the object asks each element `elem.Equal(needle)`
 * (unstructuredList.Contains), a list built by the rule asks the needle (cel-go's baseList.Contains).
 */
export function listTypeContains(list: unknown[], needle: unknown, plain: Equality): boolean {
  const k = kinds.get(list);
  // 1.37's `+` results hold CEL values in a cel-go list (baseList.Contains), though they keep their list type's `==`
  if (k && !(k.kind !== 'atomic' && k.built)) return list.some((x) => listTypeEqual(x, needle, plain));
  return list.some((x) => listTypeEqual(needle, x, plain));
}

/**
 * `a + b` where `a` is a list: a set adds the elements of `b` it does not hold (in order), a map list
 * replaces the elements whose keys `b` has and appends the others; a list of the object gives a list
 * of the object, and an empty list built by the rule gives `b` itself (cel-go's baseList.Add).
 * `plainAdd`: cel-js's own `+`.
 */
export function listTypeAdd(a: unknown[], b: unknown[], plainAdd: () => unknown): unknown {
  const k = kinds.get(a);
  if (k === undefined) return a.length === 0 && holdsListTypes(b) ? b : plainAdd();
  // cel-js's `+` first: it refuses lists of different element types, as the server's type check does
  const plain = plainAdd();
  if (k.kind === 'atomic') {
    // 1.37's unstructuredList.Add builds a list of CEL values (types.NewRefValList), no longer a list of the object
    if (Array.isArray(plain) && !k.k137) kinds.set(plain, ATOMIC);
    return plain;
  }
  if (k.kind === 'set' && k.k137) {
    // addToSetList: a set list of CEL values, keyed by them on both sides
    const { out } = setUnion(a, a.map(setElementKey), b, setElementKey);
    kinds.set(out, { kind: 'set', k137: true, built: true });
    return out;
  }
  if (k.kind === 'set') {
    const { out, keys } = setUnion(a, setKeys(k), b, elementKey);
    kinds.set(out, { kind: 'set', keys });
    return out;
  }
  // 1.37's addToMapList reads the keys of both lists from their CEL values (refValMapKey)
  const key = k.k137 ? (x: unknown) => celMapKey(x, k.props) : (x: unknown) => mapKey(x, k.props, false);
  const out = [...a];
  const at = new Map<unknown, number>();
  a.forEach((x, i) => at.set(key(x), i));
  for (const x of b) {
    const i = at.get(key(x));
    if (i === undefined) out.push(x);
    else out[i] = x;
  }
  kinds.set(out, k.k137 ? { kind: 'map', props: k.props, k137: true, built: true } : { kind: 'map', props: k.props });
  return out;
}

// ---- sets: Go map keys ----

/** the Go panic a set's map raises for a value that cannot be a map key, as cel-go's Eval reports it */
function unhashable(goType: string): never {
  throw new UnhashableSetElement(`internal error: runtime error: hash of unhashable type ${goType}`);
}

/** a key no other value has: what a Go map lookup of a value of another type than the set's finds */
function unique(): object {
  return {};
}

/** The key of a JSON element of the object: a whole number is an int64 once the server decodes it (keyPart). */
function rawKey(v: unknown): unknown {
  if (typeof v === 'object' && v !== null) return unhashable(Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}');
  return keyPart(v);
}

/** The key of a CEL value (its Go `Value()`): doubles stay doubles, null is protobuf's NullValue. */
function elementKey(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
      return `s${v}`;
    case 'bigint':
      return `i${v}`;
    case 'number':
      return Number.isNaN(v) ? unique() : `d${v}`;
    case 'boolean':
      return `b${v}`;
    default:
      if (v === null || v === undefined) return 'null';
      if (v instanceof Uint8Array) return unhashable('[]uint8');
      if (Array.isArray(v)) return unhashable('[]interface {}');
      if (isRecord(v) || v instanceof Map) return unhashable('map[string]interface {}');
      // durations, timestamps and the library's types: Go values no JSON element equals
      return unique();
  }
}

function setKeys(k: SetKind): unknown[] {
  k.keys ??= (k.raw ?? []).map(rawKey);
  return k.keys;
}

/** unstructuredSetList.Equal: the same size, and every element of `b` in the set (duplicates in `b` pass) */
function setEqual(a: unknown[], k: SetKind, b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  k.set ??= new Set(setKeys(k));
  const keys = k.set;
  return b.every((x) => keys.has(elementKey(x)));
}

// ---- sets from Kubernetes 1.37 (valuesreflect.go setElementKey, addToSetList, refValSetList) ----

/** the error value setElementKey gives for a list or a map, which the rule's evaluation reports */
class NonScalarSetElement extends Error {}

function isDuration(v: object): v is { seconds: bigint; nanos: number } {
  const d = v as { seconds?: unknown; nanos?: unknown };
  return typeof d.seconds === 'bigint' && typeof d.nanos === 'number';
}

/**
 * setElementKey: the Go map key of a CEL value. Scalars by type and value (a CEL double is never an
 * int), bytes by their contents (%#v), durations by their length, timestamps by their instant.
 */
function setElementKey(v: unknown): unknown {
  if (Array.isArray(v) || v instanceof Map || isRecord(v)) throw new NonScalarSetElement('listSet operations are only supported on lists of scalar values');
  if (v instanceof Uint8Array) return `y${Buffer.from(v).toString('hex')}`;
  if (v instanceof Date) return `t${v.getTime()}`;
  if (typeof v === 'object' && v !== null && isDuration(v)) return `u${v.seconds}.${v.nanos}`;
  return elementKey(v);
}

/** unstructuredSetList.Equal and refValSetList.Equal at 1.37: the same size, the same keys on both sides (a duplicate on the right fails) */
function setEqual137(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(setElementKey));
  const seen = new Set<unknown>();
  for (const x of b) {
    const key = setElementKey(x);
    if (!keys.has(key)) return false;
    seen.add(key);
  }
  return seen.size === keys.size;
}

/** A set's `+`: the left elements in order, then the right ones whose key is not yet in; the keys of the result. */
function setUnion(a: unknown[], aKeys: readonly unknown[], b: unknown[], keyOf: (x: unknown) => unknown): { out: unknown[]; keys: unknown[] } {
  const seen = new Set(aKeys);
  const out = [...a];
  const keys = [...aKeys];
  for (const x of b) {
    const key = keyOf(x);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(x);
    keys.push(key);
  }
  return { out, keys };
}

// ---- map lists: keys from the key properties ----

/** A Go `%v` of a key value, for map lists with more than three keys (toMapKey prints them). */
function goText(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'number' && !Number.isInteger(v)) {
    // %v is %g with the shortest digits: an exponent below -4 or from 6 on is printed e±dd
    const exp = Math.floor(Math.log10(Math.abs(v)));
    if (exp >= -4 && exp < 6) return String(v);
    const [m, e] = v.toExponential().split('e');
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(v);
}

/** a key property's value: what Go compares in an interface (type and value); absent is nil */
function keyPart(v: unknown): string {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'number') return Number.isInteger(v) ? `i${v}` : `d${v}`;
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'boolean') return `b${v}`;
  return `o${String(v)}`;
}

/** Go's `%#v` of a key value (1.37 prints more than three keys so: strings quoted, nil named) */
function goSharpText(v: unknown): string {
  if (v === undefined) return 'interface {}(nil)';
  if (typeof v === 'string') return JSON.stringify(v);
  return goText(v);
}

/**
 * unstructuredMapList.toMapKey: the values of the key properties of the object's JSON element, read
 * under their escaped names (so a key named `k.` reads as absent: the element holds `k.`, which Castle
 * binds as `k__dot__`, and no `k__dot__`); more than three are compared as their `%v` text (`%#v` from 1.37).
 * An element that is not an object has a key no element has.
 */
function mapKey(e: unknown, props: readonly string[], k137: boolean): unknown {
  if (!isRecord(e)) return unique();
  const raw = (p: string): unknown => e[escapeName(p) ?? p];
  if (props.length > 3) return k137 ? `[${props.map((p) => goSharpText(raw(p))).join(', ')}]` : `[${props.map((p) => goText(raw(p))).join(' ')}]`;
  return JSON.stringify(props.map((p) => keyPart(raw(p))));
}

/** a key property's CEL value as refValMapKey keys it: a double is never an int, null is protobuf's NullValue, absent is nil */
function celKeyPart(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return `d${v}`;
  return keyPart(v);
}

/** refValMapKey (1.37, `+` results): the key properties read from the CEL value under their escaped names */
function celMapKey(e: unknown, props: readonly string[]): unknown {
  const get = (p: string): unknown => (isRecord(e) ? e[p] : e instanceof Map ? e.get(p) : undefined);
  // %#v of a NullValue is its number, 0
  if (props.length > 3) return `[${props.map((p) => (get(p) === null ? '0' : goSharpText(get(p)))).join(', ')}]`;
  return JSON.stringify(props.map((p) => celKeyPart(get(p))));
}

/**
 * unstructuredMapList.Equal: the same size, and each element of `b` equal to a's element with its key;
 * from 1.37 every key of `a` must be met (a duplicate key on the right fails), and a `+` result keys both sides by their CEL values.
 */
function mapListEqual(a: unknown[], k: ListKind & { kind: 'map' }, b: unknown[], plain: Equality): boolean {
  if (a.length !== b.length) return false;
  const key = k.built ? (x: unknown) => celMapKey(x, k.props) : (x: unknown) => mapKey(x, k.props, k.k137 === true);
  const byKey = new Map<unknown, unknown>();
  for (const x of a) byKey.set(key(x), x);
  const seen = new Set<unknown>();
  for (const y of b) {
    const kb = key(y);
    if (!byKey.has(kb) || !listTypeEqual(byKey.get(kb), y, plain)) return false;
    seen.add(kb);
  }
  return !k.k137 || seen.size === byKey.size;
}

// ---- the operators of a parsed rule ----

type Handle = (l: unknown, r: unknown, ast: unknown, ev: unknown) => unknown;
interface Evaluator {
  debugType(v: unknown): unknown;
  registry: { findBinaryOverload(op: string, l: unknown, r: unknown): { handler: Handle } | undefined };
}

/** cel-js's `isEqual` (operators of nested values): by JS type, then by the `==` overload of the runtime types */
function celJsEqual(ast: unknown, ev: Evaluator): Equality {
  const eq = (a: unknown, b: unknown): boolean => {
    if (a === b) return true;
    switch (typeof a) {
      case 'bigint':
        return typeof b === 'number' && Number.isInteger(b) && BigInt(b) === a;
      case 'number':
        return typeof b === 'bigint' && Number.isInteger(a) && BigInt(a) === b;
      case 'object': {
        if (typeof b !== 'object') return false;
        const lt = ev.debugType(a);
        if (lt !== ev.debugType(b)) return false;
        const o = ev.registry.findBinaryOverload('==', lt, lt);
        return o ? o.handler(a, b, ast, ev) === true : false;
      }
      default:
        return false;
    }
  };
  return eq;
}

function wrapHandle(op: string, own: Handle): Handle {
  switch (op) {
    case '==':
    case '!=': {
      const ne = op === '!=';
      return (l, r, ast, ev) => {
        // a list against a value of another kind: cel-js's own no-such-overload error
        if (!holdsListTypes(l) || typeof r !== 'object' || r === null || Array.isArray(l) !== Array.isArray(r)) return own(l, r, ast, ev);
        return listTypeEqual(l, r, celJsEqual(ast, ev as Evaluator)) !== ne;
      };
    }
    case '+':
      return (l, r, ast, ev) => (Array.isArray(l) && Array.isArray(r) ? listTypeAdd(l, r, () => own(l, r, ast, ev)) : own(l, r, ast, ev));
    case 'in':
      return (l, r, ast, ev) =>
        Array.isArray(r) && (holdsListTypes(l) || holdsListTypes(r)) ? listTypeContains(r, l, celJsEqual(ast, ev as Evaluator)) : own(l, r, ast, ev);
    default:
      return own;
  }
}

const OPS = new Set(['==', '!=', '+', 'in']);

/** Gives the `==`, `!=`, `+` and `in` steps of a parsed rule the list types' semantics (cel-js sets each step's handler when it type-checks the rule). */
export function bindListOperators(root: ASTNode): void {
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (typeof n !== 'object' || n === null || !('op' in n)) return;
    const node = n as { op: string; args: unknown };
    if (OPS.has(node.op) && !Object.getOwnPropertyDescriptor(node, 'handle')?.set) {
      let handle: Handle | undefined;
      Object.defineProperty(node, 'handle', {
        configurable: true,
        enumerable: true,
        get: () => handle,
        set: (h: Handle) => {
          handle = wrapHandle(node.op, h);
        },
      });
    }
    visit(node.args);
  };
  visit(root);
}
