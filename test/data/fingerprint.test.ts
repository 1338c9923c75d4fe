// The fingerprint against a real PostgreSQL: its digests rebuilt independently from psql's COPY output (the sum of
// each row's MurmurHash3_x86_128, computed here with murmurhash3js-revisited), tables with and without a key, TOAST
// values, every database, a COPY failing midway, and gates of another digest format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import pg from 'pg';
import murmur from 'murmurhash3js-revisited';
import { connConfig, initCluster, pgCluster, sql, startPostgres, stopPostgres, type PgCluster } from '../../src/data/postgres.js';
import { compareFingerprints, fingerprintCluster, FINGERPRINT_VERSION, type Fingerprint } from '../../src/data/fingerprint.js';
import { CopyHasher, fingerprintSocket } from '../../src/data/copy-digest.js';
import { RowSum } from '../../src/data/row-hash.js';
import { compareWithGate, systemIdVia } from '../../src/data/gate-core.js';
import { readFreshGate, saveGateFile } from '../../src/data/gate-store.js';
import type { GateRecord } from '../../src/data/rebirth.js';
import { exec } from '../../src/os/exec.js';
import { isRoot } from '../../src/os/passwd.js';
import type { Result } from '../../src/core/result.js';
import { freePort, rmDir, tempDir } from './helpers.js';

let dir: string;
let cl: PgCluster;

function must<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(r.reason);
  return r.value;
}

const conn = () => {
  const c = connConfig(cl);
  delete c.database;
  return c;
};

before(async () => {
  dir = tempDir('fp');
  cl = must(pgCluster({ root: join(dir, 'pg'), port: await freePort() }));
  must(await initCluster(cl, { noSync: true }));
  must(await startPostgres(cl));
  must(await sql(cl, 'CREATE DATABASE fp'));
  must(await sql(cl, 'CREATE DATABASE fp_other'));
  must(
    await sql(
      cl,
      `CREATE TABLE keyed(id bigint PRIMARY KEY, v text, n numeric, b bytea, doc jsonb);
       INSERT INTO keyed SELECT g, 'line ' || g || E'\\nwith a newline, a tab\\t and \\\\ a backslash', g / 7.0, decode(md5(g::text), 'hex'),
              CASE WHEN g % 500 = 0 THEN jsonb_build_object('big', (SELECT string_agg(md5((g * k)::text), '') FROM generate_series(1, 400) k)) END
         FROM generate_series(1, 3000) g;
       CREATE TABLE bag(v text, n int);
       INSERT INTO bag SELECT 'v' || (g % 50), g % 3 FROM generate_series(1, 2000) g;
       CREATE TABLE bag2(v text, n int);
       INSERT INTO bag2 SELECT 'v' || (g % 50), g % 3 FROM generate_series(2000, 1, -1) g;
       CREATE TABLE toasty(id int PRIMARY KEY, body text);
       ALTER TABLE toasty ALTER COLUMN body SET STORAGE EXTERNAL;
       INSERT INTO toasty SELECT g, (SELECT string_agg(md5((g * 1000 + k)::text), '') FROM generate_series(1, 300) k) FROM generate_series(1, 40) g;
       CREATE MATERIALIZED VIEW bagview AS SELECT v, count(*) AS c FROM bag GROUP BY v;
       CREATE UNLOGGED TABLE cache(k int PRIMARY KEY);`,
      [],
      'fp',
    ),
  );
  must(await sql(cl, `CREATE TABLE notes(id int PRIMARY KEY, v text); INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 100) g`, [], 'fp_other'));
});

after(async () => {
  await stopPostgres(cl).catch(() => undefined);
  rmDir(dir);
});

/** psql's COPY output of `query` in `db`, as bytes */
async function psqlCopy(db: string, query: string, binary: boolean): Promise<Buffer> {
  const { spawnSync } = await import('node:child_process');
  const args = [
    '-X',
    '-h',
    cl.socketDir,
    '-p',
    String(cl.port),
    '-U',
    cl.superuser,
    '-d',
    db,
    '-c',
    `COPY (${query}) TO STDOUT${binary ? ' (FORMAT binary)' : ''}`,
  ];
  // as the cluster's OS user when root (src/os exec has no binary stdout: spawn through runuser)
  const r = cl.osUser && isRoot() ? spawnSync('runuser', ['-u', cl.osUser, '--', join(cl.binDir, 'psql'), ...args]) : spawnSync(join(cl.binDir, 'psql'), args);
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

/** The CopyData bodies the server sends for that output: one per text line; binary: header + row 1, each row, the trailer. */
function bodies(out: Buffer, binary: boolean): Buffer[] {
  if (!binary) {
    const rows: Buffer[] = [];
    let s = 0;
    for (let i = 0; i < out.length; i++)
      if (out[i] === 0x0a) {
        rows.push(out.subarray(s, i + 1));
        s = i + 1;
      }
    return rows;
  }
  const rows: Buffer[] = [];
  let i = 19 + out.readUInt32BE(15);
  let start = 0;
  for (;;) {
    const fields = out.readInt16BE(i);
    if (fields === -1) {
      rows.push(out.subarray(start, i + 2));
      return rows;
    }
    let j = i + 2;
    for (let f = 0; f < fields; f++) {
      const len = out.readInt32BE(j);
      j += 4 + Math.max(len, 0);
    }
    rows.push(out.subarray(start, j));
    start = j;
    i = j;
  }
}

const messages = (rows: Buffer[]) =>
  Buffer.concat(
    rows.flatMap((r) => {
      const h = Buffer.alloc(5);
      h.write('d', 0, 'latin1');
      h.writeUInt32BE(r.length + 4, 1);
      return [h, r];
    }),
  );

/** Independent reference of a keyless digest: murmurhash3js-revisited per row, the four 32-bit lanes summed. */
function murmurSum(rows: Buffer[]): string {
  const lanes = [0, 0, 0, 0];
  for (const r of rows) {
    const hex = murmur.x86.hash128(r) as string;
    for (let k = 0; k < 4; k++) lanes[k] = (lanes[k]! + parseInt(hex.slice(k * 8, k * 8 + 8), 16)) | 0;
  }
  return lanes.map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
}

/** the rows of binary COPY output without the header and trailer (what the keyless sum covers) */
function binaryRows(out: Buffer): Buffer[] {
  const b = bodies(out, true);
  const skip = 19 + out.readUInt32BE(15);
  return [b[0]!.subarray(skip), ...b.slice(1, -1)].filter((r) => r.length > 0);
}

/** the rows psql's COPY output holds, as the server sends them (binary: without the header and trailer) */
async function rowsOf(db: string, query: string, binary: boolean): Promise<{ rows: Buffer[]; wireBytes: number }> {
  const out = await psqlCopy(db, query, binary);
  const b = bodies(out, binary);
  return { rows: binary ? binaryRows(out) : b, wireBytes: messages(b).length };
}

for (const format of ['text', 'binary'] as const) {
  test(`fingerprint (${format}): each table's digest is the sum of its rows' MurmurHash3 rebuilt from psql's COPY output, read whole or in block ranges`, async () => {
    const binary = format === 'binary';
    for (const parallel of [1, 3]) {
      const f = must(await fingerprintCluster(conn(), { databases: ['fp'], format, parallel, ...(parallel > 1 ? { splitBytes: 1 } : {}) }));
      assert.equal(f.version, FINGERPRINT_VERSION);
      assert.equal(f.format, format);
      const t = (name: string) => f.tables.find((x) => x.table === name)!;
      for (const [name, n] of [
        ['keyed', 3000],
        ['bag', 2000],
        ['toasty', 40],
        ['bagview', 50],
      ] as const) {
        const ref = await rowsOf('fp', `SELECT * FROM public.${name}`, binary);
        assert.equal(ref.rows.length, n);
        assert.equal(t(name).rows, n);
        assert.equal(t(name).digest, murmurSum(ref.rows), `${name} (${parallel} connections): the sum of its rows' MurmurHash3_x86_128`);
        if (parallel === 1) {
          assert.equal(t(name).parts, 1);
          assert.equal(t(name).streamedBytes, ref.wireBytes, `${name}: every CopyData message read`);
        } else if (name === 'keyed' || name === 'bag') assert.ok(t(name).parts > 1, `${name} read in block ranges (${t(name).parts})`);
      }
      assert.equal(t('bag2').digest, t('bag').digest, 'no key: the same rows inserted in another order');
      assert.equal(t('bagview').kind, 'matview');
      assert.equal(t('cache').digest, 'unlogged');
      // TOAST: the out-of-line values are read whole
      assert.ok(t('toasty').streamedBytes > 40 * 9600, `all of each out-of-line value is read (${t('toasty').streamedBytes} bytes)`);
    }
  });
}

test('fingerprint: changes the proof must see (a byte deep in a TOAST value, one duplicate row more or less, every database)', async () => {
  const gate = must(await fingerprintCluster(conn(), {}));
  assert.deepEqual(gate.databases, ['fp', 'fp_other', 'postgres']);
  assert.ok(gate.tables.some((t) => t.database === 'fp_other' && t.table === 'notes' && t.rows === 100));
  const same = must(await fingerprintCluster(conn(), { reference: gate, parallel: 1 }));
  assert.deepEqual(compareFingerprints(gate, same), []);

  must(
    await sql(
      cl,
      `UPDATE toasty SET body = overlay(body placing 'X' from 5000 for 1) WHERE id = 7;
       DELETE FROM bag WHERE ctid = (SELECT ctid FROM bag WHERE v = 'v1' AND n = 1 LIMIT 1);
       INSERT INTO bag VALUES ('v2', 2);`,
      [],
      'fp',
    ),
  );
  must(await sql(cl, `UPDATE notes SET v = 'changed' WHERE id = 50`, [], 'fp_other'));
  const changed = must(await fingerprintCluster(conn(), { reference: gate, splitBytes: 1 }));
  assert.deepEqual(
    compareFingerprints(gate, changed).map((d) => `${d.what} ${d.database}.${d.table}`),
    ['content fp.public.bag', 'content fp.public.toasty', 'content fp_other.public.notes'],
  );
  must(
    await sql(
      cl,
      `UPDATE toasty SET body = overlay(body placing substr(md5((7 * 1000 + 157)::text), 8, 1) from 5000 for 1) WHERE id = 7;
       DELETE FROM bag WHERE ctid = (SELECT ctid FROM bag WHERE v = 'v2' AND n = 2 LIMIT 1);
       INSERT INTO bag VALUES ('v1', 1);`,
      [],
      'fp',
    ),
  );
  must(await sql(cl, `UPDATE notes SET v = 'n50' WHERE id = 50`, [], 'fp_other'));
  const back = must(await fingerprintCluster(conn(), { reference: gate }));
  assert.deepEqual(compareFingerprints(gate, back), [], 'restored values: identical again');

  must(await sql(cl, `DROP TABLE notes`, [], 'fp_other'));
  const dropped = must(await fingerprintCluster(conn(), { reference: gate }));
  assert.deepEqual(
    compareFingerprints(gate, dropped).map((d) => d.detail),
    ['fp_other: table public.notes is missing'],
  );
  must(await sql(cl, `CREATE TABLE notes(id int PRIMARY KEY, v text); INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 100) g`, [], 'fp_other'));

  // cancellation is a value
  const ac = new AbortController();
  ac.abort();
  assert.equal((await fingerprintCluster(conn(), { signal: ac.signal })).ok, false);
});

test('fingerprint: a gate of another digest format is refused with a clear message, never compared (gate store round trip)', async () => {
  const now = must(await fingerprintCluster(conn(), {}));
  // what Castle saved before digest format 2: no version, sha256 per table
  const { version: _v, tables, ...rest } = now;
  const old = {
    ...rest,
    tables: tables.map(({ digest, ...t }) => ({ ...t, sha256: digest.padEnd(64, '0') })),
  } as unknown as Fingerprint;
  const system = must(await systemIdVia(conn()));
  const store = join(dir, 'gates');
  const saved = { runId: 'r1', systemId: system, fingerprint: old };
  saveGateFile(store, 'local', saved);
  const gate = readFreshGate<GateRecord & { runId: string }>(store, 'local', { runId: 'r1', resumes: [] })!;
  assert.ok(gate, 'read back for the same run');

  const proof = await compareWithGate(conn(), gate, system, null);
  assert.equal(proof.ok, false);
  assert.match(
    !proof.ok ? proof.reason : '',
    /^proof cannot compare the data: the gate's fingerprint has digest format 1 \(taken by an older Castle\) and this Castle computes format 2: .*take a new gate/,
  );
  const direct = await fingerprintCluster(conn(), { reference: old });
  assert.equal(direct.ok, false);
  assert.match(!direct.ok ? direct.reason : '', /digest format 1/);
  assert.deepEqual(
    compareFingerprints(old, now).map((d) => d.what),
    ['format'],
  );
  const newer = { ...now, version: FINGERPRINT_VERSION + 1 };
  assert.match(compareFingerprints(newer, now)[0]?.detail ?? '', /taken by a newer Castle/);
  // the same gate in the current format proves the data
  const current = await compareWithGate(conn(), { ...gate, fingerprint: now } as GateRecord, system, null);
  assert.ok(current.ok && current.value.diffs.length === 0, !current.ok ? current.reason : '');
});

test('CopyHasher: a COPY failing midway rejects with the server error and its connection goes on working (both socket kinds, both formats)', async () => {
  for (const own of [true, false])
    for (const format of ['text', 'binary'] as const) {
      const client = new pg.Client({ ...connConfig(cl, 'fp'), ...(own ? { stream: fingerprintSocket } : {}) });
      await client.connect();
      try {
        const failing = new CopyHasher('COPY (SELECT 1 / (g - 50000) FROM generate_series(1, 100000) g) TO STDOUT', format);
        void client.query(failing as never);
        await assert.rejects(failing.done, /division by zero/);
        assert.deepEqual((await client.query('SELECT 41 + 1 AS x')).rows, [{ x: 42 }]);
        const three = new CopyHasher(`COPY (SELECT g FROM generate_series(1, 3) g) TO STDOUT${format === 'binary' ? ' (FORMAT binary)' : ''}`, format);
        void client.query(three as never);
        const rows = format === 'text' ? ['1\n', '2\n', '3\n'].map((r) => Buffer.from(r)) : [1, 2, 3].map((g) => Buffer.from([0, 1, 0, 0, 0, 4, 0, 0, 0, g]));
        assert.deepEqual(await three.done, { rows: 3, digest: murmurSum(rows), bytes: format === 'text' ? 21 : 19 + 3 * 15 + 7 });
        assert.deepEqual((await client.query('SELECT 1 AS y')).rows, [{ y: 1 }], 'pg reads the socket again after the COPY');
      } finally {
        await client.end();
      }
    }
});

test('CopyHasher: the digest does not depend on how the protocol bytes are chunked', async () => {
  const msg = (code: string, body: Buffer) => {
    const h = Buffer.alloc(5);
    h.write(code, 0, 'latin1');
    h.writeUInt32BE(body.length + 4, 1);
    return Buffer.concat([h, body]);
  };
  const text = Array.from({ length: 40 }, (_, i) => Buffer.from(`row ${i} ${'x'.repeat(i % 23)}\n`));
  // binary: one text field per row; the header comes with row 1, the trailer alone
  const bin = text.map((r) => Buffer.concat([Buffer.from([0, 1]), Buffer.from([0, 0, 0, r.length]), r]));
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const tail = Buffer.concat([msg('C', Buffer.from('COPY 40\0')), msg('Z', Buffer.from('I'))]);
  const sum = new RowSum();
  for (const r of text) sum.add(r, new DataView(r.buffer, r.byteOffset, r.length), 0, r.length);
  assert.equal(sum.hex(), murmurSum(text), 'RowSum equals murmurhash3js-revisited');
  for (const format of ['text', 'binary'] as const) {
    const bodies = format === 'text' ? text : [Buffer.concat([header, bin[0]!]), ...bin.slice(1), Buffer.from([0xff, 0xff])];
    const wire = Buffer.concat([
      msg('H', Buffer.from([0, 0, 0])),
      ...bodies.slice(0, 20).map((r) => msg('d', r)),
      msg('N', Buffer.from('notice\0')),
      ...bodies.slice(20).map((r) => msg('d', r)),
      msg('c', Buffer.alloc(0)),
      tail,
    ]);
    const expected = murmurSum(format === 'text' ? text : bin);
    for (const own of [false, true])
      for (let a = 1; a < wire.length; a += 5) {
        for (const b of [a + 1, a + 4, a + 29]) {
          if (b >= wire.length) continue;
          const s = new EventEmitter() as EventEmitter & { castleSink?: ((b: Buffer) => void) | null };
          if (own) s.castleSink = null;
          const got: Buffer[] = [];
          s.on('data', (d: Buffer) => got.push(d));
          const h = new CopyHasher('COPY x TO STDOUT', format);
          h.submit({ stream: s as never, query: () => {} });
          for (const part of [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]) {
            if (own && s.castleSink) s.castleSink(Buffer.from(part));
            else s.emit('data', Buffer.from(part));
          }
          assert.equal(h.peekDigest(), expected, `${format} split at ${a}/${b}`);
          assert.deepEqual(Buffer.concat(got), tail, `pg gets the rest after CopyDone (${format}, split ${a}/${b})`);
        }
      }
  }
});
