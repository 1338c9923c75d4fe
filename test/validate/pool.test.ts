import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Diagnostic } from '../../src/diag/diagnostic.js';
import { analyzeFiles, emptyAnalysis, mergeAnalysis, type PlacedNeed } from '../../src/validate/analyze.js';
import { needKey, ObjectIndex } from '../../src/validate/check/references.js';
import { analyzeInWorkers } from '../../src/validate/pool.js';
import { loadRegistry } from '../../src/validate/schema/registry-load.js';
import { crdCache } from './helpers.js';

// Huge inputs (over 16 MiB) are split over worker threads: the split must not change the findings.
describe('worker pool', () => {
  it('finds in worker threads exactly what one thread finds', async () => {
    const cacheDir = await crdCache();
    const files = Array.from({ length: 6 }, (_, i) => ({
      file: `f${i}.yaml`,
      text: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_${i}, namespace: ns${i}}\ndata: {k: ${i}}\n---\napiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata: {name: db${i}}\nspec: {postgresVersion: 16, users: [{name: u_${i}}]}\n`,
    }));
    const inThread = analyzeFiles(files, loadRegistry(cacheDir, undefined), { rebirth: false });
    const analysis = emptyAnalysis();
    const provided: string[] = [];
    let posted = 0;
    const orders: number[] = [];
    await analyzeInWorkers(
      files.map((f) => ({ ...f, bytes: f.text.length })),
      2,
      { cacheDir, kubernetesVersion: undefined, crds: [], options: { rebirth: false } },
      (p, order) => {
        posted++;
        orders.push(order);
        mergeAnalysis(analysis, p.analysis);
        // findings and references come as JSON arrays, one per spool key, with the index's keys
        for (const g of p.findings) {
          const ds = JSON.parse(g.json) as Diagnostic[];
          assert.equal(g.count, ds.length);
          for (const d of ds) {
            assert.equal(g.key, d.location?.file ?? '');
            analysis.diagnostics.push(d);
          }
        }
        for (const g of p.needs) {
          const ns = JSON.parse(g.json) as PlacedNeed[];
          assert.equal(g.count, ns.length);
          assert.deepEqual(g.index, ns.map(needKey));
          for (const n of ns) {
            assert.equal(g.key, n.at.file);
            analysis.needs.push(n);
          }
        }
        provided.push(...p.provided);
      },
    );
    // each file once, named by its place in the input
    assert.deepEqual([...orders].sort(), [0, 1, 2, 3, 4, 5]);
    // one message per file, as soon as it is done: nothing waits for the whole share
    assert.equal(posted, files.length);
    const key = (d: { rule: string; message: string; location?: { file: string; line: number } }) =>
      `${d.location?.file}:${d.location?.line} ${d.rule} ${d.message}`;
    assert.deepEqual(analysis.diagnostics.map(key).sort(), inThread.diagnostics.map(key).sort());
    assert.ok(inThread.diagnostics.length >= 18, `${inThread.diagnostics.length} findings`);
    assert.deepEqual(analysis.needs.map((n) => JSON.stringify(n)).sort(), inThread.needs.map((n) => JSON.stringify(n)).sort());
    assert.deepEqual(provided.sort(), inThread.provided.map(([k, ns, name]) => ObjectIndex.key(k, ns, name)).sort());
    assert.ok(provided.length >= 6, `${provided.length} provided`);
    assert.equal(analysis.documents, 12);
  });
});
