import { evalRule, isTransitionRule, selfFields, toCel, toCelFields } from './cel.js';
import { RUNTIME_CEL_COST_BUDGET } from './cel-cost.js';
import { fieldPathString, goValue, jsonTypeName, listMapKey, smdPathString, type FieldPath, type Seg } from './field-path.js';
import { checkFormat } from './formats.js';
import { re2Test } from './regex.js';
import type { SNode } from '../schema/types.js';
import { from137 } from './kubernetes-version.js';
import { flat } from '../heap.js';

/** What the structural check finds, worded as the API server words it. */
export interface FieldError {
  readonly rule: string;
  readonly severity: 'error' | 'warning';
  readonly path: FieldPath;
  readonly message: string;
  /** point at the key rather than the value (unknown and required fields) */
  readonly atKey?: boolean;
}

export interface StructuralOptions {
  readonly defs: Readonly<Record<string, SNode>>;
  /** core kinds decode `null` as "absent"; CRDs reject it unless `nullable` */
  readonly nullIsAbsent: boolean;
  /** root of an object: `metadata` is checked against ObjectMeta, not the CRD's own stub */
  readonly objectMeta?: SNode;
  readonly evalCel: boolean;
  /**
   * An update: the live object the API server holds. Transition rules (`oldSelf`) compare with it,
   * and errors on values equal to their old value are ratcheted (CRDValidationRatcheting, on by
   * default since Kubernetes 1.30). Absent: a create, as offline.
   */
  readonly old?: unknown;
  /** The target cluster's Kubernetes version: from 1.37 CEL rules see set and map lists with its rules. */
  readonly kubernetesVersion?: string;
}

export interface StructuralStats {
  celEvaluated: number;
  celUnevaluated: number;
  celSkipped: number;
  /** errors on values the update leaves unchanged, dropped as the API server's ratcheting drops them */
  ratcheted?: number;
}

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;

/**
 * Schema errors of these kinds stop the API server from evaluating the CEL rules at all
 * (apiextensions-apiserver customresource/strategy.go hasBlockingErr): NotSupported, Required,
 * TooLong, TooMany, TypeInvalid (wrong type and bad format).
 */
const BLOCKING = new Set(['schema/enum', 'schema/required', 'schema/too-long', 'schema/too-many', 'schema/type', 'schema/format']);

export const RULES_NOT_CHECKED = 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

/**
 * The API server's PruneNonNullableNullsWithoutDefaults, then its defaulting of nulls, on one object
 * of a custom resource (the checker walks them all): a `null` whose schema is not `nullable` is
 * dropped before validation, or replaced by the schema's `default`. Items of lists are left alone
 * (a null item is a type error); core types (refs, ObjectMeta) read `null` as absent anyway.
 */
/** one path segment per declared property name, shared (segments are never changed): one per property checked was garbage */
const fieldSegs = new Map<string, Seg>();

function fieldSeg(f: string): Seg {
  let seg = fieldSegs.get(f);
  if (seg === undefined) {
    const name = flat(f);
    fieldSegs.set(name, (seg = { f: name }));
  }
  return seg;
}

/** `v` is one of an enum's `values` (objects compared as JSON) */
function enumHas(values: readonly unknown[], v: unknown): boolean {
  for (const e of values) if (e === v || (typeof e === 'object' && JSON.stringify(e) === JSON.stringify(v))) return true;
  return false;
}

/** one segment per map key met (`{f, m: true}`), shared as fieldSegs are; capped, as map keys are the documents' own */
const mapSegs = new Map<string, Seg>();

function mapSeg(k: string): Seg {
  let seg = mapSegs.get(k);
  if (seg === undefined) {
    const f = flat(k);
    seg = { f, m: true };
    if (mapSegs.size < 10_000) mapSegs.set(f, seg);
  }
  return seg;
}

/** the segments of list items without a key, made once: segments are never changed */
const ITEM_SEGS: Seg[] = [];

function itemSeg(i: number): Seg {
  return i < 256 ? (ITEM_SEGS[i] ??= { i }) : { i };
}

function pruneNulls(n: { readonly props: Record<string, SNode> | undefined; readonly add: SNode | undefined }, v: Record<string, unknown>): void {
  for (const k in v) {
    if (v[k] !== null) continue;
    const child = n.props?.[k] ?? n.add;
    if (!child || child.ref !== undefined || child.nul) continue;
    if (child.def === undefined) delete v[k];
    else v[k] = structuredClone(child.def);
  }
}

/**
 * The fields of an SNode that the walk reads, in one shape. SNodes come from JSON with as many
 * shapes as combinations of fields, so each of the dozen reads per value checked was a megamorphic
 * property load; a Plan is made once per SNode (kept in a WeakMap) and read with monomorphic loads.
 */
class Plan {
  readonly ref: string | undefined;
  readonly t: SNode['t'];
  readonly nul: boolean;
  /** null is no error here whatever the options say: nullable, or no type at all */
  readonly nullOk: boolean;
  readonly ios: boolean;
  readonly qty: boolean;
  readonly enum: unknown[] | undefined;
  readonly combinators: boolean;
  readonly cel: SNode['cel'];
  /** any of maxL, minL, pat, fmt */
  readonly stringRules: boolean;
  /** any of fmt int32, min, max, mult */
  readonly numberRules: boolean;
  readonly maxL: number | undefined;
  readonly minL: number | undefined;
  readonly pat: string | undefined;
  readonly fmt: string | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly exMin: boolean;
  readonly exMax: boolean;
  readonly mult: number | undefined;
  readonly maxI: number | undefined;
  readonly minI: number | undefined;
  readonly lt: SNode['lt'];
  readonly lk: string[] | undefined;
  readonly items: SNode | undefined;
  readonly props: Record<string, SNode> | undefined;
  readonly add: SNode | undefined;
  readonly req: string[] | undefined;
  readonly maxP: number | undefined;
  readonly minP: number | undefined;
  readonly emb: boolean;
  readonly pres: boolean;
  readonly mt: SNode['mt'];

  constructor(n: SNode) {
    this.ref = n.ref;
    this.t = n.t;
    this.nul = n.nul === true;
    this.ios = n.ios === true;
    this.qty = n.qty === true;
    this.nullOk = this.nul || (n.t === undefined && !n.ios && !n.qty);
    this.enum = n.enum;
    this.combinators = !!(n.anyOf || n.oneOf || n.allOf);
    this.cel = n.cel;
    this.maxL = n.maxL;
    this.minL = n.minL;
    this.pat = n.pat;
    this.fmt = n.fmt;
    this.stringRules = n.maxL !== undefined || n.minL !== undefined || n.pat !== undefined || n.fmt !== undefined;
    this.min = n.min;
    this.max = n.max;
    this.exMin = n.exMin === true;
    this.exMax = n.exMax === true;
    this.mult = n.mult;
    this.numberRules = n.fmt === 'int32' || n.min !== undefined || n.max !== undefined || n.mult !== undefined;
    this.maxI = n.maxI;
    this.minI = n.minI;
    this.lt = n.lt;
    this.lk = n.lk;
    this.items = n.items;
    this.props = n.props;
    this.add = n.add;
    this.req = n.req;
    this.maxP = n.maxP;
    this.minP = n.minP;
    this.emb = n.emb === true;
    this.pres = n.pres === true;
    this.mt = n.mt;
  }
}

const plans = new WeakMap<SNode, Plan>();

function planOf(n: SNode): Plan {
  let p = plans.get(n);
  if (p === undefined) plans.set(n, (p = new Plan(n)));
  return p;
}

/** the schema of apiVersion and kind where the object's own schema leaves them out */
const STRING: SNode = { t: 'string' };

export class StructuralChecker {
  readonly errors: FieldError[] = [];
  readonly stats: StructuralStats = { celEvaluated: 0, celUnevaluated: 0, celSkipped: 0 };
  /** the rules' verdicts, kept apart until the schema errors say whether the server would evaluate them */
  readonly #celErrors: FieldError[] = [];
  readonly #celStats: StructuralStats = { celEvaluated: 0, celUnevaluated: 0, celSkipped: 0 };
  readonly #o: StructuralOptions;
  readonly #path: Seg[] = [];
  /** made on a first rule: most checkers (one per document) meet none, and each WeakMap is work for the collector */
  #celValuesMap: WeakMap<object, unknown> | undefined;
  #oldCelValuesMap: WeakMap<object, unknown> | undefined;
  readonly #k137: boolean;
  /** the old value correlated with the node being checked (undefined: none, or not correlatable) */
  #old: unknown;
  /** the node, or a correlatable ancestor, equals its old value: its errors are ratcheted */
  #unchanged = false;
  #ratcheted = 0;
  /** the API server's per-object CEL budget (validation.go); once spent or a call exceeds its limit, no rule runs */
  #celBudget = RUNTIME_CEL_COST_BUDGET;
  #celHalted = false;

  constructor(o: StructuralOptions) {
    this.#o = o;
    this.#k137 = from137(o.kubernetesVersion);
    this.#old = o.old;
  }

  /** Runs `f` on a child whose old value is `old` (undefined when it has none or cannot be correlated). */
  #withOld(old: unknown, v: unknown, n: SNode, f: () => void): void {
    const saved = [this.#old, this.#unchanged] as const;
    this.#old = old;
    // the server compares after defaulting the new object, as the stored one was
    this.#unchanged = this.#unchanged || (old !== undefined && deepEqual(old, withDefaults(v, n, this.resolve)));
    try {
      f();
    } finally {
      [this.#old, this.#unchanged] = saved;
    }
  }

  resolve = (n: SNode): SNode => {
    let node = n;
    for (let hops = 0; node.ref !== undefined && hops < 8; hops++) node = this.#o.defs[node.ref] ?? {};
    return node;
  };

  /** Checks a whole object against the schema of its kind. */
  checkObject(root: SNode, value: unknown): void {
    this.#unchanged = this.#o.old !== undefined && deepEqual(this.#o.old, withDefaults(value, root, this.resolve));
    this.#check(root, value, true);
    this.stats.ratcheted = this.#ratcheted;
    if (this.errors.some((e) => BLOCKING.has(e.rule))) {
      if (this.#celErrors.length > 0 || this.#celStats.celEvaluated > 0 || this.#celStats.celUnevaluated > 0) {
        this.errors.push({ rule: 'cel/not-checked', severity: 'error', path: [], message: `<nil>: Invalid value: null: ${RULES_NOT_CHECKED}` });
      }
      return;
    }
    this.errors.push(...this.#celErrors);
    this.stats.celEvaluated += this.#celStats.celEvaluated;
    this.stats.celUnevaluated += this.#celStats.celUnevaluated;
    this.stats.celSkipped += this.#celStats.celSkipped;
  }

  #err(rule: string, message: string, extra?: { atKey?: boolean; pathSeg?: Seg; severity?: 'error' | 'warning' }): void {
    // an unknown field fails in the field manager, before validation: never ratcheted
    if (this.#unchanged && rule !== 'schema/unknown-field' && (extra?.severity ?? 'error') === 'error') {
      this.#ratcheted++;
      return;
    }
    const path = extra?.pathSeg ? [...this.#path, extra.pathSeg] : [...this.#path];
    const severity = extra?.severity ?? 'error';
    // two literals: a spread of an optional part makes a temporary object per finding
    this.errors.push(extra?.atKey ? { rule, severity, path, message, atKey: true } : { rule, severity, path, message });
  }

  #fp(): string {
    return fieldPathString(this.#path);
  }

  #invalid(rule: string, value: unknown, detail: string): void {
    this.#err(rule, `${this.#fp()}: Invalid value: ${goValue(value)}: ${detail}`);
  }

  /** inside a core (Go-decoded) type such as a custom resource's ObjectMeta, where `null` means absent */
  #inCore = 0;

  #check(n0: SNode, v: unknown, isRoot = false): void {
    const p0 = planOf(n0);
    if (p0.ref !== undefined) {
      this.#inCore++;
      try {
        const n = this.resolve(n0);
        this.#checkNode(n, planOf(n), v, isRoot);
      } finally {
        this.#inCore--;
      }
      return;
    }
    this.#checkNode(n0, p0, v, isRoot);
  }

  #checkNode(n: SNode, p: Plan, v: unknown, isRoot: boolean): void {
    if (v === null || v === undefined) {
      if (p.nullOk || this.#o.nullIsAbsent || this.#inCore > 0) return;
      this.#invalid('schema/type', null, `must be of type ${p.t ?? 'integer-or-string'}`);
      return;
    }
    if (p.ios) {
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) {
        this.#invalid('schema/type', jsonTypeName(v), 'must be of type integer-or-string');
        return;
      }
    } else if (p.qty) {
      if (typeof v === 'string') {
        if (!QUANTITY.test(v)) this.#invalid('schema/quantity', v, `quantities must match the regular expression '${QUANTITY.source}'`);
      } else if (typeof v !== 'number') this.#invalid('schema/type', jsonTypeName(v), 'must be of type string or number');
      return;
    } else if (p.t !== undefined && !typeMatches(p.t, v)) {
      this.#invalid('schema/type', jsonTypeName(v), `must be of type ${p.t}`);
      return;
    }
    const values = p.enum;
    if (values && !enumHas(values, v)) {
      this.#err('schema/enum', `${this.#fp()}: Unsupported value: ${goValue(v)}: supported values: ${values.map((e) => goValue(e)).join(', ')}`);
    }
    if (typeof v === 'string') {
      if (p.stringRules) this.#string(p, v);
    } else if (typeof v === 'number') {
      if (p.numberRules) this.#number(p, v);
    } else if (Array.isArray(v)) this.#array(p, v);
    else if (typeof v === 'object') this.#object(p, v as Record<string, unknown>, isRoot);
    if (p.combinators) this.#combinators(n, v);
    if (p.cel && this.#o.evalCel) this.#cel(n, v);
  }

  #string(n: Plan, v: string): void {
    // lengths count code points; a string has at least half as many as UTF-16 units and at most as many: most need no count
    if (n.maxL !== undefined && v.length > n.maxL && [...v].length > n.maxL)
      this.#err('schema/too-long', `${this.#fp()}: Too long: may not be more than ${n.maxL} bytes`);
    if (n.minL !== undefined && v.length < 2 * n.minL && [...v].length < n.minL) this.#invalid('schema/bounds', v, `should be at least ${n.minL} chars long`);
    if (n.pat !== undefined) {
      const ok = re2Test(n.pat, v);
      if (ok instanceof Error)
        this.#err('schema/bad-pattern', `${this.#fp()}: the schema's pattern '${n.pat}' is not valid RE2: ${ok.message}`, { severity: 'warning' });
      else if (!ok) this.#invalid('schema/pattern', v, `should match '${n.pat}'`);
    }
    if (n.fmt !== undefined) {
      const bad = checkFormat(n.fmt, v);
      if (bad) this.#invalid('schema/format', v, bad);
    }
  }

  #number(n: Plan, v: number): void {
    if (n.fmt === 'int32' && (v > 2147483647 || v < -2147483648)) this.#invalid('schema/format', v, 'must be of type int32');
    if (n.min !== undefined && (n.exMin ? v <= n.min : v < n.min))
      this.#invalid('schema/bounds', v, `should be greater than ${n.exMin ? '' : 'or equal to '}${n.min}`);
    if (n.max !== undefined && (n.exMax ? v >= n.max : v > n.max))
      this.#invalid('schema/bounds', v, `should be less than ${n.exMax ? '' : 'or equal to '}${n.max}`);
    if (n.mult !== undefined && n.mult !== 0 && !Number.isInteger(v / n.mult)) this.#invalid('schema/bounds', v, `should be a multiple of ${n.mult}`);
  }

  #array(n: Plan, v: unknown[]): void {
    if (n.maxI !== undefined && v.length > n.maxI) this.#err('schema/too-many', `${this.#fp()}: Too many: ${v.length}: must have at most ${n.maxI} items`);
    if (n.minI !== undefined && v.length < n.minI) this.#invalid('schema/bounds', v, `should have at least ${n.minI} items`);
    const keys = n.lt === 'map' && n.lk?.length ? n.lk : undefined;
    // one item has no duplicate (most lists): no map made for it
    const seen = (n.lt === 'set' || keys) && v.length > 1 ? new Map<string, number>() : undefined;
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      const k = keys ? listMapKey(item, keys) : undefined;
      if (seen) {
        const id = keys ? k : JSON.stringify(item);
        if (id !== undefined) {
          if (seen.has(id))
            this.#err('schema/duplicate', `${fieldPathString([...this.#path, { i }])}: Duplicate value: ${keys ? goMapValue(item, keys) : goValue(item)}`, {
              pathSeg: { i },
            });
          else seen.set(id, i);
        }
      }
      this.#path.push(k !== undefined ? { i, k } : itemSeg(i));
      if (n.items && this.#o.old === undefined) this.#check(n.items, item);
      else if (n.items) {
        // only items of map lists are correlated with the old list, by their keys
        const oldItem = k !== undefined && Array.isArray(this.#old) ? this.#old.find((o) => listMapKey(o, keys!) === k) : undefined;
        const items = n.items;
        this.#withOld(oldItem, item, items, () => this.#check(items, item));
      }
      this.#path.pop();
    }
  }

  #object(n: Plan, v: Record<string, unknown>, isRoot: boolean): void {
    if (n.t === undefined && !n.props && !n.add) return;
    if (!this.#o.nullIsAbsent && this.#inCore === 0) pruneNulls(n, v);
    if (n.req)
      for (const r of n.req) {
        // a null value gets its own type error below: one finding per field
        if (n.props?.[r]?.def !== undefined) continue; // defaulted before validation
        if (v[r] === undefined || (v[r] === null && (this.#o.nullIsAbsent || this.#inCore > 0))) {
          this.#err('schema/required', `${fieldPathString([...this.#path, { f: r }])}: Required value`, { pathSeg: { f: r } });
        }
      }
    if (n.maxP !== undefined || n.minP !== undefined) {
      const count = Object.keys(v).length;
      if (n.maxP !== undefined && count > n.maxP) this.#err('schema/too-many', `${this.#fp()}: Too many: ${count}: must have at most ${n.maxP} items`);
      if (n.minP !== undefined && count < n.minP) this.#invalid('schema/bounds', v, `should have at least ${n.minP} properties`);
    }
    const embedded = n.emb === true;
    if (embedded) {
      for (const r of ['apiVersion', 'kind']) {
        if (typeof v[r] !== 'string' || v[r] === '')
          this.#err('schema/required', `${fieldPathString([...this.#path, { f: r }])}: Required value`, { pathSeg: { f: r } });
      }
    }
    // for-in reads the keys from the shape's enum cache: Object.keys (and Object.entries before it) made an array per object.
    // The same keys in the same order, as the values are plain objects whose prototype has no enumerable property.
    for (const key in v) {
      const val = v[key];
      let child: SNode | undefined = n.props?.[key];
      if ((isRoot || embedded) && key === 'metadata' && this.#o.objectMeta) child = this.#o.objectMeta;
      if ((isRoot || embedded) && (key === 'apiVersion' || key === 'kind') && !child) child = STRING;
      const fromMap = !child && n.add !== undefined;
      const declared = child !== undefined;
      if (!child) child = n.add;
      this.#path.push(fromMap ? mapSeg(key) : declared ? fieldSeg(key) : { f: key });
      if (child && this.#o.old === undefined) this.#check(child, val);
      else if (child) {
        // map values and properties are correlated by key, unless the map is atomic
        const oldObj = this.#old;
        const oldVal =
          n.mt !== 'atomic' && typeof oldObj === 'object' && oldObj !== null && !Array.isArray(oldObj) ? (oldObj as Record<string, unknown>)[key] : undefined;
        const c = child;
        this.#withOld(oldVal, val, c, () => this.#check(c, val));
      } else if (!n.pres) {
        // Server-side apply fails in the field manager, before validation, with SMD's path syntax.
        this.#err('schema/unknown-field', `${smdPathString(this.#path)}: field not declared in schema`, { atKey: true });
      }
      this.#path.pop();
    }
  }

  #combinators(n: SNode, v: unknown): void {
    const quiet = (s: SNode): boolean => {
      const { old: _old, ...rest } = this.#o;
      const c = new StructuralChecker({ ...rest, evalCel: false });
      c.#check({ ...s, pres: true }, v);
      return c.errors.length === 0;
    };
    if (n.allOf && !n.allOf.every(quiet)) this.#invalid('schema/combinator', v, 'must validate all the schemas (allOf)');
    if (n.anyOf && !n.anyOf.some(quiet)) this.#invalid('schema/combinator', v, 'must validate at least one schema (anyOf)');
    if (n.oneOf && n.oneOf.filter(quiet).length !== 1) this.#invalid('schema/combinator', v, 'must validate one and only one schema (oneOf)');
  }

  #cel(n: SNode, v: unknown): void {
    if (this.#celHalted || !n.cel?.length) return;
    if (this.#celBudget <= 0) return this.#outOfBudget(n);
    // offline (no old object), an object whose rules read some of its fields binds those only
    const fields = this.#old === undefined && typeof v === 'object' && v !== null && !Array.isArray(v) ? selfFields(n.cel) : undefined;
    const self = fields
      ? toCelFields(v as Record<string, unknown>, fields, n, this.resolve, (this.#celValuesMap ??= new WeakMap()), this.#k137)
      : toCel(v, n, this.resolve, (this.#celValuesMap ??= new WeakMap()), this.#k137);
    const oldSelf =
      this.#old === undefined || this.#old === null
        ? undefined
        : { value: toCel(this.#old, n, this.resolve, (this.#oldCelValuesMap ??= new WeakMap()), this.#k137) };
    for (const rule of n.cel ?? []) {
      const transition = isTransitionRule(rule);
      // offline (a create) or a value with no old counterpart: the server skips transition rules, unless optionalOldSelf
      const out =
        transition && !oldSelf && !rule.optionalOldSelf
          ? ({ ok: 'skipped' } as const)
          : evalRule(rule, self, transition ? (oldSelf ?? null) : undefined, undefined, this.#o.kubernetesVersion);
      if ('cost' in out) {
        if (out.cost > this.#celBudget) return this.#outOfBudget(n);
        this.#celBudget -= out.cost;
      }
      const at = rule.fieldPath ? [...this.#path, ...parseFieldPath(rule.fieldPath)] : [...this.#path];
      const where = fieldPathString(at);
      switch (out.ok) {
        case true:
          this.#celStats.celEvaluated++;
          break;
        case 'skipped':
          this.#celStats.celSkipped++;
          break;
        case 'unevaluated':
          this.#celStats.celUnevaluated++;
          this.#celErrors.push({
            rule: 'cel/unevaluated',
            severity: 'warning',
            path: at,
            message: `${where}: rule could not be evaluated offline (${out.reason}): ${rule.rule}`,
          });
          break;
        case 'error': {
          // an evaluation error is field.Invalid at the rule's own node, whatever the rule's reason and fieldPath
          this.#celStats.celEvaluated++;
          this.#celErrors.push({
            rule: 'cel/rule',
            severity: 'error',
            path: [...this.#path],
            message: `${this.#fp()}: Invalid value: ${JSON.stringify(n.t ?? 'object')}: ${out.message}`,
          });
          if (out.halt) {
            this.#celHalted = true;
            return;
          }
          break;
        }
        case false: {
          this.#celStats.celEvaluated++;
          // a failed rule that does not use oldSelf on an unchanged value is ratcheted (a warning on the server)
          if (!transition && this.#unchanged) {
            this.#ratcheted++;
            break;
          }
          const body = celBody(rule.reason, n, out.message);
          this.#celErrors.push({ rule: 'cel/rule', severity: 'error', path: at, message: `${where}: ${body}` });
          break;
        }
        default: {
          const never: never = out;
          throw new Error(`unhandled CEL outcome ${JSON.stringify(never)}`);
        }
      }
    }
  }

  #outOfBudget(n: SNode): void {
    this.#celHalted = true;
    this.#celErrors.push({
      rule: 'cel/rule',
      severity: 'error',
      path: [...this.#path],
      message: `${this.#fp()}: Invalid value: ${JSON.stringify(n.t ?? 'object')}: validation failed due to running out of cost budget, no further validation rules will be run`,
    });
  }
}

function celBody(reason: string | undefined, n: SNode, message: string): string {
  switch (reason) {
    case 'FieldValueForbidden':
      return `Forbidden: ${message}`;
    case 'FieldValueRequired':
      return `Required value: ${message}`;
    case 'FieldValueDuplicate':
      return `Duplicate value: ${message}`;
    default:
      // the API server shows the schema type, not the value, for CEL failures
      return `Invalid value: ${JSON.stringify(n.t ?? 'object')}: ${message}`;
  }
}

/** `.spec.foo`, `.spec['a.b']`, `.list[0]` (a CEL rule's fieldPath) -> segments */
export function parseFieldPath(p: string): Seg[] {
  const out: Seg[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\[['"]([^'"]*)['"]\]|\[(\d+)\]/g;
  for (let m = re.exec(p); m; m = re.exec(p)) {
    if (m[1] !== undefined) out.push({ f: m[1] });
    else if (m[2] !== undefined) out.push({ f: m[2] });
    else out.push({ i: Number(m[3]) });
  }
  return out;
}

function typeMatches(t: NonNullable<SNode['t']>, v: unknown): boolean {
  switch (t) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default: {
      const never: never = t;
      return never;
    }
  }
}

/** `map[string]interface {}{"name":"repo1"}`: how the API server prints a duplicate list-map key */
function goMapValue(item: unknown, keys: readonly string[]): string {
  const o = item as Record<string, unknown>;
  return `map[string]interface {}{${keys.map((k) => `${JSON.stringify(k)}:${typeof o[k] === 'string' ? JSON.stringify(o[k]) : String(o[k])}`).join(', ')}}`;
}

/** JSON deep equality of decoded YAML values (the server's DeepEqual on unstructured objects) */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a);
  const bo = b as Record<string, unknown>;
  if (ka.length !== Object.keys(bo).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual((a as Record<string, unknown>)[k], bo[k]));
}

/** `v` with the schema's defaults filled in where fields are absent (a copy where anything changes) */
function withDefaults(v: unknown, n0: SNode, resolve: (n: SNode) => SNode, depth = 0): unknown {
  if (typeof v !== 'object' || v === null || depth > 64) return v;
  const n = resolve(n0);
  if (Array.isArray(v)) return n.items ? v.map((x) => withDefaults(x, n.items!, resolve, depth + 1)) : v;
  const o = v as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const [k, p] of Object.entries(n.props ?? {})) {
    if (o[k] === undefined && p.def !== undefined) (out ??= { ...o })[k] = structuredClone(p.def);
  }
  for (const [k, x] of Object.entries(out ?? o)) {
    const child = n.props?.[k] ?? n.add;
    if (!child) continue;
    const d = withDefaults(x, child, resolve, depth + 1);
    if (d !== x) (out ??= { ...o })[k] = d;
  }
  return out ?? o;
}
