import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { validateManifests, validateStream, type ValidateOptions, type ValidateStats } from '../../src/validate/index.js';
import type { Diagnostic } from '../../src/diag/diagnostic.js';
import { jsonItem, renderResult, stringifyItem } from '../../src/validate/output/render.js';
import { StreamRenderer } from '../../src/validate/output/stream.js';
import { Spool } from '../../src/validate/spool.js';
import { cleanup, crdCache, tempDir, writeTree } from './helpers.js';

// Findings are streamed: held per file in a spool (on disk past its budget), given out file by file in
// the order they are printed, never all in memory. The figures (docs/s, peak RSS) are in `npm run bench -- validate`.

/** `n` documents with findings of every kind that is settled at the end of a run, in files of `perFile` */
function corpus(n: number, perFile: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let f = 0; f * perFile < n; f++) {
    const docs: string[] = [];
    for (let i = f * perFile; i < Math.min(n, (f + 1) * perFile); i++) {
      if (i % 3 === 0) docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_${i}, namespace: team-${i % 5}}\ndata: {k: "${i}"}\n`);
      else if (i % 3 === 1)
        docs.push(
          `apiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata: {name: db-${i}, namespace: team-${i % 5}}\nspec:\n  postgresVersion: 16\n  instances: [{name: i1, dataVolumeClaimSpec: {storageClassName: fast-${i % 4}, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}\n`,
        );
      else docs.push(`apiVersion: example.com/v1\nkind: Widget${i % 2}\nmetadata: {name: w-${i}}\nspec: {size: ${i}}\n`);
    }
    // names not in input order, so that the printed order (by file) differs from the order analysed
    files[`m/${String((f * 7) % 11).padStart(2, '0')}-${f}.yaml`] = docs.join('---\n');
  }
  return files;
}

async function inTree<T>(files: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const dir = tempDir();
  const cwd = process.cwd();
  try {
    writeTree(dir, files);
    process.chdir(dir);
    return await fn();
  } finally {
    process.chdir(cwd);
    cleanup(dir);
  }
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('findings streamed file by file', () => {
  it('the spool gives each file its records back in the order added, from disk past its budget, which it never holds much more of', () => {
    const spool = new Spool<{ file: string; n: number }>(4096);
    let most = 0;
    for (let n = 0; n < 6000; n++) {
      const file = `f${(n * 5) % 7}`;
      spool.add(file, { file, n });
      most = Math.max(most, spool.held);
    }
    try {
      assert.equal(spool.count, 6000);
      assert.ok(spool.spilled > 100_000, `${spool.spilled} bytes on disk`);
      // memory does not grow with the number of records: at most the budget (one record over it triggers the write)
      assert.ok(most <= 4096, `${most} bytes held at most`);
      assert.deepEqual(spool.files().sort(), ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6']);
      let total = 0;
      for (const file of spool.files()) {
        const got = spool.take(file);
        total += got.length;
        assert.ok(
          got.every((r) => r.file === file),
          file,
        );
        assert.deepEqual(
          got.map((r) => r.n),
          got.map((r) => r.n).sort((a, b) => a - b),
          `${file} in the order added`,
        );
        assert.deepEqual(spool.take(file), [], 'given back once');
      }
      assert.equal(total, 6000);
    } finally {
      spool.close();
    }
  });

  it('holds records added as they are (the very objects) and JSON lines side by side, in order, writes both past its budget, and counts what it gives back', () => {
    const spool = new Spool<{ file: string; n: number }>(4096);
    const objects = new Map<number, { file: string; n: number }>();
    try {
      for (let n = 0; n < 40; n++) {
        const r = { file: 'a', n };
        if (n % 2 === 0) {
          spool.addRecord('a', r, 50);
          objects.set(n, r);
        } else spool.addLine('a', JSON.stringify(r));
      }
      assert.equal(spool.spilled, 0);
      // 50 per record as told, a line's length and its newline
      let lines = 0;
      for (let n = 1; n < 40; n += 2) lines += JSON.stringify({ file: 'a', n }).length + 1;
      assert.equal(spool.held, 20 * 50 + lines);
      const back = spool.take('a');
      assert.deepEqual(
        back.map((r) => r.n),
        Array.from({ length: 40 }, (_, n) => n),
      );
      // a record kept in memory is given back as it was added, not as a copy
      for (const r of back) if (r.n % 2 === 0) assert.equal(r, objects.get(r.n));
      assert.equal(spool.held, 0, 'nothing held once given back');

      // past the budget, records go to disk as JSON, lines as they are, in the order added
      for (let n = 0; n < 300; n++) {
        if (n % 3 === 0) spool.addLine('b', JSON.stringify({ file: 'b', n }));
        else spool.addRecord('b', { file: 'b', n }, 100);
      }
      assert.ok(spool.spilled > 0 && spool.held <= 4096, `${spool.spilled} on disk, ${spool.held} held`);
      assert.deepEqual(
        spool.take('b').map((r) => r.n),
        Array.from({ length: 300 }, (_, n) => n),
      );
    } finally {
      spool.close();
    }
  });

  it('where no temporary file can be made (no such TMPDIR, or a file there), the spool keeps every record in memory instead, in order', () => {
    const dir = tempDir();
    try {
      writeTree(dir, { 'a-file': 'x' });
      for (const where of [join(dir, 'missing'), join(dir, 'a-file')]) {
        const spool = new Spool<{ file: string; n: number }>(4096, where);
        for (let n = 0; n < 6000; n++) spool.add(`f${n % 7}`, { file: `f${n % 7}`, n });
        try {
          assert.equal(spool.spilled, 0, where);
          assert.ok(spool.held > 100_000, `${spool.held} bytes held`);
          let total = 0;
          for (const file of spool.files()) {
            const got = spool.take(file).map((r) => r.n);
            total += got.length;
            assert.deepEqual(
              got,
              got.slice().sort((a, b) => a - b),
              `${file} in the order added`,
            );
            assert.ok(
              got.every((n) => `f${n % 7}` === file),
              file,
            );
          }
          assert.equal(total, 6000);
        } finally {
          spool.close();
        }
      }
    } finally {
      cleanup(dir);
    }
  });

  it('a CRD among the inputs, even the last file, checks the documents the worker threads analyse as it does in one thread', async () => {
    const files = corpus(240, 40);
    files['zz-widget-crd.yaml'] = [
      'apiVersion: apiextensions.k8s.io/v1',
      'kind: CustomResourceDefinition',
      'metadata: {name: widget0s.example.com}',
      'spec:',
      '  group: example.com',
      '  scope: Namespaced',
      '  names: {plural: widget0s, singular: widget0, kind: Widget0}',
      '  versions:',
      '    - name: v1',
      '      served: true',
      '      storage: true',
      '      schema:',
      '        openAPIV3Schema:',
      '          type: object',
      '          properties:',
      '            spec: {type: object, properties: {size: {type: string}}}',
      '',
    ].join('\n');
    const runs = await inTree(files, async () => {
      const base: ValidateOptions = { cacheDir: await crdCache(), builtinCrds: true };
      const out: { seen: string[]; workers: number }[] = [];
      for (const workers of [0, 2]) {
        const seen: string[] = [];
        const run = await validateStream(Object.keys(files), { ...base, workers }, (d) => void seen.push(JSON.stringify(d)));
        out.push({ seen, workers: run.stats.workers });
      }
      return out;
    });
    const [one, two] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.deepEqual([one.workers, two.workers], [0, 2]);
    assert.deepEqual(two.seen, one.seen);
    // every Widget0 (40 of the 240 documents) is checked against the CRD of the last file: size is an integer, not a string
    const typed = one.seen.filter((d) => d.includes('spec.size') && d.includes('string'));
    assert.equal(typed.length, 40, typed.slice(0, 2).join('\n'));
  });

  it('on a cold cache the workers start once this thread has compiled the schemas, and find what one thread finds', async () => {
    const files = corpus(120, 40);
    const cacheDir = tempDir();
    try {
      const runs = await inTree(files, async () => {
        const out: { seen: string[]; workers: number; compiled: number }[] = [];
        for (const workers of [1, 0]) {
          const seen: string[] = [];
          const run = await validateStream(Object.keys(files), { cacheDir, builtinCrds: true, workers }, (d) => void seen.push(JSON.stringify(d)));
          out.push({ seen, workers: run.stats.workers, compiled: run.stats.compiled });
        }
        return out;
      });
      const [cold, warm] = runs as [(typeof runs)[0], (typeof runs)[0]];
      assert.equal(cold.workers, 1);
      assert.ok(cold.compiled > 0 && warm.compiled === 0, `compiled ${cold.compiled} then ${warm.compiled}`);
      assert.deepEqual(cold.seen, warm.seen);
      assert.ok(
        cold.seen.some((d) => d.includes('schema/')),
        'schemas were used',
      );
    } finally {
      cleanup(cacheDir);
    }
  });

  it('gives the findings sorted by file, line and column, each once, with the counts of the summary; the same with worker threads', async () => {
    const files = corpus(240, 40);
    const runs = await inTree(files, async () => {
      const paths = Object.keys(files).reverse();
      const base: ValidateOptions = { cacheDir: await crdCache(), builtinCrds: true };
      const out: { seen: string[]; errors: number; warnings: number; stats: { errors: number; warnings: number; workers: number } }[] = [];
      for (const workers of [0, 2]) {
        const seen: string[] = [];
        let errors = 0;
        let warnings = 0;
        const run = await validateStream(paths, { ...base, workers }, (d) => {
          seen.push(JSON.stringify(d));
          if (d.severity === 'error') errors++;
          if (d.severity === 'warning') warnings++;
        });
        out.push({ seen, errors, warnings, stats: run.stats });
      }
      return out;
    });
    const [one, two] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.equal(one.stats.workers, 0);
    assert.equal(two.stats.workers, 2);
    assert.deepEqual(two.seen, one.seen, 'worker threads change nothing, not even the order');
    const diags = one.seen.map((s) => JSON.parse(s) as { rule: string; message: string; location?: { file: string; line: number; col: number } });
    const rules = new Set(diags.map((d) => d.rule));
    for (const r of ['ref/missing', 'schema/unknown-kind']) assert.ok(rules.has(r), `${r} among ${[...rules].join(', ')}`);
    for (let i = 1; i < diags.length; i++) {
      const a = diags[i - 1]!.location;
      const b = diags[i]!.location;
      const ka = [a?.file ?? '', a?.line ?? 0, a?.col ?? 0] as const;
      const kb = [b?.file ?? '', b?.line ?? 0, b?.col ?? 0] as const;
      const inOrder = ka[0] < kb[0] || (ka[0] === kb[0] && (ka[1] < kb[1] || (ka[1] === kb[1] && ka[2] <= kb[2])));
      assert.ok(inOrder, `finding ${i} (${kb.join(':')}) after ${ka.join(':')}`);
    }
    assert.equal(new Set(one.seen).size, one.seen.length, 'no finding twice');
    assert.equal(one.stats.errors, one.errors);
    assert.equal(one.stats.warnings, one.warnings);
    assert.ok(one.warnings >= 160, `${one.warnings} warnings`);
  });

  it('waits for a slow reader piece by piece: what is queued for it stays about one piece, whatever the output', async () => {
    const files = corpus(150, 50);
    await inTree(files, async () => {
      const o: ValidateOptions = { cacheDir: await crdCache(), builtinCrds: true, parallel: false };
      for (const format of ['text', 'json'] as const) {
        let text = '';
        let most = 0;
        // a reader that takes each piece a turn of the event loop later
        const slow = new Writable({
          highWaterMark: 1024,
          write(chunk: Buffer | string, _enc, done) {
            text += chunk.toString();
            setTimeout(done, 1);
          },
        });
        const out = new StreamRenderer(format, slow, 2048);
        const run = await validateStream(Object.keys(files), o, (d, source) => {
          most = Math.max(most, slow.writableLength);
          return out.add(d, source);
        });
        await out.finish(run);
        await new Promise<void>((resolve) => slow.end(resolve));
        assert.ok(text.length > 40_000, `${text.length} characters`);
        // without the wait, every piece would be queued at once: the whole output
        assert.ok(most <= 2 * 2048 + 4096, `${format}: ${most} characters queued at most`);
      }
    });
  });

  it('prints text and JSON as they come, byte for byte what the whole result prints (the JSON counts after its findings)', async () => {
    // a namespace the other files need, analysed last: their references to it are settled only at the end
    const files = { ...corpus(150, 50), 'z/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team-1}\n' };
    await inTree(files, async () => {
      const paths = Object.keys(files);
      const o: ValidateOptions = { cacheDir: await crdCache(), builtinCrds: true, parallel: false };
      const whole = await validateManifests(paths, o);
      assert.ok(whole.diagnostics.length > 100, `${whole.diagnostics.length} findings`);
      assert.ok(!whole.diagnostics.some((d) => d.message.includes('"team-1"')), 'the namespace provided by the last file is no finding');
      assert.ok(whole.diagnostics.some((d) => d.message.includes('"team-2"')));
      for (const format of ['text', 'json'] as const) {
        const sink = new Capture();
        // pieces of 2 KiB: most of the output is out before the run ends
        const out = new StreamRenderer(format, sink, 2048);
        const run = await validateStream(paths, o, (d, source) => out.add(d, source));
        assert.ok(out.written > 20_000 && sink.text.length === out.written, `${out.written} characters printed before the end`);
        await out.finish(run);
        const expected = renderResult({ ...whole, stats: run.stats }, format);
        assert.equal(sink.text, `${expected}\n`, format);
        if (format === 'json') assert.deepEqual(Object.keys(JSON.parse(sink.text) as object), ['version', 'diagnostics', 'ok', 'stats']);
      }
    });
  });

  it('prints a JSON finding as JSON.stringify does, its keys in the order of the Diagnostic type', () => {
    const at = { file: 'a/"b".yaml', line: 3, col: 7 };
    const items: Diagnostic[] = [
      { severity: 'error', rule: 'r/x', message: 'plain' },
      { severity: 'warning', rule: 'r/y', message: 'quote " backslash \\ tab \t newline \n control \u0001 é 🏰 \u2028 lone \ud800', location: at },
      { severity: 'info', rule: 'r/z', message: 'm', location: { ...at, length: 4 }, hint: 'do "this"' },
      { severity: 'error', rule: 'r/z', message: 'm', location: { ...at, length: undefined }, hint: undefined },
      { severity: 'error', rule: 'r/z', message: 'm', related: [{ message: 'there', location: at }, { message: 'nowhere' }] },
      { severity: 'error', rule: 'r/z', message: 'm', location: at, ...{ extra: [1, { x: null }] } },
      { severity: 'error', rule: 'r/z', message: 'm', location: { ...at, ...{ offset: 12 } } },
      { severity: 'error', rule: 'r/z', message: 'm', location: { ...at, line: Number.NaN } },
    ];
    for (const d of items) assert.equal(jsonItem(d), stringifyItem(d), JSON.stringify(d));
    // built in another order, the same keys come in the type's order
    const reordered = { hint: 'h', location: { col: 2, length: 1, line: 1, file: 'f' }, message: 'm', rule: 'r', severity: 'error' } as const;
    const printed = jsonItem(reordered);
    assert.deepEqual(JSON.parse(printed), JSON.parse(stringifyItem(reordered)));
    assert.deepEqual(Object.keys(JSON.parse(printed) as object), ['severity', 'rule', 'message', 'location', 'hint']);
    assert.deepEqual(Object.keys((JSON.parse(printed) as Diagnostic).location!), ['file', 'line', 'col', 'length']);
  });

  it('encodes the pieces into one buffer, filled again once the output is done with it, never one a PassThrough still holds', async () => {
    const stats: ValidateStats = {
      ...{ files: 3, documents: 40, validated: 40, unknownKind: 0, crds: 0, celEvaluated: 0, celUnevaluated: 0, celSkipped: 0 },
      ...{ celNotEstimated: 0, placeholders: 0, ratcheted: 0, cacheHits: 0, compiled: 0, errors: 40, warnings: 0, workers: 0, ms: 1 },
    };
    // characters of 1 to 4 bytes in UTF-8, and a message longer than a piece
    const diagnostics: Diagnostic[] = Array.from({ length: 40 }, (_, i) => ({
      severity: 'error',
      rule: 'test/rule',
      message: i === 7 ? 'é🏰'.repeat(700) : `finding ${i}: café ✓ 🏰 ${'x'.repeat(i * 7)}`,
      location: { file: `m/${Math.floor(i / 15)}.yaml`, line: i + 1, col: 1 },
    }));
    const result = { diagnostics, sources: new Map<string, string>(), stats, ok: false };
    for (const format of ['text', 'json'] as const) {
      const expected = `${renderResult(result, format)}\n`;
      // an output done with each buffer when its callback comes: the same memory is written again
      const seen = new Set<ArrayBufferLike>();
      let writes = 0;
      let text = '';
      const out = new Writable({
        // read two turns of the event loop later, after the renderer has gone on (it waits one): a buffer filled
        // again before the callback would show here
        write(chunk: Buffer, _enc, done) {
          writes++;
          seen.add(chunk.buffer);
          setImmediate(() =>
            setImmediate(() => {
              text += chunk.toString('utf8');
              done();
            }),
          );
        },
      });
      const r = new StreamRenderer(format, out, 512, true);
      for (const d of diagnostics) await r.add(d, () => undefined);
      await r.finish({ stats, ok: false });
      // the last piece is read a turn later too
      await new Promise<void>((resolve) => out.end(resolve));
      assert.equal(text, expected, format);
      assert.ok(writes > 10 && seen.size < writes, `${format}: ${seen.size} buffers for ${writes} writes`);
      // a PassThrough keeps the very buffers it is given until they are read: none is filled again
      const through = new PassThrough();
      const held: Buffer[] = [];
      const p = new StreamRenderer(format, through, 512);
      assert.equal(p.reuse, false);
      // read as it comes (a PassThrough nobody reads stops taking pieces), kept until the end
      const reading = (async () => {
        for await (const c of through) held.push(c as Buffer);
      })();
      for (const d of diagnostics) await p.add(d, () => undefined);
      await p.finish({ stats, ok: false });
      through.end();
      await reading;
      assert.equal(Buffer.concat(held).toString('utf8'), expected, `${format} through a PassThrough`);
    }
  });
});
