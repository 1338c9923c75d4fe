import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { estimateCost, estimateMaxCost, NotEstimated, schemaDecl, typeNamed, type EstimateEnv } from '../../src/validate/check/cel-estimate.js';
import type { Diagnostic } from '../../src/diag/diagnostic.js';
import { checkCrdCost, costErrorMessage } from '../../src/validate/check/crd-cost.js';
import type { ManifestDoc } from '../../src/validate/documents.js';
import { cleanup, conformanceCrd, FIXTURES, messages, ROOT, rules, runCli, tempDir, validateTexts, writeTree } from './helpers.js';

// The API server's estimated cost of CRD validation rules (test/validate/conformance/cel-estimated-costs.yaml;
// source, licence and exceptions in that directory's README).

const DIR = join(ROOT, 'test/validate/conformance');

interface EstimateCase {
  name: string;
  schema: Record<string, unknown>;
  rule: string;
  cost?: number;
  exceeds?: number;
  max?: number;
  setCost?: number;
  /** why Castle does not estimate this rule (counted, never reported) */
  notEstimated?: string;
}

/** the test's schema generator: '$max' dropped (calc run) or set to `max` (set run) */
function generate(v: unknown, max: number | undefined): unknown {
  if (Array.isArray(v)) return v.map((x) => generate(x, max));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === '$max') {
        if (max !== undefined) out[k] = max;
      } else out[k] = generate(x, max);
    }
    return out;
  }
  return v;
}

function estimate(schema: unknown, rule: string): number | string {
  const decl = schemaDecl(schema, false);
  if (!decl) return 'no declaration';
  try {
    return estimateMaxCost(rule, decl);
  } catch (e) {
    if (e instanceof NotEstimated) return `not estimated: ${e.message}`;
    throw e;
  }
}

describe("CEL estimated cost: the API server's static cost of CRD rules", () => {
  it('estimates each rule of TestCostEstimation exactly as the API server does', () => {
    const cases = parse(readFileSync(join(DIR, 'cel-estimated-costs.yaml'), 'utf8')) as EstimateCase[];
    let agree = 0;
    let total = 0;
    const held: string[] = [];
    const disagreements: string[] = [];
    for (const c of cases) {
      const runs: [string, unknown, (got: number) => boolean, string][] = [
        [
          'calc',
          generate(c.schema, undefined),
          (got) => (c.exceeds !== undefined ? got >= c.exceeds : got === c.cost),
          c.exceeds !== undefined ? `>= ${c.exceeds}` : String(c.cost),
        ],
      ];
      if (c.setCost !== undefined) runs.push(['set', generate(c.schema, c.max), (got) => got === c.setCost, String(c.setCost)]);
      for (const [run, schema, ok, want] of runs) {
        total++;
        const got = estimate(schema, c.rule);
        const same = typeof got === 'number' && ok(got);
        if (c.notEstimated !== undefined) {
          // a rule left out must stay out of the estimate (never a guessed figure), and leave the list if it starts agreeing
          assert.ok(typeof got === 'string', `${c.name} (${run}): ${c.rule} is now estimated (${got}): remove notEstimated`);
          held.push(`${c.name} (${run})`);
        } else if (same) agree++;
        else disagreements.push(`${c.name} (${run}): ${c.rule}: server ${want}, Castle ${got}`);
      }
    }
    const figure = `CEL estimated cost: ${agree}/${total} rules estimated exactly as the API server does (${((agree / total) * 100).toFixed(1)}%), ${held.length} explained as not estimated, ${disagreements.length} unexplained`;
    console.log(figure);
    assert.deepEqual(disagreements, [], figure);
    assert.equal(agree + held.length, total);
  });
});

interface CrdCase {
  name: string;
  schema: Record<string, unknown>;
  errors: { at: string; kind: 'rule' | 'messageExpression' | 'contributed' | 'total' }[];
}

const KIND_TEXT = {
  rule: 'estimated rule cost exceeds budget by factor of ',
  messageExpression: 'estimated messageExpression cost exceeds budget by factor of ',
  contributed: 'contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema',
  total: 'x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of ',
};

function crdOf(schema: Record<string, unknown>): string {
  return stringify(conformanceCrd(schema));
}

describe("CEL estimated cost: the API server's verdict on CRDs", () => {
  it('refuses exactly the CRDs validation_test.go refuses, at the same fields, through castle validate', async () => {
    const cases = parse(readFileSync(join(DIR, 'cel-estimated-crds.yaml'), 'utf8')) as CrdCase[];
    let agree = 0;
    for (const c of cases) {
      const r = await validateTexts({ 'crd.yaml': crdOf(c.schema) });
      const base = 'spec.versions[0].schema.openAPIV3Schema';
      const want = c.errors.map((e) => `${e.at === '' ? base : `${base}.${e.at}`}: Forbidden: ${KIND_TEXT[e.kind]}`).sort();
      const found = r.diagnostics.filter((d) => d.rule === 'cel/estimated-cost');
      for (const d of found) assert.ok(d.location?.file === 'crd.yaml' && (d.location.line ?? 0) > 0, `${c.name}: ${d.message} has no location`);
      const got = found.map((d) => {
        const k = (Object.values(KIND_TEXT) as string[]).find((t) => d.message.includes(`Forbidden: ${t}`));
        return k === undefined ? d.message : d.message.slice(0, d.message.indexOf('Forbidden: ') + 'Forbidden: '.length) + k;
      });
      assert.deepEqual(got.sort(), want, c.name);
      assert.deepEqual(
        rules(r, 'error').filter((x) => x !== 'cel/estimated-cost'),
        [],
        `${c.name}: other errors`,
      );
      assert.equal(r.stats.celNotEstimated, 0, `${c.name}: every rule estimated`);
      agree++;
    }
    console.log(`CEL estimated cost on CRDs: ${agree}/${cases.length} verdicts of validation_test.go agree`);
  });
});

const BACKUP_CRD = (maxItems: string): string => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: backups.example.castle.dev
spec:
  group: example.castle.dev
  names: { kind: Backup, plural: backups, singular: backup, listKind: BackupList }
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                targets:
                  type: array${maxItems}
                  items:
                    type: string
                    maxLength: 64
                    x-kubernetes-validations:
                      - rule: "self.matches('^[a-z0-9-]+$')"
                        message: target names are lowercase
`;

describe('CEL estimated cost: castle validate on a CRD', () => {
  it('reports a rule over a list without maxItems at the rule, with the API server message, and passes once maxItems is set', () => {
    const dir = tempDir();
    try {
      writeTree(dir, { 'unbounded.yaml': BACKUP_CRD(''), 'bounded.yaml': BACKUP_CRD('\n                  maxItems: 100') });
      const bad = runCli(['validate', 'unbounded.yaml'], dir);
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      // (256 + 1) x 0.1 -> 26, times the pattern's 12 x 0.25 = 3, plus 1 for self: 79 per call; an unbounded list of
      // strings holds 3 MiB / 3 = 1,048,576 of them: 82,837,504, 8.3 times StaticEstimatedCostLimit
      assert.match(
        bad.stdout,
        /^unbounded\.yaml:26:31: error cel\/estimated-cost: spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.properties\[targets\]\.items\.x-kubernetes-validations\[0\]\.rule: Forbidden: estimated rule cost exceeds budget by factor of 8\.3x \(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared\)$/m,
      );
      const good = runCli(['validate', 'bounded.yaml'], dir);
      assert.equal(good.status, 0, good.stdout + good.stderr);
      assert.doesNotMatch(good.stdout, /estimated-cost/);
    } finally {
      cleanup(dir);
    }
  });

  it('estimates every rule of a real CRD the API server accepts (Gateway API) and reports none', async () => {
    const file = join(FIXTURES, 'gateway-api/gateway.networking.k8s.io_gateways.yaml');
    const r = await validateTexts({ 'gateways.yaml': readFileSync(file, 'utf8') });
    assert.deepEqual(messages(r, 'cel/estimated-cost'), []);
    assert.equal(r.stats.celNotEstimated, 0);
    const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const out: Diagnostic[] = [];
    const stats = checkCrdCost({ value: doc, base: [], pos: { locate: () => ({ file }) } } as unknown as ManifestDoc, out);
    assert.deepEqual(stats, { estimated: 32, notEstimated: 0 });
    assert.deepEqual(out, []);
  });
});

describe('CEL estimated cost: metadata names by Kubernetes version', () => {
  // compilation_test.go TestMetadataNameCostIsBounded (k8s.io/apiextensions-apiserver 1aa2717a552e, 1.37):
  // at a resource root, rules over metadata.name and generateName cost more than 0 and at most 10,000
  it('bounds metadata.name and generateName from 1.37, as TestMetadataNameCostIsBounded requires', () => {
    for (const rule of ["self.metadata.name.contains('x')", "self.metadata.generateName.contains('x')"]) {
      const bounded = estimateMaxCost(rule, schemaDecl({ type: 'object' }, true, { capNames: true })!);
      assert.ok(bounded > 0 && bounded <= 10_000, `${rule}: ${bounded}`);
      // 1.36 declares them without maxLength: the request size bounds them
      const unbounded = estimateMaxCost(rule, schemaDecl({ type: 'object' }, true)!);
      assert.ok(unbounded > 10_000, `${rule}: ${unbounded}`);
    }
  });
});

describe('CEL estimated cost: messages and what is not estimated', () => {
  it("formats the factor as validation.go's getCostErrorMessage does (Go %f and %.1f)", () => {
    const tail = ' (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)';
    assert.equal(costErrorMessage('estimated rule cost', 10_485_760, 10_000_000), `estimated rule cost exceeds budget by factor of 1.048576x${tail}`);
    assert.equal(costErrorMessage('estimated rule cost', 82_837_504, 10_000_000), `estimated rule cost exceeds budget by factor of 8.3x${tail}`);
    // an exact tie rounds to even in Go (JavaScript's toFixed would give 2.3)
    assert.equal(costErrorMessage('estimated rule cost', 22_500_000, 10_000_000), `estimated rule cost exceeds budget by factor of 2.2x${tail}`);
    assert.equal(costErrorMessage('estimated rule cost', 1_000_000_001, 10_000_000), `estimated rule cost exceeds budget by factor of more than 100x${tail}`);
  });

  it('counts a rule it does not model as not estimated and reports nothing on it, nor a total that would leave it out', async () => {
    const schema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: {
            // over the per-rule limit, but the total (82,837,504 + the rule not estimated) cannot be told
            targets: { type: 'array', items: { type: 'string', maxLength: 64, 'x-kubernetes-validations': [{ rule: "self.matches('^[a-z0-9-]+$')" }] } },
            name: { type: 'string', 'x-kubernetes-validations': [{ rule: "self.?prefix.orValue('') == ''" }, { rule: 'quantity(self).isInteger()' }] },
          },
        },
      },
    };
    const r = await validateTexts({ 'crd.yaml': crdOf(schema) });
    assert.equal(r.stats.celNotEstimated, 2);
    assert.deepEqual(
      messages(r, 'cel/estimated-cost').map((m) => m.slice(0, m.indexOf(':'))),
      ['spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[targets].items.x-kubernetes-validations[0].rule'],
    );
  });
});

interface CelGoCase {
  name: string;
  expr: string;
  vars?: Record<string, string>;
  hints?: Record<string, number>;
  presence?: number;
  min: number;
  max: number;
  notEstimated?: string;
}

/** checker/cost_test.go testCostEstimator: sizes from the hints by path, 12 for bytes, 7 for getFullYear */
function celGoEnv(c: CelGoCase): EstimateEnv {
  return {
    vars: new Map(Object.entries(c.vars ?? {}).map(([k, t]) => [k, typeNamed(t)])),
    sizeOf: (path, type) => {
      const h = c.hints?.[path.join('.')];
      if (h !== undefined) return { min: 0, max: h };
      return type.k === 'bytes' ? { min: 0, max: 12 } : undefined;
    },
    callCost: (fn, target) => (fn === 'getFullYear' && target?.k === 'timestamp' ? { min: 7, max: 7 } : undefined),
    k8s: false,
    presenceCost: c.presence ?? 1,
  };
}

describe("CEL estimated cost: cel-go's estimator", () => {
  it("estimates each expression of cel-go's TestCost as cel-go does (minimum and maximum)", () => {
    const cases = parse(readFileSync(join(DIR, 'cel-go-costs.yaml'), 'utf8')) as CelGoCase[];
    let agree = 0;
    const held: string[] = [];
    const disagreements: string[] = [];
    for (const c of cases) {
      let got: string;
      try {
        const e = estimateCost(c.expr, celGoEnv(c));
        got = `${e.min}/${e.max}`;
      } catch (err) {
        if (!(err instanceof NotEstimated)) throw err;
        got = `not estimated: ${err.message}`;
      }
      if (c.notEstimated !== undefined) {
        assert.match(got, /^not estimated/, `${c.name}: now estimated (${got}): remove notEstimated`);
        held.push(c.name);
      } else if (got === `${c.min}/${c.max}`) agree++;
      else disagreements.push(`${c.name}: ${c.expr}: cel-go ${c.min}/${c.max}, Castle ${got}`);
    }
    const figure = `CEL estimated cost (cel-go TestCost): ${agree}/${cases.length} expressions estimated exactly (${((agree / cases.length) * 100).toFixed(1)}%), ${held.length} explained as not estimated, ${disagreements.length} unexplained`;
    console.log(figure);
    assert.deepEqual(disagreements, [], figure);
  });
});
