import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from '../../src/diag/diagnostic.js';
import { analyzeFiles, emptyAnalysis, mergeAnalysis, pack, unpackNeed, type PackedNeed } from '../../src/validate/analyze.js';
import { needKey, ObjectIndex } from '../../src/validate/check/references.js';
import { endPrestarted, PARALLEL_THRESHOLD_BYTES, prestartWorker, WorkerPool } from '../../src/validate/pool.js';
import { loadRegistry } from '../../src/validate/schema/registry-load.js';
import { manifestBytes } from '../../src/validate/inputs.js';
import { cleanup, crdCache, tempDir } from './helpers.js';

// Big inputs (over 12 MiB) are analysed in worker threads: the split must not change the findings.
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
    const needs: string[] = [];
    let posted = 0;
    const orders: number[] = [];
    const pool = new WorkerPool(
      files.map((f) => ({ ...f, bytes: f.text.length })),
      2,
      { cacheDir, kubernetesVersion: undefined, builtinCrds: undefined, inputCrds: true, options: { rebirth: false } },
    );
    await pool.run([], (p, order) => {
      posted++;
      orders.push(order);
      mergeAnalysis(analysis, p.analysis);
      // findings and references come as JSON, keyed for the spools and the index
      for (let i = 0; i < p.findings.length; i += 2) {
        const d = JSON.parse(p.findings[i + 1]!) as Diagnostic;
        assert.equal(p.findings[i], d.location?.file ?? '');
        analysis.diagnostics.push(d);
      }
      for (let i = 0; i < p.needs.length; i += 3) {
        const n = unpackNeed(p.needs[i + 1]!, JSON.parse(p.needs[i + 2]!) as PackedNeed);
        assert.equal(p.needs[i], needKey(n));
        // a placed reference's file is its spool key; an unplaced one's LocRef names that file
        if (n.at) assert.equal(n.at.file, p.needs[i + 1]);
        needs.push(p.needs[i + 2]!);
      }
      provided.push(...p.provided);
    });
    // each file once, named by its place in the input
    assert.deepEqual([...orders].sort(), [0, 1, 2, 3, 4, 5]);
    // one message per file, as soon as it is done: nothing waits for the whole share
    assert.equal(posted, files.length);
    const key = (d: { rule: string; message: string; location?: { file: string; line: number } }) =>
      `${d.location?.file}:${d.location?.line} ${d.rule} ${d.message}`;
    assert.deepEqual(analysis.diagnostics.map(key).sort(), inThread.diagnostics.map(key).sort());
    assert.ok(inThread.diagnostics.length >= 18, `${inThread.diagnostics.length} findings`);
    // the references as one thread packs them (placed ones with their location, without their LocRef)
    const packed = pack(inThread);
    const inThreadNeeds: string[] = [];
    for (let i = 0; i < packed.needs.length; i += 3) inThreadNeeds.push(packed.needs[i + 2]!);
    assert.deepEqual(needs.sort(), inThreadNeeds.sort());
    assert.ok(needs.length >= 6, `${needs.length} references`);
    assert.deepEqual(provided.sort(), [...packed.provided].sort());
    assert.ok(provided.length >= 6, `${provided.length} provided`);
    assert.equal(analysis.documents, 12);
  });

  it('a packed reference unpacks to what was packed: its location, or the LocRef to find it by', () => {
    const a = emptyAnalysis();
    const at = { file: 'm/a.yaml', doc: 2, range: [10, 90] as const, path: ['spec', 'x', 0, 'name'], key: true };
    a.needs.push(
      { kind: 'Secret', namespace: 'team-1', name: 'creds', at, loc: { file: 'm/a.yaml', line: 7, col: 11, length: 5 } },
      { kind: 'Namespace', namespace: undefined, name: 'team-1', at: { ...at, key: undefined }, loc: { file: 'm/a.yaml', line: 3, col: 14 } },
      // a location in another file than the reference's (a document read from elsewhere) keeps its LocRef instead
      { kind: 'ConfigMap', namespace: 'ns', name: 'weird "name" \u0000', at, loc: { file: 'other.yaml', line: 1, col: 1, length: 2 } },
      { kind: 'StorageClass', namespace: undefined, name: 'fast', at },
    );
    const expected = [
      { kind: 'Secret', namespace: 'team-1', name: 'creds', loc: { file: 'm/a.yaml', line: 7, col: 11, length: 5 } },
      { kind: 'Namespace', namespace: undefined, name: 'team-1', loc: { file: 'm/a.yaml', line: 3, col: 14 } },
      { kind: 'ConfigMap', namespace: 'ns', name: 'weird "name" \u0000', at },
      { kind: 'StorageClass', namespace: undefined, name: 'fast', at },
    ];
    const p = pack(a);
    assert.equal(p.needs.length, 12);
    for (let i = 0; i < 4; i++) {
      assert.equal(p.needs[3 * i + 1], 'm/a.yaml');
      const n = unpackNeed(p.needs[3 * i + 1]!, JSON.parse(p.needs[3 * i + 2]!) as PackedNeed);
      assert.deepEqual(n, expected[i]);
      assert.equal(p.needs[3 * i], needKey(n));
    }
  });

  it('counts the bytes of the manifests a directory walk reads, once each, up to a limit', () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir, 'apps', 'deep'), { recursive: true });
      mkdirSync(join(dir, '.git'));
      mkdirSync(join(dir, 'node_modules'));
      writeFileSync(join(dir, 'a.yaml'), 'x'.repeat(10));
      writeFileSync(join(dir, 'apps', 'b.yml'), 'x'.repeat(20));
      writeFileSync(join(dir, 'apps', 'deep', 'c.JSON'), 'x'.repeat(40));
      // not walked: not a manifest's name, a dot directory, node_modules
      writeFileSync(join(dir, 'notes.txt'), 'x'.repeat(1000));
      writeFileSync(join(dir, '.git', 'd.yaml'), 'x'.repeat(1000));
      writeFileSync(join(dir, 'node_modules', 'e.yaml'), 'x'.repeat(1000));
      // a link back to the top is not walked again
      symlinkSync(dir, join(dir, 'apps', 'loop'));
      assert.equal(manifestBytes([dir], Infinity), 70);
      // a file named alone counts whatever its name; a missing path counts nothing; from apps, the link leads to a.yaml
      assert.equal(manifestBytes([join(dir, 'notes.txt'), join(dir, 'absent.yaml'), join(dir, 'apps')], Infinity), 1070);
      // a file named again, or reached again through the link, counts once
      assert.equal(manifestBytes([dir, join(dir, 'a.yaml'), join(dir, 'apps', 'loop', 'a.yaml')], Infinity), 70);
      // the count stops once past the limit: at the first file read, whichever it is
      const some = manifestBytes([dir, join(dir, 'notes.txt')], 5);
      assert.ok([10, 20, 40].includes(some), `${some}`);
    } finally {
      cleanup(dir);
    }
  });

  it('a worker started before the files are known (prestartWorker) analyses them as a new one does', async () => {
    const cacheDir = await crdCache();
    const dir = tempDir();
    try {
      // small inputs want no worker
      assert.equal(prestartWorker(PARALLEL_THRESHOLD_BYTES, 2), false);
      assert.equal(prestartWorker(Infinity, 1), false, 'one core: no worker');
      assert.equal(prestartWorker(PARALLEL_THRESHOLD_BYTES + 1, 2), true);
      const files = [{ file: 'a.yaml', text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_a, namespace: nsa}\n' }];
      const inThread = analyzeFiles(files, loadRegistry(cacheDir, undefined), { rebirth: false });
      const pool = new WorkerPool(
        files.map((f) => ({ ...f, bytes: f.text.length })),
        1,
        { cacheDir, kubernetesVersion: undefined, builtinCrds: undefined, inputCrds: true, options: { rebirth: false } },
      );
      assert.equal(pool.prestarted, 1, 'the pool took the prestarted worker');
      const found: Diagnostic[] = [];
      await pool.run([], (p) => {
        for (let i = 0; i < p.findings.length; i += 2) found.push(JSON.parse(p.findings[i + 1]!) as Diagnostic);
      });
      assert.deepEqual(found, JSON.parse(JSON.stringify(inThread.diagnostics)));
      assert.ok(found.length >= 1);
      // a prestarted worker no run takes is ended (the run's end calls this)
      assert.equal(prestartWorker(Infinity, 2), true);
      endPrestarted();
      const next = new WorkerPool([], 1, { cacheDir, kubernetesVersion: undefined, builtinCrds: undefined, inputCrds: true, options: { rebirth: false } });
      assert.equal(next.prestarted, 0);
      next.close();
    } finally {
      cleanup(dir);
    }
  });

  it('a worker that waits for no CRD starts at once; what it posts before run() is given to run in order', async () => {
    const cacheDir = await crdCache();
    const files = Array.from({ length: 4 }, (_, i) => ({ file: `e${i}.yaml`, text: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_${i}}\n` }));
    const pool = new WorkerPool(
      files.map((f) => ({ ...f, bytes: f.text.length })),
      1,
      { cacheDir, kubernetesVersion: undefined, builtinCrds: [], inputCrds: false, options: { rebirth: false } },
    );
    // no run() yet: the worker analyses its files and posts them meanwhile
    await new Promise((r) => setTimeout(r, 1500));
    const orders: number[] = [];
    const found: string[] = [];
    await pool.run([], (p, order) => {
      orders.push(order);
      for (let i = 0; i < p.findings.length; i += 2) found.push(p.findings[i]!);
    });
    assert.deepEqual(orders, [0, 1, 2, 3]);
    // each file's invalid name, in its file
    assert.deepEqual(found, ['e0.yaml', 'e1.yaml', 'e2.yaml', 'e3.yaml']);
  });

  it('a worker prestarted with a schema choice uses the schemas it loaded when the run makes the same choice, and loads them again when not', async () => {
    const cacheDir = await crdCache();
    const dir = tempDir();
    try {
      // external-secrets.io/v1beta1 is served by ESO 0.16, not by the newest release shipped
      const files = [
        {
          file: 'es.yaml',
          text: 'apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: es, namespace: default}\nspec:\n  secretStoreRef: {name: s, kind: ClusterSecretStore}\n  target: {name: t}\n  data: [{secretKey: k, remoteRef: {key: r}}]\n',
        },
      ];
      const rules = async (prestart: readonly string[], run: readonly string[]): Promise<string[]> => {
        assert.equal(prestartWorker(Infinity, 2, { cacheDir, kubernetesVersion: undefined, builtinCrds: prestart }), true);
        const pool = new WorkerPool(
          files.map((f) => ({ ...f, bytes: f.text.length })),
          1,
          { cacheDir, kubernetesVersion: undefined, builtinCrds: run, inputCrds: false, options: { rebirth: false } },
        );
        assert.equal(pool.prestarted, 1);
        const found: string[] = [];
        await pool.run([], (p) => {
          for (let i = 0; i < p.findings.length; i += 2) found.push((JSON.parse(p.findings[i + 1]!) as Diagnostic).rule);
        });
        return found;
      };
      // the same choice: the schemas loaded before the files came
      assert.deepEqual(await rules([], []), ['schema/version-not-served']);
      assert.deepEqual(await rules(['eso@0.16'], ['eso@0.16']), []);
      // another choice: loaded again for the run
      assert.deepEqual(await rules(['eso@0.16'], []), ['schema/version-not-served']);
      assert.deepEqual(await rules([], ['eso@0.16']), []);
    } finally {
      cleanup(dir);
    }
  });

  it('a worker leaves out the references that what it read before meets', async () => {
    const cacheDir = await crdCache();
    const files = [
      { file: 'ns.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n' },
      {
        file: 'cm.yaml',
        text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: other}\n',
      },
    ];
    const needs = new Map<number, string[]>();
    const pool = new WorkerPool(
      files.map((f) => ({ ...f, bytes: f.text.length })),
      1,
      { cacheDir, kubernetesVersion: undefined, builtinCrds: undefined, inputCrds: true, options: { rebirth: false } },
    );
    await pool.run([], (p, order) => {
      const keys: string[] = [];
      for (let i = 0; i < p.needs.length; i += 3) keys.push(p.needs[i]!);
      needs.set(order, keys);
    });
    // Namespace team is provided by the first file: only Namespace other crosses to the main thread
    assert.deepEqual(needs.get(1), [ObjectIndex.key('Namespace', undefined, 'other')]);
    // what one thread finds references both
    const inThread = analyzeFiles(files, loadRegistry(cacheDir, undefined), { rebirth: false });
    assert.deepEqual(
      inThread.needs.map((n) => needKey(n)),
      [ObjectIndex.key('Namespace', undefined, 'team'), ObjectIndex.key('Namespace', undefined, 'other')],
    );
  });
});
