import type { ASTNode, Environment } from '@marcbachmann/cel-js';
import { CostLimitExceeded } from './cel-cost.js';

/**
 * cel-go's two-variable comprehensions (`ext.TwoVarComprehensions`, which the API server registers
 * from Kubernetes 1.32): `all(i, v, p)`, `exists(i, v, p)`, `existsOne(i, v, p)` (also `exists_one`),
 * `transformList(i, v, [filter,] t)`, `transformMap(k, v, [filter,] t)`, `transformMapEntry(k, v, [filter,] e)`.
 * On a list the first variable is the index and the second the element; on a map the key and the value.
 * Hand-written because cel-js 8.0.0 has only one-variable comprehensions: each is a cel-js macro
 * (an overload taking `ast` arguments) that runs the steps of the comprehension cel-go expands it to,
 * with the same short-circuits and error propagation (an error is a value in cel-go: the loop goes on,
 * so the cost of every step is charged as the server charges it; see cel-cost.ts for the step costs).
 */

/** the Kubernetes minor version whose base environment adds the library (k8s.io/apiserver pkg/cel/environment/base.go) */
export const TWO_VAR_COMPREHENSIONS_SINCE = 32;

type Node = ASTNode & { op: string; args: unknown };
type Type = { kind: string; valueType?: Type; keyType?: Type; toString(): string };
interface Ctx {
  forkWithVariable(name: string, type: Type): Overlay;
}
interface Overlay extends Ctx {
  reuse(parent: unknown): Overlay;
  setIterValue(v: unknown, ev: Evaluator): Overlay;
}
interface Checker {
  check(n: Node, ctx: unknown): Type;
  createError(code: string, message: string, n: Node): Error;
  formatType(t: Type): string;
  readonly dynType: Type;
  readonly intType: Type;
  readonly boolType: Type;
  readonly registry: { getListType(t: Type): Type; getMapType(k: Type, v: Type): Type };
}
interface Evaluator {
  run(n: Node, ctx: unknown): unknown;
  debugType(v: unknown): Type;
}

type Kind = 'all' | 'exists' | 'existsOne' | 'transformList' | 'transformMap' | 'transformMapEntry';

interface Macro {
  kind: Kind;
  name: string;
  receiver: Node;
  var1: string;
  var2: string;
  filter: Node | undefined;
  body: Node;
  ctx1?: Overlay;
  ctx2?: Overlay;
  async: false;
  typeCheck(chk: Checker, m: Macro, ctx: Ctx): Type;
  evaluate(ev: Evaluator, m: Macro, ctx: unknown): unknown;
}

/** the call nodes expanded as two-variable comprehensions: a rule holding one needs Kubernetes 1.32 */
const expanded = new WeakSet<object>();

/** Whether a parsed rule uses a two-variable comprehension. */
export function usesTwoVarComprehensions(root: ASTNode): boolean {
  const seen = new Set<unknown>();
  const walk = (n: unknown): boolean => {
    if (!n || typeof n !== 'object' || seen.has(n)) return false;
    seen.add(n);
    if (Array.isArray(n)) return n.some(walk);
    if (!('op' in n)) return false;
    if (expanded.has(n)) return true;
    return walk((n as Node).args);
  };
  return walk(root);
}

/** parser.AccumulatorName and the macro factory's accumulator */
const ACCUMULATORS = new Set(['__result__', '@result']);

function variables(args: Node[], ast: Node, parseError: (msg: string, n: Node) => Error): [string, string] {
  const name = (n: Node): string => {
    if (n.op !== 'id' || typeof n.args !== 'string') throw parseError('argument must be a simple name', n);
    return n.args;
  };
  const v1 = name(args[0]!);
  const v2 = name(args[1]!);
  if (v1 === v2) throw parseError(`duplicate variable name: ${v1}`, args[1]!);
  if (ACCUMULATORS.has(v1)) throw parseError('iteration variable overwrites accumulator variable', args[0]!);
  if (ACCUMULATORS.has(v2)) throw parseError('iteration variable overwrites accumulator variable', args[1]!);
  expanded.add(ast);
  return [v1, v2];
}

/** cel-go's `no such overload`: a predicate or filter that is not a bool, a transformMapEntry body that is not a map */
function noSuchOverload(): Error {
  return new Error('no such overload');
}

/** Evaluates `n`; an error is returned as a value (as cel-go carries it), except the cost limit, which ends the rule. */
function step(ev: Evaluator, n: Node, ctx: unknown): unknown {
  try {
    return ev.run(n, ctx);
  } catch (e) {
    if (e instanceof CostLimitExceeded) throw e;
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** The entries a comprehension ranges over: a list's (index, element), a map's (key, value) in its order. */
function entries(ev: Evaluator, range: unknown): [unknown, unknown][] | undefined {
  if (Array.isArray(range)) return range.map((v, i) => [BigInt(i), v]);
  if (range instanceof Set) return [...range].map((v, i) => [BigInt(i), v]);
  if (range instanceof Map) return [...range.entries()];
  if (range && typeof range === 'object' && ev.debugType(range).kind === 'map') return Object.entries(range);
  return undefined;
}

function typeCheck(chk: Checker, m: Macro, ctx: Ctx): Type {
  const range = chk.check(m.receiver, ctx);
  let t1: Type;
  let t2: Type;
  if (range.kind === 'dyn') [t1, t2] = [chk.dynType, chk.dynType];
  else if (range.kind === 'list') [t1, t2] = [chk.intType, range.valueType?.kind === 'param' ? chk.dynType : (range.valueType ?? chk.dynType)];
  else if (range.kind === 'map') [t1, t2] = [range.keyType ?? chk.dynType, range.valueType ?? chk.dynType];
  else
    throw chk.createError(
      'invalid_comprehension_range',
      `Expression of type '${chk.formatType(range)}' cannot be range of a comprehension (must be list, map, or dynamic).`,
      m.receiver,
    );
  m.ctx1 = ctx.forkWithVariable(m.var1, t1);
  m.ctx2 = m.ctx1.forkWithVariable(m.var2, t2);
  // cel-go's checker refuses the expansion (the CRD is refused): its words, which Castle counts as not evaluated
  const boolean = (n: Node, op: string): void => {
    const t = chk.check(n, m.ctx2);
    if (t !== chk.boolType && t.kind !== 'dyn')
      throw chk.createError('invalid_macro_argument', `found no matching overload for '${op}' applied to '(bool, ${chk.formatType(t)})'`, n);
  };
  if (m.filter) boolean(m.filter, '_?_:_');
  switch (m.kind) {
    case 'all':
      boolean(m.body, '_&&_');
      return chk.boolType;
    case 'exists':
      boolean(m.body, '_||_');
      return chk.boolType;
    case 'existsOne':
      boolean(m.body, '_?_:_');
      return chk.boolType;
    case 'transformList':
      return chk.registry.getListType(chk.check(m.body, m.ctx2));
    case 'transformMap':
      return chk.registry.getMapType(t1, chk.check(m.body, m.ctx2));
    case 'transformMapEntry': {
      const t = chk.check(m.body, m.ctx2);
      if (t.kind !== 'map' && t.kind !== 'dyn')
        throw chk.createError('invalid_macro_argument', `found no matching overload for 'cel.@mapInsert' applied to '(map, ${chk.formatType(t)})'`, m.body);
      return t.kind === 'map' ? t : chk.registry.getMapType(chk.dynType, chk.dynType);
    }
  }
}

function evaluate(ev: Evaluator, m: Macro, ctx: unknown): unknown {
  const range = ev.run(m.receiver, ctx);
  const items = entries(ev, range);
  if (!items) throw new Error(`Expression of type '${ev.debugType(range).toString()}' cannot be range of a comprehension (must be list, map, or dynamic).`);
  const c1 = m.ctx1!.reuse(ctx);
  const c2 = m.ctx2!.reuse(c1);
  const bind = (k: unknown, v: unknown): Overlay => (c1.setIterValue(k, ev), c2.setIterValue(v, ev));
  switch (m.kind) {
    case 'all':
      // accu = true; while @not_strictly_false(accu): accu = accu && p
      return quantify(ev, m, items, bind, false);
    case 'exists':
      // accu = false; while @not_strictly_false(!accu): accu = accu || p
      return quantify(ev, m, items, bind, true);
    case 'existsOne': {
      // no short-circuit: accu = p ? accu + 1 : accu over every entry; the first error is the result
      let n = 0;
      let error: Error | undefined;
      for (const [k, v] of items) {
        const p = step(ev, m.body, bind(k, v));
        if (p === true) n++;
        else if (p !== false) error ??= p instanceof Error ? p : noSuchOverload();
      }
      if (error) throw error;
      return n === 1;
    }
    default:
      return transform(ev, m, items, bind);
  }
}

/**
 * `all` (decisive false) and `exists` (decisive true): the loop stops at the first predicate giving `decisive`,
 * which is the result; else the first error (or a non-bool predicate's), else the other value.
 */
function quantify(ev: Evaluator, m: Macro, items: [unknown, unknown][], bind: (k: unknown, v: unknown) => Overlay, decisive: boolean): boolean {
  let accu: boolean | Error = !decisive;
  for (const [k, v] of items) {
    if (accu === decisive) break;
    const p = step(ev, m.body, bind(k, v));
    if (p === decisive) accu = decisive;
    else if (p !== !decisive && !(accu instanceof Error)) accu = p instanceof Error ? p : noSuchOverload();
  }
  if (accu instanceof Error) throw accu;
  return accu;
}

/** transformList / transformMap / transformMapEntry: accu = [filter ?] insert(accu, ...) [: accu], errors kept to the end */
function transform(ev: Evaluator, m: Macro, items: [unknown, unknown][], bind: (k: unknown, v: unknown) => Overlay): unknown {
  let error: Error | undefined;
  const list: unknown[] = [];
  const map = new Map<string, [unknown, unknown]>();
  const insert = (k: unknown, v: unknown): void => {
    const key = mapKey(k);
    if (map.has(key)) error ??= new Error(`insert failed: key ${goText(k)} already exists`);
    else map.set(key, [k, v]);
  };
  for (const [k, v] of items) {
    const ctx = bind(k, v);
    if (m.filter) {
      const f = step(ev, m.filter, ctx);
      if (f === false) continue;
      if (f !== true) {
        error ??= f instanceof Error ? f : noSuchOverload();
        continue;
      }
    }
    const t = step(ev, m.body, ctx);
    if (t instanceof Error) error ??= t;
    if (error) continue;
    if (m.kind === 'transformList') list.push(t);
    else if (m.kind === 'transformMap') insert(k, t);
    else if (t instanceof Map) for (const [ek, ev2] of t) insert(ek, ev2);
    else if (t && typeof t === 'object' && !Array.isArray(t) && ev.debugType(t).kind === 'map') for (const [ek, ev2] of Object.entries(t)) insert(ek, ev2);
    else error = noSuchOverload();
  }
  if (error) throw error;
  if (m.kind === 'transformList') return list;
  // string keys as cel-js holds a map literal (a plain object); other keys (a list's indices) in a Map
  const pairs = [...map.values()];
  if (pairs.every(([k]) => typeof k === 'string')) return Object.fromEntries(pairs);
  return new Map(pairs);
}

/** CEL map-key equality: numeric keys equal across int, uint and double */
function mapKey(k: unknown): string {
  if (typeof k === 'string') return `s${k}`;
  if (typeof k === 'bigint') return `n${k}`;
  if (typeof k === 'number') return Number.isInteger(k) ? `n${BigInt(k)}` : `d${k}`;
  if (typeof k === 'boolean') return `b${k}`;
  if (k && typeof k === 'object' && 'value' in k) return `n${String((k as { value: unknown }).value)}`;
  return `o${String(k)}`;
}

/** Go's %v of a CEL key, as the duplicate-key error prints it */
function goText(k: unknown): string {
  if (k && typeof k === 'object' && 'value' in k) return String((k as { value: unknown }).value);
  return String(k);
}

const KINDS: [string, Kind, number[]][] = [
  ['all', 'all', [3]],
  ['exists', 'exists', [3]],
  ['existsOne', 'existsOne', [3]],
  ['exists_one', 'existsOne', [3]],
  ['transformList', 'transformList', [3, 4]],
  ['transformMap', 'transformMap', [3, 4]],
  ['transformMapEntry', 'transformMapEntry', [3, 4]],
];

/** Registers the macros on a cel-js environment (receiver macros: lists, maps and dyn alike). */
export function registerTwoVarComprehensions(e: Environment): void {
  for (const [name, kind, arities] of KINDS) {
    for (const n of arities) {
      const sig = `list.${name}(${Array(n).fill('ast').join(', ')}): ${kind === 'transformList' ? 'list<dyn>' : kind.startsWith('transformMap') ? 'map<dyn, dyn>' : 'bool'}`;
      e.registerFunction(sig, (({ ast, args, receiver }: { ast: Node; args: Node[]; receiver: Node }): Macro => {
        const [var1, var2] = variables(args, ast, (msg, at) => Object.assign(new Error(msg), { node: at }));
        return {
          kind,
          name,
          receiver,
          var1,
          var2,
          filter: n === 4 ? args[2] : undefined,
          body: args[n - 1]!,
          async: false,
          typeCheck,
          evaluate,
        };
      }) as never);
    }
  }
}
