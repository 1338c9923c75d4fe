import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { evalRule, toCel } from '../../src/validate/check/cel.js';
import { convertSchema } from '../../src/validate/schema/crd.js';
import type { SNode } from '../../src/validate/schema/types.js';
import { ROOT, caseCrd, validateTexts } from './helpers.js';

// The API server's CEL cost account and limits (test/validate/conformance/cel-costs.yaml and
// cel-cost-limits.yaml; sources, licence and exceptions in that directory's README).

const DIR = join(ROOT, 'test/validate/conformance');

interface CostCase {
  name: string;
  schema: Record<string, unknown>;
  object: Record<string, unknown>;
  costs: Record<string, number>;
  /** rule -> why Castle's account or verdict differs */
  exceptions?: Record<string, string>;
}

interface LimitCase {
  name: string;
  schema: Record<string, unknown>;
  rules: string[];
  list: { path: string; count: number; item: Record<string, unknown> };
  errors: string[];
}

function expand(v: unknown, i: number): unknown {
  if (v === 'range60') return Array.from({ length: 60 }, (_, k) => k + 1);
  if (typeof v === 'string') return v.replaceAll('{i}', String(i));
  if (Array.isArray(v)) return v.map((x) => expand(x, i));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x, i)]));
  return v;
}

describe("CEL cost: the API server's runtime cost account and limits", () => {
  it('charges each rule of celcoststability_test.go exactly what the API server charges', () => {
    const cases = parse(readFileSync(join(DIR, 'cel-costs.yaml'), 'utf8')) as CostCase[];
    let agree = 0;
    let total = 0;
    const disagreements: string[] = [];
    const held: string[] = [];
    for (const c of cases) {
      const node = convertSchema(c.schema);
      const self = toCel(c.object, node, (n: SNode) => n);
      for (const [rule, want] of Object.entries(c.costs)) {
        total++;
        const out = evalRule({ rule }, self);
        const got = 'cost' in out ? out.cost : undefined;
        const same = out.ok === true && got === want;
        const why = c.exceptions?.[rule];
        if (why !== undefined) {
          // an exception that starts agreeing must leave the list (and the README)
          assert.ok(!same, `${c.name}: ${rule} now agrees (cost ${want}): remove it from the exceptions`);
          held.push(`${c.name}: ${rule}`);
        } else if (same) agree++;
        else disagreements.push(`${c.name}: ${rule}: server ${want}, Castle ${got ?? '-'} (${out.ok === true ? 'valid' : JSON.stringify(out)})`);
      }
    }
    const figure = `CEL cost: ${agree}/${total} rules charged exactly the API server's cost (${((agree / total) * 100).toFixed(1)}%), ${held.length} explained exceptions, ${disagreements.length} unexplained`;
    console.log(figure);
    assert.deepEqual(disagreements, [], figure);
    assert.equal(agree + held.length, total);
    assert.ok(agree >= 190, figure);
  });

  it('gives the API server verdict on objects over the per-call limit and the per-object budget', async () => {
    const cases = parse(readFileSync(join(DIR, 'cel-cost-limits.yaml'), 'utf8')) as LimitCase[];
    for (const c of cases) {
      const spec = { [c.list.path]: Array.from({ length: c.list.count }, (_, i) => expand(c.list.item, i)) };
      const object = stringify({ apiVersion: 'conformance.castle.dev/v1', kind: 'Case', metadata: { name: 'c', namespace: 'default' }, spec });
      const r = await validateTexts({
        'crd.yaml': caseCrd(
          c.schema,
          c.rules.map((rule) => ({ rule })),
        ),
        'case.yaml': object,
      });
      const got = r.diagnostics.filter((d) => d.location?.file === 'case.yaml' && d.severity === 'error').map((d) => d.message);
      assert.deepEqual(got, c.errors, c.name);
    }
  });
});
