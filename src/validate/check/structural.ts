import { evalRule, toCel } from './cel.js';
import { fieldPathString, goValue, jsonTypeName, listMapKey, smdPathString, type FieldPath, type Seg } from './field-path.js';
import { checkFormat } from './formats.js';
import { re2Test } from './regex.js';
import type { SNode } from '../schema/types.js';

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
}

export interface StructuralStats {
  celEvaluated: number;
  celUnevaluated: number;
  celSkipped: number;
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
function pruneNulls(n: SNode, v: Record<string, unknown>): void {
  for (const k in v) {
    if (v[k] !== null) continue;
    const child = n.props?.[k] ?? n.add;
    if (!child || child.ref !== undefined || child.nul) continue;
    if (child.def === undefined) delete v[k];
    else v[k] = structuredClone(child.def);
  }
}

export class StructuralChecker {
  readonly errors: FieldError[] = [];
  readonly stats: StructuralStats = { celEvaluated: 0, celUnevaluated: 0, celSkipped: 0 };
  /** the rules' verdicts, kept apart until the schema errors say whether the server would evaluate them */
  readonly #celErrors: FieldError[] = [];
  readonly #celStats: StructuralStats = { celEvaluated: 0, celUnevaluated: 0, celSkipped: 0 };
  readonly #o: StructuralOptions;
  readonly #path: Seg[] = [];
  readonly #celValues = new WeakMap<object, unknown>();

  constructor(o: StructuralOptions) {
    this.#o = o;
  }

  resolve = (n: SNode): SNode => {
    let node = n;
    for (let hops = 0; node.ref !== undefined && hops < 8; hops++) node = this.#o.defs[node.ref] ?? {};
    return node;
  };

  /** Checks a whole object against the schema of its kind. */
  checkObject(root: SNode, value: unknown): void {
    this.#check(root, value, true);
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
    const path = extra?.pathSeg ? [...this.#path, extra.pathSeg] : [...this.#path];
    this.errors.push({ rule, severity: extra?.severity ?? 'error', path, message, ...(extra?.atKey ? { atKey: true } : {}) });
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
    if (n0.ref !== undefined) {
      this.#inCore++;
      try {
        this.#checkNode(this.resolve(n0), v, isRoot);
      } finally {
        this.#inCore--;
      }
      return;
    }
    this.#checkNode(n0, v, isRoot);
  }

  #checkNode(n: SNode, v: unknown, isRoot: boolean): void {
    if (v === null || v === undefined) {
      if (n.nul || this.#o.nullIsAbsent || this.#inCore > 0 || (n.t === undefined && !n.ios && !n.qty)) return;
      this.#invalid('schema/type', null, `must be of type ${n.t ?? 'integer-or-string'}`);
      return;
    }
    if (n.ios) {
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) {
        this.#invalid('schema/type', jsonTypeName(v), 'must be of type integer-or-string');
        return;
      }
    } else if (n.qty) {
      if (typeof v === 'string') {
        if (!QUANTITY.test(v)) this.#invalid('schema/quantity', v, `quantities must match the regular expression '${QUANTITY.source}'`);
      } else if (typeof v !== 'number') this.#invalid('schema/type', jsonTypeName(v), 'must be of type string or number');
      return;
    } else if (n.t !== undefined && !typeMatches(n.t, v)) {
      this.#invalid('schema/type', jsonTypeName(v), `must be of type ${n.t}`);
      return;
    }
    if (n.enum && !n.enum.some((e) => e === v || (typeof e === 'object' && JSON.stringify(e) === JSON.stringify(v)))) {
      this.#err('schema/enum', `${this.#fp()}: Unsupported value: ${goValue(v)}: supported values: ${n.enum.map((e) => goValue(e)).join(', ')}`);
    }
    if (typeof v === 'string') this.#string(n, v);
    else if (typeof v === 'number') this.#number(n, v);
    else if (Array.isArray(v)) this.#array(n, v);
    else if (typeof v === 'object') this.#object(n, v as Record<string, unknown>, isRoot);
    if (n.anyOf || n.oneOf || n.allOf) this.#combinators(n, v);
    if (n.cel && this.#o.evalCel) this.#cel(n, v);
  }

  #string(n: SNode, v: string): void {
    if (n.maxL !== undefined && [...v].length > n.maxL) this.#err('schema/too-long', `${this.#fp()}: Too long: may not be more than ${n.maxL} bytes`);
    if (n.minL !== undefined && [...v].length < n.minL) this.#invalid('schema/bounds', v, `should be at least ${n.minL} chars long`);
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

  #number(n: SNode, v: number): void {
    if (n.fmt === 'int32' && (v > 2147483647 || v < -2147483648)) this.#invalid('schema/format', v, 'must be of type int32');
    if (n.min !== undefined && (n.exMin ? v <= n.min : v < n.min))
      this.#invalid('schema/bounds', v, `should be greater than ${n.exMin ? '' : 'or equal to '}${n.min}`);
    if (n.max !== undefined && (n.exMax ? v >= n.max : v > n.max))
      this.#invalid('schema/bounds', v, `should be less than ${n.exMax ? '' : 'or equal to '}${n.max}`);
    if (n.mult !== undefined && n.mult !== 0 && !Number.isInteger(v / n.mult)) this.#invalid('schema/bounds', v, `should be a multiple of ${n.mult}`);
  }

  #array(n: SNode, v: unknown[]): void {
    if (n.maxI !== undefined && v.length > n.maxI) this.#err('schema/too-many', `${this.#fp()}: Too many: ${v.length}: must have at most ${n.maxI} items`);
    if (n.minI !== undefined && v.length < n.minI) this.#invalid('schema/bounds', v, `should have at least ${n.minI} items`);
    const keys = n.lt === 'map' && n.lk?.length ? n.lk : undefined;
    const seen = n.lt === 'set' || keys ? new Map<string, number>() : undefined;
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
      this.#path.push(k !== undefined ? { i, k } : { i });
      if (n.items) this.#check(n.items, item);
      this.#path.pop();
    }
  }

  #object(n: SNode, v: Record<string, unknown>, isRoot: boolean): void {
    if (n.t === undefined && !n.props && !n.add) return;
    if (!this.#o.nullIsAbsent && this.#inCore === 0) pruneNulls(n, v);
    for (const r of n.req ?? []) {
      // a null value gets its own type error below: one finding per field
      if (n.props?.[r]?.def !== undefined) continue; // defaulted before validation
      if (v[r] === undefined || (v[r] === null && (this.#o.nullIsAbsent || this.#inCore > 0))) {
        this.#err('schema/required', `${fieldPathString([...this.#path, { f: r }])}: Required value`, { pathSeg: { f: r } });
      }
    }
    const count = Object.keys(v).length;
    if (n.maxP !== undefined && count > n.maxP) this.#err('schema/too-many', `${this.#fp()}: Too many: ${count}: must have at most ${n.maxP} items`);
    if (n.minP !== undefined && count < n.minP) this.#invalid('schema/bounds', v, `should have at least ${n.minP} properties`);
    const embedded = n.emb === true;
    if (embedded) {
      for (const r of ['apiVersion', 'kind']) {
        if (typeof v[r] !== 'string' || v[r] === '')
          this.#err('schema/required', `${fieldPathString([...this.#path, { f: r }])}: Required value`, { pathSeg: { f: r } });
      }
    }
    for (const [key, val] of Object.entries(v)) {
      let child: SNode | undefined = n.props?.[key];
      if ((isRoot || embedded) && key === 'metadata' && this.#o.objectMeta) child = this.#o.objectMeta;
      if ((isRoot || embedded) && (key === 'apiVersion' || key === 'kind') && !child) child = { t: 'string' };
      const fromMap = !child && n.add !== undefined;
      if (!child) child = n.add;
      this.#path.push(fromMap ? { f: key, m: true } : { f: key });
      if (child) this.#check(child, val);
      else if (!n.pres) {
        // Server-side apply fails in the field manager, before validation, with SMD's path syntax.
        this.#err('schema/unknown-field', `${smdPathString(this.#path)}: field not declared in schema`, { atKey: true });
      }
      this.#path.pop();
    }
  }

  #combinators(n: SNode, v: unknown): void {
    const quiet = (s: SNode): boolean => {
      const c = new StructuralChecker({ ...this.#o, evalCel: false });
      c.#check({ ...s, pres: true }, v);
      return c.errors.length === 0;
    };
    if (n.allOf && !n.allOf.every(quiet)) this.#invalid('schema/combinator', v, 'must validate all the schemas (allOf)');
    if (n.anyOf && !n.anyOf.some(quiet)) this.#invalid('schema/combinator', v, 'must validate at least one schema (anyOf)');
    if (n.oneOf && n.oneOf.filter(quiet).length !== 1) this.#invalid('schema/combinator', v, 'must validate one and only one schema (oneOf)');
  }

  #cel(n: SNode, v: unknown): void {
    const self = toCel(v, n, this.resolve, this.#celValues);
    for (const rule of n.cel ?? []) {
      const out = evalRule(rule, self);
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
          break;
        }
        case false: {
          this.#celStats.celEvaluated++;
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
