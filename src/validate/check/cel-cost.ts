import type { ASTNode } from '@marcbachmann/cel-js';
import { Optional } from '@marcbachmann/cel-js';

/**
 * The runtime cost the API server charges a CRD validation rule, as cel-go's CostTracker
 * (interpreter/runtimecost.go) and the Kubernetes library's CostEstimator
 * (k8s.io/apiserver/pkg/cel/library/cost.go) compute it, with `has()` free (the server disables
 * the presence-test cost) and the planner's constant folding (OptOptimize). Hand-written because
 * cel-js keeps no cost account: every node of a parsed rule is wrapped to charge what cel-go
 * charges for the step it stands for; macros are charged the steps of the comprehension cel-go
 * expands them to.
 */

/** k8s.io/apiserver/pkg/apis/cel/config.go */
export const PER_CALL_LIMIT = 1_000_000;
export const RUNTIME_CEL_COST_BUDGET = 10_000_000;
/** cel-go interpreter.CostLimitExceeded, as the server's error wraps it */
export const COST_LIMIT_MESSAGE = 'operation cancelled: actual cost limit exceeded';

const STRING_FACTOR = 0.1;
const REGEX_FACTOR = 0.25;
const LIST_CREATE = 10;
const MAP_CREATE = 30;

export class CostLimitExceeded extends Error {}

/** the value of a step that raised an error (size 1, as cel-go's error values) */
const FAILED = Symbol('failed');
/** cel-comprehensions.ts: their predicate (or filter) is the third argument */
const TWO_VAR = ['existsOne', 'transformList', 'transformMap', 'transformMapEntry'];

interface Tracker {
  cost: number;
  limit: number;
  exceeded: boolean;
  /** each node's latest value in this evaluation (the arguments a call's cost depends on) */
  values: Map<object, unknown>;
}

let tracker: Tracker | undefined;

/** Runs `fn` with a fresh account; the limit is checked after each step, as cel-go's observer does. */
export function tracked<T>(limit: number, fn: () => T): { cost: number; exceeded: boolean; value?: T; error?: unknown } {
  const outer = tracker;
  const t: Tracker = { cost: 0, limit, exceeded: false, values: new Map() };
  tracker = t;
  try {
    const value = fn();
    return { cost: t.cost, exceeded: t.exceeded, value };
  } catch (error) {
    return { cost: t.cost, exceeded: t.exceeded, error };
  } finally {
    tracker = outer;
  }
}

type Evaluate = (ev: unknown, ast: unknown, ctx: unknown) => unknown;
type Node = { op: string; args: unknown; meta: Meta; evaluate: Evaluate };
interface Meta {
  alternate?: { evaluate: Evaluate };
  macro?: { evaluate(ev: unknown, m: unknown, ctx: unknown): unknown };
  evaluate: (this: Node, ev: unknown, ast: unknown, ctx: unknown) => unknown;
}
interface Info {
  kids: Node[];
  constant: boolean;
  /** a parent's cost depends on this node's value */
  keep: boolean;
  /** the values of this node while the macro it is the predicate of runs */
  seen?: unknown[];
  free: boolean;
}

const info = new WeakMap<object, Info>();
const instrumented = new WeakSet<object>();
const TYPE_IDENTS = new Set([
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
  'google',
  'optional',
  'cel',
  'math',
]);
const CONVERSIONS = new Set(['int', 'uint', 'double', 'string', 'bytes', 'bool', 'duration', 'timestamp', 'dyn']);
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter', 'has', 'bind', 'optMap', 'optFlatMap', ...TWO_VAR]);

function isNode(n: unknown): n is Node {
  return typeof n === 'object' && n !== null && 'op' in n && 'meta' in n && typeof (n as { evaluate?: unknown }).evaluate === 'function';
}

function children(n: Node): Node[] {
  const out: Node[] = [];
  const visit = (a: unknown): void => {
    if (isNode(a)) out.push(a);
    else if (Array.isArray(a)) a.forEach(visit);
  };
  visit(n.args);
  return out;
}

/** Wraps every node of a parsed rule once so that evaluating it charges the tracker. */
export function instrument(root: ASTNode): void {
  const walk = (n: Node, free: boolean, keep: boolean, pred: boolean): void => {
    if (instrumented.has(n)) return;
    instrumented.add(n);
    const kids = children(n);
    const i: Info = { free, kids, constant: isConstant(n), keep };
    info.set(n, i);
    const macro = n.op === 'rcall' || n.op === 'call' ? macroName(n) : undefined;
    const predicate = macro ? macroPredicate(n) : undefined;
    for (const k of kids) {
      // an attribute that cel-go resolves inside another attribute (a ternary branch, a variable index) is not observed
      const branch = n.op === '?:' && k !== kids[0];
      const index = (n.op === '[]' || n.op === '[?]') && k === kids[1];
      walk(k, (branch || index) && k.op === 'id', VALUE_OPS.has(n.op), k === predicate);
      if (branch && (k.op === '.' || k.op === '[]')) markRootFree(k);
    }
    // a step that is free and whose value no cost depends on needs no wrapper (most of them: literals, && || ?:)
    if (!pred && !keep && FREE_OPS.has(n.op)) return;
    if (n.op === 'value' && !pred) return;
    wrap(n, i, macro, predicate ? info.get(predicate) : undefined);
  };
  walk(root as unknown as Node, false, false, false);
}

function markRootFree(n: Node): void {
  let r: Node | undefined = n;
  while (r && (r.op === '.' || r.op === '[]')) r = children(r)[0];
  if (r?.op === 'id') {
    const i = info.get(r);
    if (i) i.free = true;
  }
}

const VALUE_OPS = new Set(['call', 'rcall', '==', '!=', '<', '<=', '>', '>=', '+', 'in']);
const FREE_OPS = new Set(['value', '&&', '||', '?:']);

function wrap(n: Node, i: Info, macro: string | undefined, predInfo: Info | undefined): void {
  const step = (ev: unknown, ast: unknown, ctx: unknown): unknown => {
    const m = n.meta;
    if (m.alternate) return m.alternate.evaluate(ev, m.alternate, ctx);
    if (m.macro) return m.macro.evaluate(ev, m.macro, ctx);
    return m.evaluate.call(n, ev, ast, ctx);
  };
  n.evaluate = (ev: unknown, ast: unknown, ctx: unknown): unknown => {
    const t = tracker;
    if (!t) return step(ev, ast, ctx);
    const saved = predInfo?.seen;
    if (predInfo) predInfo.seen = [];
    let value: unknown;
    let failed: unknown;
    try {
      value = step(ev, ast, ctx);
    } catch (e) {
      if (predInfo) predInfo.seen = saved;
      if (e instanceof CostLimitExceeded) throw e;
      // cel-go carries an error as a value: the step that produced it, and every step it flows through, is still charged
      failed = e;
      value = FAILED;
    }
    if (i.keep) t.values.set(n, value);
    i.seen?.push(value);
    const preds = predInfo?.seen ?? [];
    if (predInfo) predInfo.seen = saved;
    t.cost += macro ? macroCost(macro, n, preds, t) : stepCost(n, value, i, t);
    if (t.cost > t.limit) {
      t.exceeded = true;
      throw new CostLimitExceeded(COST_LIMIT_MESSAGE);
    }
    if (failed !== undefined) throw failed;
    return value;
  };
}

function valueOf(k: Node | undefined, t: Tracker): unknown {
  if (!k) return undefined;
  return k.op === 'value' ? k.args : t.values.get(k);
}

function macroName(n: Node): string | undefined {
  const a = n.args as unknown[];
  const name = a[0] as string;
  if (!(n.meta.macro || n.meta.alternate) || !MACROS.has(name)) return undefined;
  return name;
}

function macroArgs(n: Node): Node[] {
  const a = n.args as unknown[];
  return (n.op === 'rcall' ? a[2] : a[1]) as Node[];
}

/** The node evaluated once per iteration whose value decides the step cel-go takes. */
function macroPredicate(n: Node): Node | undefined {
  const name = (n.args as unknown[])[0] as string;
  const args = macroArgs(n);
  if (TWO_VAR.includes(name) || (args.length === 3 && (name === 'all' || name === 'exists' || name === 'exists_one'))) return args[2];
  if (name === 'all' || name === 'exists' || name === 'exists_one' || name === 'filter') return args[1];
  if (name === 'map') return args.length === 3 ? args[1] : args[1];
  return undefined;
}

function macroCost(name: string, n: Node, preds: unknown[], t: Tracker): number {
  const recv = (n.args as unknown[])[1];
  const size = iterSize(isNode(recv) ? valueOf(recv, t) : undefined);
  const steps = preds.length;
  switch (name) {
    case 'all': {
      // cond @not_strictly_false(@result) = 2, step @result && p = 1 (+p), result @result = 1
      const stop = preds.findIndex((p) => p === false);
      const n2 = stop < 0 ? steps : stop + 1;
      return 1 + n2 * 3 + (n2 < size ? 2 : 0);
    }
    case 'exists': {
      const stop = preds.findIndex((p) => p === true);
      const n2 = stop < 0 ? steps : stop + 1;
      return 1 + n2 * 4 + (n2 < size ? 3 : 0);
    }
    case 'exists_one':
    case 'existsOne':
      // step p ? @result + 1 : @result (the bare accumulator branch is not observed), result @result == 1
      return 2 + preds.filter((p) => p === true).length * 2;
    case 'filter':
      // @result + [x]: accumulator 1, x 1, list 10, + 1
      return 1 + preds.filter((p) => p === true).length * 13;
    case 'map': {
      if (macroArgs(n).length === 3) return 1 + preds.filter((p) => p === true).length * 12;
      return 1 + steps * 12;
    }
    case 'transformList':
    case 'transformMap':
    case 'transformMapEntry': {
      // @result + [t] (12, as map), cel.@mapInsert(@result, k, t) (accumulator, key, call: 3), cel.@mapInsert(@result, e) (2); result @result 1
      const each = name === 'transformList' ? 12 : name === 'transformMap' ? 3 : 2;
      if (macroArgs(n).length === 4) return 1 + preds.filter((p) => p === true).length * each;
      return 1 + steps * each;
    }
    case 'has': {
      // cel-js reads the selected fields itself: cel-go charges each select but the tested one (presence tests are free)
      let sel = macroArgs(n)[0];
      let qualifiers = -1;
      while (sel && (sel.op === '.' || sel.op === '.?')) {
        qualifiers++;
        sel = children(sel)[0];
      }
      return Math.max(0, qualifiers);
    }
    default:
      // cel.bind: its init and body are charged as they run
      return 0;
  }
}

function iterSize(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return 0;
}

/** cel-go's actualSize: the size of a Sizer (string in code points, bytes, list, map), else 1 */
export function actualSize(v: unknown): number {
  if (typeof v === 'string') {
    let n = 0;
    for (let k = 0; k < v.length; k++) {
      const c = v.charCodeAt(k);
      if (c < 0xd800 || c > 0xdbff) n++;
    }
    return n;
  }
  if (v instanceof Uint8Array) return v.length;
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.keys(v).length;
  return 1;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** library/cost.go traversalCost */
function traversalCost(v: unknown): number {
  if (typeof v === 'string') return Math.floor(utf8Length(v) * STRING_FACTOR);
  if (v instanceof Uint8Array) return Math.floor(v.length * STRING_FACTOR);
  if (Array.isArray(v)) return v.reduce((s: number, x) => s + traversalCost(x), 0);
  if (v instanceof Map) {
    let c = 0;
    for (const [k, x] of v) c += traversalCost(k) + traversalCost(x);
    return c;
  }
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    let c = 0;
    for (const [k, x] of Object.entries(v)) c += traversalCost(k) + traversalCost(x);
    return c;
  }
  return 1;
}

const ceil = Math.ceil;

function isConstant(n: Node | undefined): boolean {
  if (!n) return false;
  if (n.op === 'value') return true;
  if (n.op === 'list') return children(n).every(isConstant);
  if (n.op === 'map') return children(n).every(isConstant);
  if (n.op === '-_') return children(n).every(isConstant);
  if (n.op === 'call') {
    const name = (n.args as unknown[])[0] as string;
    return CONVERSIONS.has(name) && children(n).every(isConstant);
  }
  return false;
}

function stepCost(n: Node, value: unknown, i: Info, t: Tracker): number {
  const kids = i.kids;
  const val = (k: Node | undefined): unknown => valueOf(k, t);
  switch (n.op) {
    case 'value':
      return 0;
    case 'id':
      return i.free || TYPE_IDENTS.has(n.args as string) ? 0 : 1;
    case '.':
    case '.?': {
      let r: Node | undefined = kids[0];
      while (r && r.op === '.') r = children(r)[0];
      if (r?.op === 'id' && (r.args === 'google' || r.args === 'optional' || r.args === 'cel')) return 0;
      if (value instanceof Optional && !value.hasValue()) return 0;
      return 1;
    }
    case '[]':
    case '[?]':
      if (value instanceof Optional && !value.hasValue()) return 0;
      return 1;
    case 'list':
      return i.constant ? 0 : LIST_CREATE;
    case 'map':
      return i.constant ? 0 : MAP_CREATE;
    case '?:':
    case '&&':
    case '||':
      return 0;
    case '!_':
    case '-_':
      return i.constant ? 0 : 1;
    case '==':
    case '!=':
      return ceil(Math.min(actualSize(val(kids[0])), actualSize(val(kids[1]))) * STRING_FACTOR);
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const a = val(kids[0]);
      const b = val(kids[1]);
      if ((typeof a === 'string' && typeof b === 'string') || (a instanceof Uint8Array && b instanceof Uint8Array))
        return ceil(Math.min(actualSize(a), actualSize(b)) * STRING_FACTOR);
      return 1;
    }
    case '+': {
      const a = val(kids[0]);
      const b = val(kids[1]);
      if ((typeof a === 'string' && typeof b === 'string') || (a instanceof Uint8Array && b instanceof Uint8Array))
        return ceil((actualSize(a) + actualSize(b)) * STRING_FACTOR);
      return 1;
    }
    case 'in': {
      // a list of constants becomes a set membership test when the rule is planned (OptOptimize): free
      if (kids[1]?.op === 'list' && info.get(kids[1])?.constant) return 0;
      const b = val(kids[1]);
      return Array.isArray(b) ? actualSize(b) : 1;
    }
    case 'call':
    case 'rcall':
      return callCost(n, value, t);
    default:
      return 1;
  }
}

function callCost(n: Node, result: unknown, t: Tracker): number {
  const a = n.args as unknown[];
  const name = a[0] as string;
  const recv = n.op === 'rcall' ? (a[1] as Node) : undefined;
  const argNodes = (n.op === 'rcall' ? a[2] : a[1]) as Node[];
  const ns = recv?.op === 'id' && (recv.args === 'optional' || recv.args === 'cel' || recv.args === 'math') ? (recv.args as string) : undefined;
  if (!recv && CONVERSIONS.has(name) && argNodes.every((x) => info.get(x)?.constant)) return 0;
  // optional or()/orValue() are short-circuit steps in cel-go, not calls
  if (!ns && recv && (name === 'or' || name === 'orValue')) return 0;
  const nodes = recv && !ns ? [recv, ...argNodes] : argNodes;
  const args = nodes.map((x) => valueOf(x, t));
  const size = (k: number): number => actualSize(args[k]);
  const fn = name === 're2matches' ? 'matches' : name;
  // k8s.io/apiserver/pkg/cel/library/cost.go CallCost, consulted first
  switch (fn) {
    case 'isSorted':
    case 'sum':
    case 'max':
    case 'min':
    case 'indexOf':
    case 'lastIndexOf':
      return args.length > 0 ? traversalCost(args[0]) : 0;
    case 'url':
    case 'lowerAscii':
    case 'upperAscii':
    case 'substring':
    case 'trim':
      if (args.length >= 1) return ceil(size(0) * STRING_FACTOR);
      break;
    case 'replace':
    case 'split':
      if (args.length >= 1) return ceil(size(0) * 2 * STRING_FACTOR);
      break;
    case 'join':
      if (args.length >= 1) return ceil(actualSize(result) * 2 * STRING_FACTOR);
      break;
    case 'find':
    case 'findAll':
      if (args.length >= 2) return ceil((1 + size(0)) * STRING_FACTOR) * ceil(size(1) * REGEX_FACTOR);
      break;
    case 'cidr':
    case 'isIP':
    case 'isCIDR':
    case 'quantity':
    case 'isQuantity':
      if (args.length >= 1) return ceil(size(0) * STRING_FACTOR);
      break;
    case 'ip':
      if (args.length >= 1) return typeof args[0] === 'string' ? ceil(size(0) * STRING_FACTOR) : 1;
      break;
    case 'masked':
    case 'prefixLength':
    case 'family':
    case 'isUnspecified':
    case 'isLoopback':
    case 'isLinkLocalMulticast':
    case 'isLinkLocalUnicast':
    case 'sign':
    case 'asInteger':
    case 'isInteger':
    case 'asApproximateFloat':
    case 'isGreaterThan':
    case 'isLessThan':
    case 'compareTo':
    case 'add':
    case 'sub':
      return 1;
    default:
      break;
  }
  // cel-go's own rules by overload
  switch (fn) {
    case 'startsWith':
    case 'endsWith':
      return ceil(size(0) * STRING_FACTOR);
    case 'string':
      return args[0] instanceof Uint8Array ? ceil(size(0) * STRING_FACTOR) : 1;
    case 'bytes':
      return typeof args[0] === 'string' ? ceil(size(0) * STRING_FACTOR) : 1;
    case 'matches':
      return ceil((1 + size(0)) * STRING_FACTOR) * ceil(size(1) * REGEX_FACTOR);
    case 'contains':
      if (typeof args[0] === 'string') return ceil(size(0) * STRING_FACTOR) * ceil(size(1) * STRING_FACTOR);
      return 1;
    default:
      return 1;
  }
}
