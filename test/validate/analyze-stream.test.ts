import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeFiles } from '../../src/validate/analyze.js';
import { lineRead, Unsupported } from '../../src/validate/line-yaml.js';
import { readFile } from '../../src/validate/documents.js';
import { loadRegistry } from '../../src/validate/schema/registry-load.js';
import { crdCache } from './helpers.js';

// Documents are checked as the line reader gives them; where it stops partway through a file, the
// file is read again with the `yaml` package, and what was done with its first documents is undone.

const HEAD = `apiVersion: v1
kind: ConfigMap
metadata: {name: Bad_1, namespace: ns}
data: {enabled: on}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns}
spec:
  containers:
    - name: c
      image: nginx
      envFrom: [{configMapRef: {name: nowhere}}]
`;
// an anchor: the line reader leaves the file to the `yaml` package, here at its third document
const TAIL = `---
apiVersion: v1
kind: ConfigMap
metadata: {name: Also_Bad, namespace: ns}
data: &d {k: v}
`;

describe('documents checked as they are read', () => {
  it('gives what the yaml package gives when the line reader stops after some documents, and nothing twice', async () => {
    const registry = loadRegistry(await crdCache(), undefined);
    const text = HEAD + TAIL;
    let visited = 0;
    assert.throws(
      () =>
        lineRead(text, () => {
          visited++;
        }),
      Unsupported,
    );
    assert.equal(visited, 2, 'the line reader gave the first two documents before it stopped');

    const fast = analyzeFiles([{ file: 'm.yaml', text }], registry, { rebirth: false });
    const slow = analyzeFiles([{ file: 'm.yaml', text }], registry, { rebirth: false, fastYaml: false });
    assert.deepEqual(fast, slow);
    assert.equal(fast.documents, 3);
    // each finding and reference once, the first two documents' as the third's
    assert.deepEqual(
      fast.diagnostics.map((d) => `${d.location?.line}:${d.location?.col} ${d.rule}`),
      ['4:17 yaml/ambiguous-bool', '3:18 names/subdomain', '17:18 names/subdomain'],
    );
    assert.deepEqual(
      fast.needs.map((n) => `${n.kind} ${n.name} ${n.loc?.line}`),
      ['Namespace ns 3', 'Namespace ns 8', 'ConfigMap nowhere 13', 'Namespace ns 17'],
    );
  });

  it('undoes only what the stopped file added to an analysis that already held some', async () => {
    const registry = loadRegistry(await crdCache(), undefined);
    const before = analyzeFiles([{ file: 'a.yaml', text: HEAD }], registry, { rebirth: false });
    const held = before.diagnostics.length;
    const heldNeeds = before.needs.length;
    assert.ok(held > 0 && before.documents === 2);
    const both = analyzeFiles([{ file: 'b.yaml', text: HEAD + TAIL }], registry, { rebirth: false }, before);
    const alone = analyzeFiles([{ file: 'b.yaml', text: HEAD + TAIL }], registry, { rebirth: false, fastYaml: false });
    assert.equal(both.documents, 2 + alone.documents);
    assert.equal(both.validated, 2 + alone.validated);
    assert.deepEqual(both.diagnostics.slice(held), alone.diagnostics);
    assert.ok(both.diagnostics.slice(0, held).every((d) => d.location?.file === 'a.yaml'));
    assert.deepEqual(both.needs.slice(-alone.needs.length), alone.needs);
    assert.equal(both.needs.length, heldNeeds + alone.needs.length);
  });

  it('throws what the checks of a document throw, never taking it for the line reader stopping (no second reading of the file)', () => {
    for (const thrown of [new RangeError('checks overflowed'), new Unsupported()]) {
      let restarts = 0;
      let visits = 0;
      assert.throws(
        () =>
          readFile(
            { file: 'm.yaml', text: HEAD },
            [],
            {},
            () => {
              visits++;
              throw thrown;
            },
            () => restarts++,
          ),
        (e) => e === thrown,
      );
      assert.equal(visits, 1);
      assert.equal(restarts, 0);
    }
  });
});
