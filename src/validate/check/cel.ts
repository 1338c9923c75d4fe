import { Environment, serialize, type ASTNode } from '@marcbachmann/cel-js';
import { registerKubernetesLibraries, RuleError } from './cel-k8s.js';
import { COST_LIMIT_MESSAGE, instrument, PER_CALL_LIMIT, tracked } from './cel-cost.js';
import { bindList, bindListOperators } from './cel-lists.js';
import { registerTwoVarComprehensions, TWO_VAR_COMPREHENSIONS_SINCE, usesTwoVarComprehensions } from './cel-comprehensions.js';
import { minorOf } from './kubernetes-version.js';
import { escapeName } from './cel-estimate.js';
import { durationSeconds } from './duration.js';
import { re2Test } from './regex.js';
import type { CelRule, SNode } from '../schema/types.js';

/**
 * `x-kubernetes-validations`, evaluated with cel-js plus the pieces of the Kubernetes CEL
 * environment PGO and friends rely on. `matches()` is routed to RE2 (Kubernetes' semantics);
 * fields with `format: duration`/`date-time` become CEL durations/timestamps as in the API server;
 * lists with `x-kubernetes-list-type: set`/`map` keep the server's equality and `+` (cel-lists.ts).
 * A rule that cannot be compiled or evaluated is reported as such, never counted as passing.
 */

type Program = (ctx: Record<string, unknown>) => unknown;

/** `cost`: the runtime cost the API server would charge the evaluation (cel-cost.ts) */
export type CelOutcome =
  | { ok: true; cost: number }
  | { ok: false; message: string; cost: number }
  | { ok: 'error'; message: string; cost: number; halt?: true }
  | { ok: 'unevaluated'; reason: string }
  | { ok: 'skipped' };

let env: Environment | undefined;
let optionalEnv: Environment | undefined;
const programs = new Map<string, Program | Error>();
const optionalPrograms = new Map<string, Program | Error>();
/** programs using cel-go's two-variable comprehensions, which the API server has from Kubernetes 1.32 */
const twoVar = new WeakSet<Program>();

/** `optionalOldSelf` rules: `oldSelf` is declared `optional<dyn>`, as the API server types it for them */
function optionalEnvironment(): Environment {
  if (optionalEnv) return optionalEnv;
  optionalEnv = newEnvironment();
  optionalEnv.registerVariable('oldSelf', 'optional<dyn>');
  return optionalEnv;
}

function environment(): Environment {
  env ??= newEnvironment();
  return env;
}

function newEnvironment(): Environment {
  const e = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false, enableOptionalTypes: true });
  const match = (s: string, p: string): boolean => {
    const r = re2Test(p, s);
    if (r instanceof Error) throw new Error(`invalid RE2 pattern ${JSON.stringify(p)}: ${r.message}`);
    return r;
  };
  e.registerFunction('string.re2matches(string): bool', match);
  e.registerFunction('re2matches(string, string): bool', match);
  registerKubernetesLibraries(e);
  registerTwoVarComprehensions(e);
  return e;
}

/** Rewrites `.matches(` / `matches(` outside string literals so RE2 does the matching. */
export function routeMatches(rule: string): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < rule.length; i++) {
    const ch = rule[i]!;
    if (quote) {
      out += ch;
      if (ch === '\\') {
        out += rule[i + 1] ?? '';
        i++;
      } else if (rule.startsWith(quote, i)) {
        out += quote.slice(1);
        i += quote.length - 1;
        quote = null;
      }
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = rule.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      out += quote;
      i += quote.length - 1;
      continue;
    }
    if (rule.startsWith('matches(', i) && !/[A-Za-z0-9_]/.test(rule[i - 1] ?? '')) {
      out += 're2matches(';
      i += 'matches('.length - 1;
      continue;
    }
    out += ch;
  }
  return out;
}

/**
 * `duration("0")`, `duration("1h30m")`: Go's ParseDuration (what Kubernetes' CEL uses) accepts
 * forms cel-js does not; literal arguments are normalised to seconds.
 */
export function normaliseDurations(rule: string): string {
  return rule.replace(/\bduration\((["'])([^"'\\]*)\1\)/g, (whole, _q: string, lit: string) => {
    const secs = durationSeconds(lit);
    return secs === undefined ? whole : `duration("${secs}s")`;
  });
}

/**
 * `x.optMap(v, e)` and `x.optFlatMap(v, e)` (cel-go's optional macros, which cel-js lacks) as the
 * expressions they stand for, with cel.bind; the AST is rewritten bottom-up and printed back.
 */
export function expandOptionalMacros(rule: string): string {
  if (!/\bopt(?:Flat)?Map\s*\(/.test(rule)) return rule;
  const e = environment();
  const walk = (n: unknown): void => {
    if (!n || typeof n !== 'object' || !('op' in n)) return;
    const node = n as { op: string; args: unknown };
    for (const a of Array.isArray(node.args) ? node.args : [node.args]) {
      if (Array.isArray(a)) a.forEach(walk);
      else walk(a);
    }
    if (node.op !== 'rcall' || !Array.isArray(node.args)) return;
    const [name, recv, args] = node.args as [unknown, ASTNode, ASTNode[] | undefined];
    if ((name !== 'optMap' && name !== 'optFlatMap') || !Array.isArray(args) || args.length !== 2) return;
    const r = serialize(recv);
    const v = serialize(args[0]!);
    const body = serialize(args[1]!);
    const text =
      name === 'optMap'
        ? `(${r}.hasValue() ? optional.of(cel.bind(${v}, ${r}.value(), ${body})) : optional.none())`
        : `(${r}.hasValue() ? cel.bind(${v}, ${r}.value(), ${body}) : optional.none())`;
    const sub = e.parse(text).ast as unknown as { op: string; args: unknown };
    node.op = sub.op;
    node.args = sub.args;
  };
  const ast = e.parse(rule).ast;
  walk(ast);
  return serialize(ast);
}

function program(rule: string, optionalOldSelf = false): Program | Error {
  const cache = optionalOldSelf ? optionalPrograms : programs;
  let p = cache.get(rule);
  if (p === undefined) {
    try {
      p = (optionalOldSelf ? optionalEnvironment() : environment()).parse(routeMatches(normaliseDurations(expandOptionalMacros(rule)))) as unknown as Program;
      instrument((p as unknown as { ast: ASTNode }).ast);
      bindListOperators((p as unknown as { ast: ASTNode }).ast);
      if (usesTwoVarComprehensions((p as unknown as { ast: ASTNode }).ast)) twoVar.add(p);
    } catch (e) {
      p = e instanceof Error ? e : new Error(String(e));
    }
    cache.set(rule, p);
  }
  return p;
}

/** made once: a regular expression literal in a function is a new RegExp each time it runs, and this one runs per rule evaluated */
const OLD_SELF = /\boldSelf\b/;

export function isTransitionRule(rule: CelRule): boolean {
  return OLD_SELF.test(rule.rule);
}

let durationOf: Program | undefined;
let timestampOf: Program | undefined;

/**
 * Converts a decoded YAML value to the CEL value the API server would bind, following the schema.
 * `kubernetes137`: bind set and map lists with the rules of Kubernetes 1.37 (cel-lists.ts).
 */
export function toCel(v: unknown, node: SNode | undefined, resolve: (n: SNode) => SNode, cache?: WeakMap<object, unknown>, kubernetes137 = false): unknown {
  // rules on nested nodes bind the same subtrees again: converted once per object checked
  if (cache && typeof v === 'object' && v !== null) {
    const hit = cache.get(v);
    if (hit !== undefined) return hit;
    const out = convert(v, node, resolve, cache, kubernetes137);
    cache.set(v, out);
    return out;
  }
  return convert(v, node, resolve, cache, kubernetes137);
}

/**
 * The fields of `self` that the rules of one schema node read, when every use of `self` in them is
 * a field selection (`self.x`, `has(self.x)`): an object is then bound with those fields only (see
 * toCelFields), which is all the rules can see. Undefined when a rule uses `self` whole (a macro on
 * it, a comparison, a call), has a messageExpression, or does not parse. PGO's rule on `spec` reads
 * `self.config` and `self.postgresVersion`; converting the whole spec for it was most of the conversion.
 */
export function selfFields(rules: readonly CelRule[]): ReadonlySet<string> | undefined {
  let f = selfFieldsOf.get(rules);
  if (f === undefined) {
    f = collectSelfFields(rules) ?? null;
    selfFieldsOf.set(rules, f);
  }
  return f ?? undefined;
}

const selfFieldsOf = new WeakMap<readonly CelRule[], ReadonlySet<string> | null>();

function collectSelfFields(rules: readonly CelRule[]): ReadonlySet<string> | undefined {
  const fields = new Set<string>();
  let whole = false;
  const walk = (n: unknown, parent: { op: string; args: unknown } | undefined): void => {
    if (whole || !n || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x, parent);
      return;
    }
    if (!('op' in n)) return;
    const node = n as { op: string; args: unknown };
    if (node.op === 'id' && node.args === 'self') {
      const sel = parent?.op === '.' && Array.isArray(parent.args) && parent.args[0] === node && typeof parent.args[1] === 'string';
      if (sel) fields.add((parent.args as [unknown, string])[1]);
      else whole = true;
      return;
    }
    walk(node.args, node);
  };
  for (const rule of rules) {
    if (rule.messageExpression !== undefined || OLD_SELF.test(rule.rule)) return undefined;
    const p = program(rule.rule);
    if (p instanceof Error) return undefined;
    walk((p as unknown as { ast: ASTNode }).ast, undefined);
    if (whole) return undefined;
  }
  return fields;
}

/** toCel of an object with only `fields` (see selfFields): each present field converted as toCel converts it */
export function toCelFields(
  v: Record<string, unknown>,
  fields: ReadonlySet<string>,
  node: SNode,
  resolve: (n: SNode) => SNode,
  cache: WeakMap<object, unknown> | undefined,
  kubernetes137 = false,
): Record<string, unknown> {
  const n = resolve(node);
  // the rules select escaped names (`self.a__dot__b`) of an object with properties, a map's keys as they are
  const name = n.props ? celName : (k: string): string => k;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const c = name(k);
    if (!fields.has(c)) continue;
    const x = v[k];
    if (x === null && n.props?.[k] !== undefined) continue;
    out[c] = toCel(x, n.props?.[k] ?? n.add, resolve, cache, kubernetes137);
  }
  for (const [k, p] of defaulted(n)) {
    const c = name(k);
    if (fields.has(c) && out[c] === undefined) out[c] = toCel(p.def, p, resolve, undefined, kubernetes137);
  }
  return out;
}

function convert(v: unknown, node: SNode | undefined, resolve: (n: SNode) => SNode, cache: WeakMap<object, unknown> | undefined, k137: boolean): unknown {
  const n = node ? resolve(node) : undefined;
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) && n?.t !== 'number' ? BigInt(v) : v;
  if (typeof v === 'string') {
    if (n?.fmt === 'duration') {
      durationOf ??= environment().parse('duration(x)') as unknown as Program;
      const secs = durationSeconds(v);
      if (secs === undefined) return v;
      try {
        return durationOf({ x: `${secs}s` });
      } catch {
        return v;
      }
    }
    if (n?.fmt === 'byte') {
      // the API server binds format: byte as CEL bytes, decoded from base64
      return new Uint8Array(Buffer.from(v, 'base64'));
    }
    if (n?.fmt === 'date' && /^\d{4}-\d{2}-\d{2}$/.test(v)) {
      timestampOf ??= environment().parse('timestamp(x)') as unknown as Program;
      try {
        return timestampOf({ x: `${v}T00:00:00Z` });
      } catch {
        return v;
      }
    }
    if (n?.fmt === 'date-time') {
      timestampOf ??= environment().parse('timestamp(x)') as unknown as Program;
      try {
        return timestampOf({ x: v });
      } catch {
        return v;
      }
    }
    return v;
  }
  // set and map lists compare without regard to order, as the server binds them (cel-lists.ts)
  if (Array.isArray(v))
    return bindList(
      v.map((x) => toCel(x, n?.items, resolve, cache, k137)),
      v,
      n?.lt,
      n?.lk,
      k137,
    );
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    // an object with properties shows them under their escaped names (`a.b` as `a__dot__b`); a map's keys stay as they are
    const name = n?.props ? celName : (k: string): string => k;
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      // a property set to null is absent for CEL (the server's UnstructuredToVal); a map value stays null
      if (x === null && n?.props?.[k] !== undefined) continue;
      out[name(k)] = toCel(x, n?.props?.[k] ?? n?.add, resolve, cache, k137);
    }
    // structural defaulting happens before validation on the API server
    if (n) for (const [k, p] of defaulted(n)) if (out[name(k)] === undefined) out[name(k)] = toCel(p.def, p, resolve, undefined, k137);
    return out;
  }
  return v;
}

/**
 * The name a rule reads a property by (k8s.io/apiserver/pkg/cel escaping.go): escaped when it can
 * be, otherwise as it is, which no CEL identifier can name (`a@b`, `9a`).
 */
function celName(k: string): string {
  let name = celNames.get(k);
  if (name === undefined) {
    name = escapeName(k) ?? k;
    // property names repeat across documents; the cap keeps keys of arbitrary objects from growing it
    if (celNames.size < 10_000) celNames.set(k, name);
  }
  return name;
}

const celNames = new Map<string, string>();

/** a node's properties that have a default, found once per node: most objects converted have none, among many properties */
const defaultedProps = new WeakMap<SNode, [string, SNode][]>();

function defaulted(n: SNode): [string, SNode][] {
  let d = defaultedProps.get(n);
  if (d === undefined) {
    d = Object.entries(n.props ?? {}).filter(([, p]) => p.def !== undefined);
    defaultedProps.set(n, d);
  }
  return d;
}

let optionalOf: Program | undefined;

/**
 * `oldSelf`: undefined for a rule that does not use it; `{ value }` the correlated old value of an
 * update; null when there is none (a create), bound as `optional.none()` for `optionalOldSelf` rules.
 */
export function evalRule(rule: CelRule, self: unknown, oldSelf?: { value: unknown } | null, limit = PER_CALL_LIMIT, kubernetesVersion?: string): CelOutcome {
  if (isTransitionRule(rule) && oldSelf === undefined) return { ok: 'skipped' };
  const optional = oldSelf !== undefined && rule.optionalOldSelf === true;
  const p = program(rule.rule, optional);
  if (p instanceof Error) return { ok: 'unevaluated', reason: firstLine(p.message) };
  // an older API server does not compile the rule (the CRD is refused): not evaluated, as any function it lacks
  if (twoVar.has(p) && (minorOf(kubernetesVersion) ?? TWO_VAR_COMPREHENSIONS_SINCE) < TWO_VAR_COMPREHENSIONS_SINCE)
    return { ok: 'unevaluated', reason: `two-variable comprehensions need Kubernetes 1.${TWO_VAR_COMPREHENSIONS_SINCE} (the target is ${kubernetesVersion})` };
  let result: unknown;
  const vars: Record<string, unknown> = { self };
  if (oldSelf !== undefined) {
    optionalOf ??= environment().parse('x == null ? optional.none() : optional.of(x)') as unknown as Program;
    vars['oldSelf'] = rule.optionalOldSelf ? optionalOf({ x: oldSelf?.value ?? null }) : oldSelf?.value;
  }
  const run = tracked(limit, () => p(vars));
  const cost = run.cost;
  const ruleText = (rule.message ?? rule.rule).trim();
  // validation.go: the per-call limit is a field error naming the rule (its message, or the rule) and ends validation
  if (run.exceeded)
    return {
      ok: 'error',
      message: `'${COST_LIMIT_MESSAGE}': no further validation rules will be run due to call cost exceeds limit for rule: ${ruleText}`,
      cost,
      halt: true,
    };
  if ('error' in run) {
    const e = run.error;
    const msg = goMessage(firstLine(e instanceof Error ? e.message : String(e)));
    // a missing field is a runtime error for the API server too, which rejects the object with it
    const key = /^no such key: (.+)$/i.exec(msg);
    // the server's wording: `<error> evaluating rule: <message, or the rule when it has none>`
    if (key) return { ok: 'error', message: `no such key: ${key[1]} evaluating rule: ${ruleText}`, cost };
    const libError = e instanceof RuleError ? e : e instanceof Error && e.cause instanceof RuleError ? e.cause : undefined;
    if (libError) return { ok: 'error', message: `${firstLine(libError.message)} evaluating rule: ${ruleText}`, cost };
    // a run-time error of the expression itself rejects the object on the server too; a missing
    // function or overload may be Castle's gap, so it is only reported as not evaluated
    if (!/no (?:matching|such) overload|unknown (?:variable|function)|not (?:a function|supported)/i.test(msg))
      return { ok: 'error', message: `${msg} evaluating rule: ${ruleText}`, cost };
    return { ok: 'unevaluated', reason: msg };
  }
  result = run.value;
  if (result === true) return { ok: true, cost };
  if (result !== false) return { ok: 'unevaluated', reason: `rule returned ${typeof result}, not bool` };
  return { ok: false, message: ruleMessage(rule, vars), cost };
}

function ruleMessage(rule: CelRule, vars: Record<string, unknown>): string {
  if (rule.messageExpression) {
    const p = program(rule.messageExpression, vars['oldSelf'] !== undefined && rule.optionalOldSelf === true);
    if (!(p instanceof Error)) {
      try {
        const m = p(vars);
        if (typeof m === 'string' && m.trim() !== '') return m;
      } catch {
        // the API server falls back to `message` (or the rule) when messageExpression fails
      }
    }
  }
  if (rule.message) return rule.message;
  return `failed rule: ${rule.rule}`;
}

/** cel-go's text of the errors cel-js words differently (`index out of bounds: 10`, from types/list.go) */
function goMessage(msg: string): string {
  const index = /^no such key: index out of bounds, index (-?\d+)/i.exec(msg);
  return index ? `index out of bounds: ${index[1]}` : msg;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
