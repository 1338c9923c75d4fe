import type { Diagnostic } from '../../diag/diagnostic.js';
import type { PathSeg } from '../../diag/yaml-source.js';
import type { ManifestDoc } from '../documents.js';
import { estimateMaxCost, maxCardinality, NotEstimated, schemaDecl, type Decl, type DeclOptions } from './cel-estimate.js';
import { diag, obj } from './context.js';
import { from137, minorOf } from './kubernetes-version.js';
import { TWO_VAR_COMPREHENSIONS_SINCE } from './cel-comprehensions.js';

/**
 * The estimated cost check kube-apiserver runs on x-kubernetes-validations when a CRD is created or
 * updated (apiextensions validation.go and cel_validation.go, Kubernetes 1.36): each rule's
 * worst-case cost times the number of times it can run per object must stay under
 * StaticEstimatedCostLimit, and all rules of a version's schema under StaticEstimatedCRDCostLimit.
 */

export const STATIC_ESTIMATED_COST_LIMIT = 10_000_000;
export const STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000;
const U64 = 18446744073709551615;

export interface CrdCostStats {
  /** rules and messageExpressions whose cost was estimated */
  estimated: number;
  /** rules and messageExpressions left unestimated (a construct the estimator does not model) */
  notEstimated: number;
}

type Obj = Record<string, unknown>;

/** Go's %f / %.1f of validation.go getCostErrorMessage (round half to even on the exact binary value) */
function goFixed(v: number, digits: number): string {
  const s = v.toFixed(digits);
  const scaled = v * 10 ** digits;
  if (Number.isFinite(scaled) && scaled - Math.floor(scaled) === 0.5 && Math.floor(scaled) % 2 === 0)
    return (Math.floor(scaled) / 10 ** digits).toFixed(digits);
  return s;
}

export function costErrorMessage(costName: string, cost: number, limit: number): string {
  const f = cost / limit;
  const factor = f > 100 ? 'more than 100x' : f < 1.5 ? `${goFixed(f, 6)}x` : `${goFixed(f, 1)}x`;
  return `${costName} exceeds budget by factor of ${factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)`;
}

function mulGuard(base: number, card: number): number {
  if (base === 0) return 0;
  return base * card >= U64 ? U64 : base * card;
}

/** cel_validation.go extractMaxElements: how many children a node can hold, undefined when unbounded */
function maxElements(s: Obj): number | undefined {
  const n = (v: unknown): number | undefined => (typeof v === 'number' ? Math.max(0, v) : undefined);
  if (s['type'] === 'object') return s['additionalProperties'] !== undefined ? n(s['maxProperties']) : 1;
  if (s['type'] === 'array') return n(s['maxItems']);
  return 1;
}

interface Cost {
  at: PathSeg[];
  field: string;
  cost: number;
}

interface Walk {
  d: ManifestDoc;
  out: Diagnostic[];
  stats: CrdCostStats;
  total: number;
  complete: boolean;
  expensive: Cost[];
  decl: DeclOptions;
  /** the target Kubernetes has cel-go's two-variable comprehensions (1.32 and later; a rule using them is refused before) */
  twoVar: boolean;
}

function observe(w: Walk, c: Cost): void {
  w.total = w.total + c.cost >= U64 ? U64 : w.total + c.cost;
  if (c.cost < STATIC_ESTIMATED_CRD_COST_LIMIT / 100) return;
  w.expensive.push(c);
  w.expensive.sort((a, b) => b.cost - a.cost);
  if (w.expensive.length > 4) w.expensive.length = 4;
}

function estimate(w: Walk, expression: string, decl: Decl | undefined): number | undefined {
  if (!decl) {
    w.stats.notEstimated++;
    w.complete = false;
    return undefined;
  }
  try {
    const cost = estimateMaxCost(expression, decl, w.twoVar);
    w.stats.estimated++;
    return cost;
  } catch (e) {
    if (!(e instanceof NotEstimated)) throw e;
    w.stats.notEstimated++;
    w.complete = false;
    return undefined;
  }
}

function walk(w: Walk, s: unknown, at: PathSeg[], field: string, card: number | undefined, isRoot: boolean): void {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return;
  const node = s as Obj;
  const rules = node['x-kubernetes-validations'];
  if (Array.isArray(rules) && rules.length > 0) {
    const decl = schemaDecl(node, isRoot || node['x-kubernetes-embedded-resource'] === true, w.decl);
    const cardinality = card ?? (decl ? maxCardinality(decl.minSize) : 0);
    rules.forEach((r, i) => {
      const rule = obj(r);
      if (!rule) return;
      const ruleAt = [...at, 'x-kubernetes-validations', i];
      const ruleField = `${field}.x-kubernetes-validations[${i}]`;
      // validation.go compares a messageExpression's own estimate, without the cardinality
      for (const [key, what, times] of [
        ['rule', 'estimated rule cost', cardinality],
        ['messageExpression', 'estimated messageExpression cost', 1],
      ] as const) {
        const expr = rule[key];
        if (typeof expr !== 'string' || expr.trim() === '') continue;
        const max = estimate(w, expr, decl);
        if (max === undefined) continue;
        const cost = times === 1 ? max : mulGuard(max, times);
        if (cost > STATIC_ESTIMATED_COST_LIMIT)
          w.out.push(
            diag(w.d, 'error', 'cel/estimated-cost', `${ruleField}.${key}: Forbidden: ${costErrorMessage(what, cost, STATIC_ESTIMATED_COST_LIMIT)}`, [
              ...ruleAt,
              key,
            ]),
          );
        observe(w, { at: [...ruleAt, key], field: `${ruleField}.${key}`, cost });
      }
    });
  }
  const childCard = (): number | undefined => {
    if (card === undefined) return undefined;
    const m = maxElements(node);
    return m === undefined ? undefined : card * m >= U64 ? U64 : card * m;
  };
  const ap = node['additionalProperties'];
  if (typeof ap === 'object' && ap !== null) walk(w, ap, [...at, 'additionalProperties'], `${field}.additionalProperties`, childCard(), false);
  const props = obj(node['properties']);
  for (const [name, p] of Object.entries(props ?? {})) walk(w, p, [...at, 'properties', name], `${field}.properties[${name}]`, childCard(), false);
  const items = node['items'];
  if (Array.isArray(items)) items.forEach((it, i) => walk(w, it, [...at, 'items', i], `${field}.items[${i}]`, childCard(), false));
  else if (typeof items === 'object' && items !== null) walk(w, items, [...at, 'items'], `${field}.items`, childCard(), false);
}

/**
 * Reports the rules of a CRD the API server would refuse for their estimated cost; returns what was
 * estimated. `kubernetesVersion`: the target cluster's (the bundled schemas' by default).
 */
export function checkCrdCost(d: ManifestDoc, out: Diagnostic[], kubernetesVersion?: string): CrdCostStats {
  const capNames = from137(kubernetesVersion);
  const twoVar = (minorOf(kubernetesVersion) ?? TWO_VAR_COMPREHENSIONS_SINCE) >= TWO_VAR_COMPREHENSIONS_SINCE;
  const stats: CrdCostStats = { estimated: 0, notEstimated: 0 };
  const versions = obj(d.value['spec'])?.['versions'];
  if (!Array.isArray(versions)) return stats;
  versions.forEach((v, vi) => {
    const schema = obj(obj(obj(v)?.['schema'])?.['openAPIV3Schema']);
    if (!schema) return;
    const at: PathSeg[] = ['spec', 'versions', vi, 'schema', 'openAPIV3Schema'];
    const field = `spec.versions[${vi}].schema.openAPIV3Schema`;
    const w: Walk = { d, out, stats, total: 0, complete: true, expensive: [], decl: { capNames }, twoVar };
    walk(w, schema, at, field, 1, true);
    // a total that leaves out rules not estimated would give the wrong factor: it is reported only when complete
    if (w.complete && w.total > STATIC_ESTIMATED_CRD_COST_LIMIT) {
      for (const c of w.expensive)
        out.push(
          diag(
            d,
            'error',
            'cel/estimated-cost',
            `${c.field}: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema`,
            c.at,
          ),
        );
      out.push(
        diag(
          d,
          'error',
          'cel/estimated-cost',
          `${field}: Forbidden: ${costErrorMessage('x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema', w.total, STATIC_ESTIMATED_CRD_COST_LIMIT)}`,
          at,
          { key: true },
        ),
      );
    }
  });
  return stats;
}
