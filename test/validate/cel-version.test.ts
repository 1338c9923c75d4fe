import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadCoreBundle, savePulledCore } from '../../src/validate/schema/store.js';
import { caseCrd, cleanup, runCli, tempDir, validateTexts, writeTree } from './helpers.js';

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
