// The fingerprint (digest format 3, hashed inside PostgreSQL) against a real PostgreSQL: a digest rebuilt here from the
// documented formula, tables with and without a key read whole or in block ranges, TOAST values, every database, the
// changes an equality-based hash would miss (numeric 1.0 -> 1.00, jsonb, a case-insensitive collation, int8 halves,
// values swapped between rows), types with no hash of their own (json, point, xml...), session settings that change
// text output, and gates of another digest format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { join } from 'node:path';
import { connConfig, initCluster, pgCluster, sql, startPostgres, stopPostgres, type PgCluster } from '../../src/data/postgres.js';
import { compareFingerprints, fingerprintCluster, fingerprintRate, FINGERPRINT_VERSION, type Fingerprint } from '../../src/data/fingerprint.js';
import { compareWithGate, systemIdVia } from '../../src/data/gate-core.js';
import { readFreshGate, saveGateFile } from '../../src/data/gate-store.js';
import type { GateRecord } from '../../src/data/rebirth.js';
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

/** The documented formula (src/data/row-hash-sql.ts) for a table (id int NOT NULL, v text), computed here in plain SQL. */
async function pinnedDigest(): Promise<string> {
  const lanes = [0x2545f4914f6cdd1dn, 0x5851f42d4c957f2dn];
  const row = (l: number) =>
    `hashtextextended(coalesce(v, '') COLLATE "C", hashint4extended(id, ${lanes[l]}::int8) # CASE WHEN v IS NULL THEN ${(l + 1) * 1_000_003 + 2}::int8 ELSE 0::int8 END)`;
  const first = must(await sql(cl, `SELECT sum(${row(0)})::text AS a, sum(${row(1)})::text AS b FROM pinned`, [], 'fp'))[0] as { a: string; b: string };
  const hex = (x: string) => BigInt.asUintN(128, BigInt(x)).toString(16).padStart(32, '0');
  return hex(first.a) + hex(first.b);
}

test('fingerprint: each table has its row count and the documented row-hash sums, the same read whole or in block ranges, in any row order', async () => {
  must(
    await sql(
      cl,
      `CREATE TABLE pinned(id int NOT NULL, v text); INSERT INTO pinned SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'p' || g END FROM generate_series(1, 500) g;`,
      [],
      'fp',
    ),
  );
  try {
    const digests = new Map<string, string>();
    for (const parallel of [1, 3]) {
      const f = must(await fingerprintCluster(conn(), { databases: ['fp'], parallel, ...(parallel > 1 ? { splitBytes: 1 } : {}) }));
      assert.equal(f.version, FINGERPRINT_VERSION);
      assert.equal(FINGERPRINT_VERSION, 3);
      const t = (name: string) => f.tables.find((x) => x.table === name)!;
      for (const [name, n] of [
        ['keyed', 3000],
        ['bag', 2000],
        ['toasty', 40],
        ['bagview', 50],
        ['pinned', 500],
      ] as const) {
        assert.equal(t(name).rows, n, `${name}: row count`);
        assert.match(t(name).digest, /^[0-9a-f]{64}$/);
        if (parallel === 1) {
          assert.equal(t(name).parts, 1);
          digests.set(name, t(name).digest);
        } else {
          if (name === 'keyed' || name === 'bag') assert.ok(t(name).parts > 1, `${name} read in block ranges (${t(name).parts})`);
          assert.equal(t(name).digest, digests.get(name), `${name}: the same sums whole and in ${t(name).parts} block ranges`);
        }
      }
      assert.equal(t('pinned').digest, await pinnedDigest(), 'pinned: the sums of the formula, NULLs included');
      assert.equal(t('bag2').digest, t('bag').digest, 'no key: the same rows inserted in another order');
      assert.notEqual(t('keyed').digest, t('bag').digest);
      assert.equal(t('bagview').kind, 'matview');
      assert.equal(t('cache').digest, 'unlogged');
      assert.deepEqual(t('keyed').viaText, ['n', 'b', 'doc'], 'numeric, bytea and jsonb through their text output; bigint and text hashed as they are');
    }
  } finally {
    must(await sql(cl, 'DROP TABLE pinned', [], 'fp'));
  }
});

test('fingerprint: exact, not equality: changes an equality-based hash would call equal are seen, types without a hash are read as text', async () => {
  must(
    await sql(
      cl,
      `CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
       CREATE TYPE mood AS ENUM ('calm', 'busy');
       CREATE DOMAIN posint AS int CHECK (VALUE > 0);
       CREATE TYPE pair AS (x int, y text);
       CREATE TABLE exact(id int PRIMARY KEY, n numeric, doc jsonb, t text COLLATE nocase, big int8, f float8, j json, p point, x xml,
                          arr int[], e mood, c char(4), ts timestamptz, iv interval, d posint, pr pair, bin bytea, u uuid, ok bool, small int2);
       INSERT INTO exact SELECT g, 1.0, '{"a": 1.0, "b": [1, 2]}', 'abc', 0, 0, '{"a":1}', point(1, 2), '<a>1</a>', '{1,2}', 'calm', 'ab',
                                '2026-01-01 00:00:00+00', '1 day', g, row(1, 'one')::pair, '\\x00ff', ('00000000-0000-0000-0000-00000000000' || g)::uuid, true, 7
         FROM generate_series(1, 9) g;
       CREATE TABLE swaps(a int NOT NULL, b int NOT NULL); INSERT INTO swaps VALUES (1, 10), (2, 20), (3, 30);`,
      [],
      'fp',
    ),
  );
  const fp = async () => must(await fingerprintCluster(conn(), { databases: ['fp'], parallel: 1 }));
  const base = await fp();
  const table = (f: Fingerprint, name: string) => f.tables.find((t) => t.table === name)!;
  assert.deepEqual(table(base, 'exact').viaText, ['n', 'doc', 'f', 'j', 'p', 'x', 'arr', 'e', 'ts', 'iv', 'pr', 'bin']);

  // what the built-in equality (and so its hash) calls equal
  const eq = must(
    await sql(
      cl,
      `SELECT 1.0::numeric = 1.00 AS n, '{"a": 1.0}'::jsonb = '{"a": 1.00}' AS doc, 'abc' = 'ABC' COLLATE nocase AS t,
              hashint8extended(0, 7) = hashint8extended(4294967297, 7) AS big, 0::float8 = '-0' AS f, '1 day'::interval = '24 hours' AS iv`,
      [],
      'fp',
    ),
  );
  assert.deepEqual(eq[0], { n: true, doc: true, t: true, big: true, f: true, iv: true });

  const seen = async (what: string, change: string, revert: string, tableName = 'exact') => {
    must(await sql(cl, change, [], 'fp'));
    const after = await fp();
    assert.deepEqual(
      compareFingerprints(base, after).map((d) => `${d.what} ${d.table}`),
      [`content public.${tableName}`],
      what,
    );
    must(await sql(cl, revert, [], 'fp'));
    assert.deepEqual(compareFingerprints(base, await fp()), [], `${what}: reverted, identical again`);
  };
  const set = (col: string, v: string, back: string, id = 4) =>
    [`UPDATE exact SET ${col} = ${v} WHERE id = ${id}`, `UPDATE exact SET ${col} = ${back} WHERE id = ${id}`] as const;
  await seen('numeric 1.0 -> 1.00', ...set('n', '1.00', '1.0'));
  await seen('jsonb 1.0 -> 1.00 inside', ...set('doc', `'{"a": 1.00, "b": [1, 2]}'`, `'{"a": 1.0, "b": [1, 2]}'`));
  await seen('abc -> ABC under a case-insensitive collation', ...set('t', `'ABC'`, `'abc'`));
  await seen('bigint 0 -> 2^32 + 1 (the same int8 hash)', ...set('big', '4294967297', '0'));
  await seen('float 0 -> -0', ...set('f', `'-0'`, '0'));
  await seen('interval 1 day -> 24 hours', ...set('iv', `'24 hours'`, `'1 day'`));
  await seen('json whitespace', ...set('j', `'{"a": 1}'`, `'{"a":1}'`));
  await seen('point', ...set('p', 'point(1, 3)', 'point(1, 2)'));
  await seen('xml', ...set('x', `'<a>2</a>'`, `'<a>1</a>'`));
  await seen('array lower bound', ...set('arr', `'[0:1]={1,2}'`, `'{1,2}'`));
  await seen('enum', ...set('e', `'busy'`, `'calm'`));
  await seen('char(4)', ...set('c', `'ac'`, `'ab'`));
  await seen('timestamptz one microsecond', ...set('ts', `'2026-01-01 00:00:00.000001+00'`, `'2026-01-01 00:00:00+00'`));
  await seen('domain', ...set('d', '40', '4'));
  await seen('composite', ...set('pr', `row(1, 'One')::pair`, `row(1, 'one')::pair`));
  await seen('bytea', ...set('bin', `'\\x00fe'`, `'\\x00ff'`));
  await seen('uuid', ...set('u', `'00000000-0000-0000-0000-000000000009'`, `'00000000-0000-0000-0000-000000000004'`));
  await seen('bool', ...set('ok', 'false', 'true'));
  await seen('int2', ...set('small', '8', '7'));
  await seen('text NULL -> empty', ...set('t', 'NULL', `'abc'`));
  await seen('numeric NULL -> its text form of nothing', ...set('n', 'NULL', '1.0'));
  await seen('bigint NULL -> 0', ...set('big', 'NULL', '0'));
  // values moved between rows of one column: hash_record_extended's sum cannot see it (its row hash is linear in the columns')
  const rec = async () => must(await sql(cl, 'SELECT sum(hash_record_extended(s.*, 0))::text AS h FROM swaps s', [], 'fp'))[0]!.h;
  const recBefore = await rec();
  must(await sql(cl, 'UPDATE swaps SET b = CASE a WHEN 1 THEN 20 WHEN 2 THEN 10 ELSE b END', [], 'fp'));
  assert.equal(await rec(), recBefore, 'hash_record_extended: the swap cancels out');
  assert.deepEqual(
    compareFingerprints(base, await fp()).map((d) => `${d.what} ${d.table}`),
    ['content public.swaps'],
    'values swapped between rows',
  );
  must(await sql(cl, 'UPDATE swaps SET b = a * 10', [], 'fp'));
  await seen('values swapped between columns of a row', 'UPDATE swaps SET a = 10, b = 1 WHERE a = 1', 'UPDATE swaps SET a = 1, b = 10 WHERE a = 10', 'swaps');

  // settings that change text output, and a 1 ms statement timeout, set for the database (and so for every session of Castle's): the same fingerprint
  must(
    await sql(
      cl,
      `ALTER DATABASE fp SET TimeZone = 'Asia/Tokyo'; ALTER DATABASE fp SET DateStyle = 'SQL, DMY'; ALTER DATABASE fp SET IntervalStyle = 'iso_8601';
       ALTER DATABASE fp SET extra_float_digits = -3; ALTER DATABASE fp SET bytea_output = 'escape'; ALTER DATABASE fp SET search_path = nowhere;
       ALTER DATABASE fp SET statement_timeout = 1`,
    ),
  );
  try {
    assert.deepEqual(compareFingerprints(base, await fp()), [], 'output settings of the database do not change the fingerprint');
    // a lock timeout of the database would fail the pass on any table locked a moment (a migration, VACUUM FULL): it waits
    must(await sql(cl, 'ALTER DATABASE fp SET lock_timeout = 1'));
    // the locker is a session of the same database: the 1 ms statement timeout set above is lifted for it
    const locker = new pg.Client({ ...connConfig(cl, 'fp'), options: '-c statement_timeout=0' });
    await locker.connect();
    try {
      await locker.query('BEGIN; LOCK TABLE public.exact IN ACCESS EXCLUSIVE MODE');
      const pass = fingerprintCluster(conn(), { databases: ['fp'], parallel: 1 });
      await new Promise((r) => setTimeout(r, 300));
      await locker.query('COMMIT');
      assert.deepEqual(compareFingerprints(base, must(await pass)), [], 'the pass waited for the lock');
    } finally {
      await locker.end();
    }
  } finally {
    must(await sql(cl, 'ALTER DATABASE fp RESET ALL'));
  }
  must(await sql(cl, 'DROP TABLE exact, swaps; DROP TYPE pair; DROP DOMAIN posint; DROP TYPE mood; DROP COLLATION nocase', [], 'fp'));
});

test('fingerprint: wide tables (250 and 1600 columns) are chained in steps with the same sums as one expression; a change in the last column is seen', async () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i + 1}`);
  must(
    await sql(
      cl,
      `CREATE TABLE cols250(${names(250)
        .map((c) => `${c} int NOT NULL`)
        .join(', ')});
       INSERT INTO cols250 SELECT ${names(250)
         .map((_, i) => `g * ${i + 1}`)
         .join(', ')} FROM generate_series(1, 20) g;
       CREATE TABLE cols1600(${names(1600)
         .map((c) => `${c} int8`)
         .join(', ')});
       INSERT INTO cols1600 (c1, c800, c1600) SELECT g, g * 2, g * 3 FROM generate_series(1, 20) g;`,
      [],
      'fp',
    ),
  );
  try {
    // the formula in one expression: 250 nested calls are within the parser's reach (1600 nullable bigints are not)
    const lanes = [0x2545f4914f6cdd1dn, 0x5851f42d4c957f2dn];
    const one = (l: number) => names(250).reduce((h, c) => `hashint4extended(${c}, ${h})`, `${lanes[l]}::int8`);
    const r = must(await sql(cl, `SELECT sum(${one(0)})::text AS a, sum(${one(1)})::text AS b FROM cols250`, [], 'fp'))[0] as { a: string; b: string };
    const hex = (x: string) => BigInt.asUintN(128, BigInt(x)).toString(16).padStart(32, '0');
    const base = must(await fingerprintCluster(conn(), { databases: ['fp'], parallel: 1 }));
    const t = (f: Fingerprint, name: string) => f.tables.find((x) => x.table === name)!;
    assert.equal(t(base, 'cols250').digest, hex(r.a) + hex(r.b), 'cols250: the sums of one expression');
    assert.equal(t(base, 'cols1600').rows, 20);
    must(await sql(cl, `UPDATE cols250 SET c250 = c250 + 1 WHERE c1 = 7; UPDATE cols1600 SET c1600 = NULL WHERE c1 = 7`, [], 'fp'));
    assert.deepEqual(
      compareFingerprints(base, must(await fingerprintCluster(conn(), { databases: ['fp'], parallel: 1 }))).map((d) => `${d.what} ${d.table}`),
      ['content public.cols1600', 'content public.cols250'],
    );
  } finally {
    must(await sql(cl, 'DROP TABLE cols250, cols1600', [], 'fp'));
  }
});

test('fingerprint: changes the proof must see (a byte deep in a TOASTed text and jsonb, one duplicate row more or less, every database)', async () => {
  const gate = must(await fingerprintCluster(conn(), {}));
  assert.deepEqual(gate.databases, ['fp', 'fp_other', 'postgres']);
  assert.ok(gate.tables.some((t) => t.database === 'fp_other' && t.table === 'notes' && t.rows === 100));
  const same = must(await fingerprintCluster(conn(), { reference: gate, parallel: 1 }));
  assert.deepEqual(compareFingerprints(gate, same), []);

  // a jsonb value stored out of line (compressed, it still needs more than a TOAST chunk's 2 KB): one character deep inside it
  const doc = must(await sql(cl, `SELECT pg_column_size(doc) AS stored, substr(doc->>'big', 9000, 1) AS ch FROM keyed WHERE id = 500`, [], 'fp'))[0] as {
    stored: number;
    ch: string;
  };
  assert.ok(doc.stored > 2032, `keyed 500's doc is stored out of line (${doc.stored} bytes)`);
  const toastRows = must(await sql(cl, `SELECT reltoastrelid::regclass::text AS t FROM pg_class WHERE relname = 'keyed'`, [], 'fp'))[0] as { t: string };
  assert.ok(Number((must(await sql(cl, `SELECT count(*) AS n FROM ${toastRows.t}`, [], 'fp'))[0] as { n: string }).n) > 0, 'keyed has TOAST chunks');
  const setBig = (ch: string) =>
    `UPDATE keyed SET doc = jsonb_set(doc, '{big}', to_jsonb(overlay(doc->>'big' placing '${ch}' from 9000 for 1))) WHERE id = 500;`;
  must(
    await sql(
      cl,
      `${setBig(doc.ch === 'X' ? 'Y' : 'X')}
       UPDATE toasty SET body = overlay(body placing 'X' from 5000 for 1) WHERE id = 7;
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
    ['content fp.public.bag', 'content fp.public.keyed', 'content fp.public.toasty', 'content fp_other.public.notes'],
  );
  must(
    await sql(
      cl,
      `${setBig(doc.ch)}
       UPDATE toasty SET body = overlay(body placing substr(md5((7 * 1000 + 157)::text), 8, 1) from 5000 for 1) WHERE id = 7;
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
    /^proof cannot compare the data: the gate's fingerprint has digest format 1 \(taken by an older Castle\) and this Castle computes format 3: .*take a new gate/,
  );
  const direct = await fingerprintCluster(conn(), { reference: old });
  assert.equal(direct.ok, false);
  assert.match(!direct.ok ? direct.reason : '', /digest format 1/);
  assert.deepEqual(
    compareFingerprints(old, now).map((d) => d.what),
    ['format'],
  );
  // format 2 (COPY data hashed in Node): refused the same way
  const two = await compareWithGate(conn(), { ...gate, fingerprint: { ...now, version: 2 } } as GateRecord, system, null);
  assert.match(!two.ok ? two.reason : '', /digest format 2 \(taken by an older Castle\) and this Castle computes format 3/);
  const newer = { ...now, version: FINGERPRINT_VERSION + 1 };
  assert.match(compareFingerprints(newer, now)[0]?.detail ?? '', /taken by a newer Castle/);
  // the same gate in the current format proves the data
  const current = await compareWithGate(conn(), { ...gate, fingerprint: now } as GateRecord, system, null);
  assert.ok(current.ok && current.value.diffs.length === 0, !current.ok ? current.reason : '');
});

test('fingerprint rate: MB/s for a pass of 1 MB or more, the size and time of a smaller one (never "0 MB/s")', () => {
  const pass = (tableBytes: number, durationMs: number): Fingerprint => ({
    takenAt: '2026-12-02T00:00:00Z',
    databases: ['blog'],
    tables: [],
    tableBytes,
    durationMs,
    mbPerSec: tableBytes / 1e6 / (durationMs / 1000),
  });
  assert.equal(fingerprintRate(pass(16_384, 12.4)), '16 kB in 12 ms');
  assert.equal(fingerprintRate(pass(1.2e9, 2000)), '600 MB/s');
});
