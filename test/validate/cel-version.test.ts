import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { evalRule, toCel } from '../../src/validate/check/cel.js';
import { convertSchema } from '../../src/validate/schema/crd.js';
import { loadCoreBundle, savePulledCore } from '../../src/validate/schema/store.js';
import type { SNode } from '../../src/validate/schema/types.js';
import { ROOT, caseCrd, cleanup, runCli, tempDir, validateTexts, writeTree } from './helpers.js';

// The target Kubernetes version reaches the CEL list types: `castle validate --kubernetes-version 1.37`
// (with core schemas pulled from a 1.37 cluster) follows 1.37's set equality, the default (1.36) does not.

const SCHEMA = {
  type: 'object',
  properties: {
    tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
    expected: { type: 'array', items: { type: 'string' } },
    'min-replicas': { type: 'integer' },
  },
};
const RULES = [
  { rule: 'self.tags == self.expected', message: 'tags must be the expected set' },
  { rule: 'self.min__dash__replicas >= 1', message: 'min-replicas must be positive' },
];

const files = {
  'crd.yaml': caseCrd(SCHEMA, RULES),
  'case.yaml': stringify({
    apiVersion: 'conformance.castle.dev/v1',
    kind: 'Case',
    metadata: { name: 'c', namespace: 'default' },
    spec: { tags: ['a', 'b'], expected: ['a', 'a'], 'min-replicas': 1 },
  }),
};

describe('CEL list types by target Kubernetes version (castle validate --kubernetes-version)', () => {
  // a cache holding core schemas pulled from a 1.37 cluster, as `castle schemas pull --core` stores them
  const cache = tempDir('castle-validate-137-');
  savePulledCore(cache, { ...loadCoreBundle(cache), kubernetesVersion: '1.37.0' });
  after(() => cleanup(cache));

  it('passes a set equal to a list with duplicates for 1.36 and rejects it for 1.37', async () => {
    const cel = (r: Awaited<ReturnType<typeof validateTexts>>): string[] => r.diagnostics.filter((d) => d.rule.startsWith('cel/')).map((d) => d.message);
    assert.deepEqual(cel(await validateTexts(files, { cacheDir: cache })), []);
    assert.deepEqual(cel(await validateTexts(files, { cacheDir: cache, kubernetesVersion: '1.37' })), [
      'spec: Invalid value: "object": tags must be the expected set',
    ]);
  });

  it('does the same through the CLI', () => {
    const dir = tempDir();
    try {
      writeTree(dir, files);
      const r = runCli(['validate', '--cache-dir', cache, '--kubernetes-version', '1.37', 'crd.yaml', 'case.yaml'], dir);
      assert.equal(r.status, 1, r.stderr + r.stdout);
      assert.match(r.stdout, /case\.yaml:\d+:\d+: error cel\/rule: spec: Invalid value: "object": tags must be the expected set/);
      assert.doesNotMatch(r.stdout, /min-replicas must be positive/);
    } finally {
      cleanup(dir);
    }
  });
});

interface ListAddCorpus {
  schema: Record<string, unknown>;
  values: Record<string, Record<string, unknown>>;
  cases: Record<string, string | { rule: string; error: string; exception?: true }>;
}

describe("CEL list types at 1.37: k8s.io/apiserver's TestListAdd (conformance/cel-list-add-137.yaml)", () => {
  it('gives the verdict of every case the test runs through UnstructuredToVal', () => {
    const corpus = parse(readFileSync(join(ROOT, 'test/validate/conformance/cel-list-add-137.yaml'), 'utf8')) as ListAddCorpus;
    const names = Object.keys(corpus.values);
    const root = convertSchema({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, corpus.schema])) });
    const self = toCel(corpus.values, root, (n: SNode) => n, undefined, true);
    // the test's variables x, y, z, w are properties of self here
    const vars = new RegExp(`\\b(${names.join('|')})\\.`, 'g');
    const disagreements: string[] = [];
    let agree = 0;
    let exceptions = 0;
    for (const [name, c] of Object.entries(corpus.cases)) {
      const rule = (typeof c === 'string' ? c : c.rule).replace(vars, 'self.$1.');
      const out = evalRule({ rule }, self);
      const ok = typeof c === 'string' ? out.ok === true : out.ok === 'error' && out.message.startsWith(`${c.error} evaluating rule: `);
      if (typeof c !== 'string' && c.exception) {
        // an exception that starts agreeing must leave the exception list; meanwhile the rule is not evaluated, never passing
        assert.ok(!ok && out.ok === 'unevaluated' && out.reason.startsWith(c.error), `${name} now agrees or changed: ${JSON.stringify(out)}`);
        exceptions++;
      } else if (ok) agree++;
      else disagreements.push(`${name}: ${rule}: ${JSON.stringify(out)}`);
    }
    const total = Object.keys(corpus.cases).length;
    const figure = `CEL list types at 1.37 (TestListAdd): ${agree}/${total} verdicts agree, ${exceptions} explained exceptions, ${disagreements.length} unexplained`;
    console.log(figure);
    assert.deepEqual(disagreements, [], figure);
    assert.equal(agree + exceptions, total);

    // bound with 1.36.3's rules, exactly the cases of what 1.37 changed are not true
    const self136 = toCel(corpus.values, root, (n: SNode) => n);
    const changed = Object.entries(corpus.cases)
      .filter(([, c]) => typeof c === 'string' && evalRule({ rule: c.replace(vars, 'self.$1.') }, self136).ok !== true)
      .map(([name]) => name);
    assert.deepEqual(changed, [
      // addToMapList reads the key `if` from the CEL value (`__if__`); 1.36 read the JSON under `__if__`, absent in every element
      'map list with escaped key prop merges intersecting keys',
      'map list with escaped key prop appends non-intersecting keys',
      // %#v instead of %v for more than three keys
      'serialized map keys distinguish value boundaries on merge',
      'serialized map key equality ignores element order',
      // every key of the left list must be met
      'map list is not equal to a list with duplicate keys',
      'concatenated map list is not equal to a list with duplicate keys',
      'set list is not equal to a list with duplicate elements',
      'set list is not equal to a literal list with duplicate elements',
      'concatenated set list is not equal to a list with duplicate elements',
    ]);
  });
});
