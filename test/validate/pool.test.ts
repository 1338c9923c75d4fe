import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeFiles, emptyAnalysis, mergeAnalysis } from '../../src/validate/analyze.js';
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
    let posted = 0;
    const orders: number[] = [];
    await analyzeInWorkers(
      files.map((f) => ({ ...f, bytes: f.text.length })),
      2,
      { cacheDir, kubernetesVersion: undefined, crds: [], options: { rebirth: false } },
      (a, order) => {
        posted++;
        orders.push(order);
        mergeAnalysis(analysis, a);
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
    assert.equal(analysis.documents, 12);
  });
});
