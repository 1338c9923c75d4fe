// Data fingerprint of a whole cluster: for every database (non-template, connectable), every user table and
// materialized view: its row count and the sums of its rows' hashes, computed INSIDE PostgreSQL (row-hash-sql.ts): no
// row is converted to COPY output or sent to Castle, which made the COPY-based format 2 cost 4.2 CPU-seconds per GB of
// the bench's cluster against 3.3 here, 3.6 against 2.6 on pgbench data (`npm run bench -- fingerprint`). A sum does not depend on the order
// rows come in, so every table is read with sequential scans (no index walk, no sort), large ones in block ranges (ctid,
// PostgreSQL 14+) on parallel connections that share one exported snapshot; duplicate rows of a table without a key
// count as often as they occur. Types with no hash function of their own (json, xml, point, user types...) or whose hash
// treats unequal bytes as equal (numeric 1.0 = 1.00, jsonb, arrays, floats...) are hashed through their text output, in
// the same query: no table needs another path.

import pg from 'pg';
import { fail, ok, type Result } from '../core/result.js';
import type { OpOptions } from '../os/exec.js';
import { columnPlan, LANES, qi, rowHashQuery, SESSION_SETTINGS, STARTUP_OPTIONS, type ColumnMeta } from './row-hash-sql.js';

/**
 * The digest format: a fingerprint is only comparable with one of the same version. 1 (unversioned): sha256 of the COPY
 * stream in primary-key order, keyless tables sorted by their text. 2: the sum of the rows' MurmurHash3_x86_128 of
 * their COPY data. 3: two sums of 64-bit row hashes computed in PostgreSQL (row-hash-sql.ts).
 */
export const FINGERPRINT_VERSION = 3;

export interface TableFingerprint {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
  readonly kind: 'table' | 'matview';
  /** unlogged tables are not restored by a physical restore (by design): rows/hash are not compared */
  readonly unlogged: boolean;
  readonly rows: number;
  /** each lane's sum of row hashes (128-bit two's complement, 32 hex digits each); 'unlogged' / 'unpopulated': not read */
  readonly digest: string;
  /** pg_table_size at fingerprint time */
  readonly bytes: number;
  /** block ranges read on separate connections (1: the whole table at once) */
  readonly parts: number;
  /** columns hashed through their type's text output (no exact hash of their own) */
  readonly viaText: readonly string[];
}

export interface Fingerprint {
  /** FINGERPRINT_VERSION of the Castle that took it (absent: version 1) */
  readonly version?: number;
  readonly takenAt: string;
  readonly databases: readonly string[];
  readonly tables: readonly TableFingerprint[];
  readonly tableBytes: number;
  readonly durationMs: number;
  /** MB (10^6 bytes) of table data per second */
  readonly mbPerSec: number;
  /** connections per database */
  readonly parallel?: number;
}

export interface FingerprintOptions extends OpOptions {
  /** parallel connections per database (default 3: see bench/fingerprint.ts) */
  readonly parallel?: number;
  /** tables above this size are read in block ranges on several connections (default 64 MB) */
  readonly splitBytes?: number;
  /** the fingerprint this one will be compared with (the proof passes the gate's): one of another digest format is refused */
  readonly reference?: Fingerprint;
  /** only these databases (default: all connectable non-template ones) */
  readonly databases?: readonly string[];
}

export type Conn = Omit<pg.ClientConfig, 'database'>;

/** connections per database unless told: measured with `npm run bench -- fingerprint` on 2 cores (README) */
export const DEFAULT_PARALLEL = 3;

/** a table over this many bytes is read in block ranges (blockRanges) */
export const DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024;

interface TableMeta {
  oid: string;
  schema: string;
  table: string;
  kind: 'table' | 'matview';
  unlogged: boolean;
  populated: boolean;
  bytes: number;
  /** heap blocks (a large table is split in block ranges) */
  blocks: number;
  columns: ColumnMeta[];
}

interface Job {
  meta: TableMeta;
  part: number;
  where: string;
  /** share of the table's bytes this job reads (scheduling) */
  share: number;
}

async function openClient(conn: Conn, database: string): Promise<pg.Client> {
  const options = [conn.options, STARTUP_OPTIONS].filter(Boolean).join(' ');
  const c = new pg.Client({ ...conn, database, options, application_name: 'castle-fingerprint' });
  c.on('error', () => {});
  await c.connect();
  await c.query(SESSION_SETTINGS.map((x) => `SET ${x}`).join('; '));
  return c;
}

/** Why `f` cannot be compared with a fingerprint of format `current` (this Castle's unless told), or null. */
export function formatMismatch(f: { readonly version?: number }, current: number = FINGERPRINT_VERSION): string | null {
  const v = f.version ?? 1;
  if (v === current) return null;
  return (
    `the gate's fingerprint has digest format ${v} (taken by ${v < current ? 'an older' : 'a newer'} Castle) and this Castle computes format ${current}: ` +
    `the data cannot be compared; take a new gate with this Castle (castle rebirth does), or prove with the Castle version that took it`
  );
}

/** Takes the fingerprint of every database reachable with `conn` (a superuser connection). */
export async function fingerprintCluster(conn: Conn, o: FingerprintOptions = {}): Promise<Result<Fingerprint>> {
  const started = Date.now();
  const mismatch = o.reference ? formatMismatch(o.reference) : null;
  if (mismatch) return fail(mismatch);
  const parallel = Math.max(1, o.parallel ?? DEFAULT_PARALLEL);
  const splitBytes = o.splitBytes ?? DEFAULT_SPLIT_BYTES;
  const pool = new ConnPool(conn);
  const abort = () => pool.close();
  o.signal?.addEventListener('abort', abort, { once: true });
  try {
    const admin = await pool.open('postgres');
    let dbs = (await admin.query(`SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`)).rows.map(
      (r) => r.datname as string,
    );
    await pool.end(admin);
    if (o.databases) dbs = dbs.filter((d) => o.databases!.includes(d));
    const perDb = await fingerprintDatabases(pool, dbs, { parallel, splitBytes, ...(o.log ? { log: o.log } : {}) });
    if (o.signal?.aborted) return fail('fingerprint cancelled');
    const tables = perDb.flat();
    const tableBytes = tables.reduce((s, t) => s + t.bytes, 0);
    const durationMs = Date.now() - started;
    return ok({
      version: FINGERPRINT_VERSION,
      takenAt: new Date(started).toISOString(),
      databases: dbs,
      tables,
      tableBytes,
      durationMs,
      mbPerSec: tableBytes / 1e6 / Math.max(durationMs / 1000, 0.001),
      parallel,
    });
  } catch (err) {
    if (o.signal?.aborted) return fail('fingerprint cancelled');
    return fail(`fingerprint failed: ${(err as Error).message}`);
  } finally {
    o.signal?.removeEventListener('abort', abort);
    await pool.close();
  }
}

/** Every connection the fingerprint opens, so that an abort or a failure ends them all, even one still being opened. */
class ConnPool {
  private readonly clients = new Set<pg.Client>();
  private closed = false;

  constructor(private readonly conn: Conn) {}

  async open(database: string): Promise<pg.Client> {
    if (this.closed) throw new Error('fingerprint stopped');
    const c = await openClient(this.conn, database);
    this.clients.add(c);
    if (this.closed) {
      await this.close();
      throw new Error('fingerprint stopped');
    }
    return c;
  }

  async end(c: pg.Client): Promise<void> {
    this.clients.delete(c);
    await c.end().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.clients];
    this.clients.clear();
    await Promise.all(all.map((c) => c.end().catch(() => {})));
  }
}

/** One database's share of the work: its snapshot (held by `lead`), its jobs, the connections reading them. */
interface DbWork {
  readonly db: string;
  readonly lead: pg.Client;
  readonly snapshot: string;
  readonly metas: readonly TableMeta[];
  readonly jobs: readonly Job[];
  /** not started yet, biggest first */
  readonly queue: Job[];
  readonly results: Map<Job, PartSum>;
  /** connections in the snapshot not reading a job now */
  readonly idle: pg.Client[];
  /** every connection of this database, the lead first */
  readonly conns: pg.Client[];
  finished: boolean;
}

/**
 * One pool of `parallel` readers over every database, in name order: a reader that finds no job left in a database
 * moves on to the next while others finish the last ranges of the previous one, so the cores do not wait for a
 * database's slowest range (before: one database at a time, 4 ranges of one table on 3 connections kept 2 of them idle
 * for a quarter of the pass). At most `parallel` databases are open at once.
 */
async function fingerprintDatabases(
  pool: ConnPool,
  dbs: readonly string[],
  o: { parallel: number; splitBytes: number; log?: (line: string) => void },
): Promise<TableFingerprint[][]> {
  const prepared = new Map<string, Promise<DbWork>>();
  const out: TableFingerprint[][] = dbs.map(() => []);
  let next = 0;
  let failure: unknown;
  const reader = async (): Promise<void> => {
    let at = next;
    while (failure === undefined && at < dbs.length) {
      const db = dbs[at]!;
      let p = prepared.get(db);
      if (!p) prepared.set(db, (p = prepareDatabase(pool, db, o)));
      const w = await p;
      const job = w.queue.shift();
      if (job) {
        const c = w.idle.pop() ?? (await joinSnapshot(pool, w));
        w.results.set(job, await hashJob(c, job));
        w.idle.push(c);
      } else {
        next = Math.max(next, at + 1);
        at = next;
      }
      // the reader that completes a database's last job (or finds one with none) closes it, once
      if (w.results.size === w.jobs.length && !w.finished) {
        w.finished = true;
        const tables = await finishDatabase(pool, w);
        out[dbs.indexOf(w.db)] = tables;
        o.log?.(`fingerprint ${w.db}: ${tables.length} tables, ${tables.reduce((s, t) => s + t.rows, 0)} rows`);
      }
    }
  };
  await Promise.all(
    Array.from({ length: o.parallel }, () =>
      reader().catch(async (e: unknown) => {
        failure ??= e;
        await pool.close();
      }),
    ),
  );
  if (failure !== undefined) throw failure;
  return out;
}

async function joinSnapshot(pool: ConnPool, w: DbWork): Promise<pg.Client> {
  const c = await pool.open(w.db);
  w.conns.push(c);
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await c.query(`SET TRANSACTION SNAPSHOT '${w.snapshot}'`);
  return c;
}

async function prepareDatabase(pool: ConnPool, db: string, o: { parallel: number; splitBytes: number }): Promise<DbWork> {
  const lead = await pool.open(db);
  await lead.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const snapshot = (await lead.query('SELECT pg_export_snapshot() AS s')).rows[0].s as string;
  const rels = `
      SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;
  const metas = (
    await lead.query(`
      SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS table, c.relkind::text AS kind, c.relpersistence::text AS persistence,
             c.relispopulated AS populated, pg_table_size(c.oid)::float8 AS bytes,
             (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 AS blocks
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.oid IN (${rels})
       ORDER BY 2, 3`)
  ).rows.map((r): TableMeta => ({
    oid: r.oid as string,
    schema: r.schema as string,
    table: r.table as string,
    kind: r.kind === 'm' ? 'matview' : 'table',
    unlogged: r.persistence === 'u',
    populated: r.populated as boolean,
    bytes: Number(r.bytes),
    blocks: Number(r.blocks),
    columns: [],
  }));
  // every column in order, with what its hash needs: the base type of a domain (domains of domains: the last base), the output function
  const byOid = new Map(metas.map((m) => [m.oid, m]));
  const cols = await lead.query(`
      WITH RECURSIVE base(oid, base, domain) AS (
        SELECT t.oid, t.oid, false FROM pg_type t WHERE t.typtype <> 'd'
        UNION ALL SELECT d.oid, b.base, true FROM pg_type d JOIN base b ON b.oid = d.typbasetype WHERE d.typtype = 'd')
      SELECT a.attrelid::int8::text AS rel, a.attname AS name, a.attnotnull AS not_null, b.base::int8 AS base, b.domain,
             a.atttypmod AS typmod, t.typoutput::regproc::text AS out
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN base b ON b.oid = a.atttypid
       WHERE a.attrelid IN (${rels}) AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attrelid, a.attnum`);
  for (const r of cols.rows)
    byOid.get(r.rel as string)?.columns.push(
      columnPlan({
        name: r.name as string,
        notNull: r.not_null as boolean,
        base: Number(r.base),
        domain: r.domain as boolean,
        typmod: r.typmod as number,
        out: r.out as string,
      }),
    );

  const tidRanges = await tidRangeScans(lead);

  // jobs: whole tables, or block ranges of large ones (the last one open): a sum does not care where a row is, only
  // that each is read once, so the proof need not use the gate's ranges
  const jobs: Job[] = [];
  for (const m of metas) {
    if (m.unlogged || !m.populated) continue;
    const wheres = blockRanges(m, { ...o, tidRanges });
    wheres.forEach((where, part) => jobs.push({ meta: m, part, where, share: 1 / wheres.length }));
  }

  // biggest first
  const queue = [...jobs].sort((a, b) => b.meta.bytes * b.share - a.meta.bytes * a.share);
  return { db, lead, snapshot, metas, jobs, queue, results: new Map(), idle: [lead], conns: [lead], finished: false };
}

/** Whether the server reads a ctid range with a TID range scan (PostgreSQL 14+), the condition of blockRanges. */
export async function tidRangeScans(c: pg.Client): Promise<boolean> {
  return Number((await c.query(`SELECT current_setting('server_version_num')::int AS v`)).rows[0].v) >= 140000;
}

/**
 * The WHERE clauses that split a table in block ranges read on `parallel` connections ('' reads it whole): a table over
 * `splitBytes`, on PostgreSQL 14+ (TID range scans read just the blocks asked for; before, a ctid range scanned the whole
 * table), in a multiple of the readers (4 ranges on 3 readers left the last one reading alone, a core idle, for a
 * quarter of the pass), the last range open.
 */
export function blockRanges(
  m: { readonly bytes: number; readonly blocks: number },
  o: { readonly parallel: number; readonly splitBytes: number; readonly tidRanges: boolean },
): string[] {
  const parts =
    o.parallel > 1 && o.tidRanges && m.bytes > o.splitBytes
      ? Math.max(1, Math.min(o.parallel * Math.ceil(m.bytes / (o.splitBytes * o.parallel)), o.parallel * 64, m.blocks))
      : 1;
  const step = Math.ceil(m.blocks / parts);
  const at = (b: number) => `'(${b},0)'::tid`;
  return Array.from({ length: parts }, (_, i) =>
    [...(i > 0 ? [`ctid >= ${at(i * step)}`] : []), ...(i < parts - 1 ? [`ctid < ${at((i + 1) * step)}`] : [])].join(' AND '),
  );
}

/** The database's tables from its ranges' sums; its connections are closed (the lead's transaction held the snapshot). */
async function finishDatabase(pool: ConnPool, w: DbWork): Promise<TableFingerprint[]> {
  await w.lead.query('COMMIT').catch(() => {});
  await Promise.all(w.conns.map((c) => pool.end(c)));
  const { db, metas, jobs, results } = w;
  const out: TableFingerprint[] = [];
  for (const m of metas) {
    const viaText = m.columns.filter((c) => c.hash.kind === 'output').map((c) => c.name);
    const base = { database: db, schema: m.schema, table: m.table, kind: m.kind, unlogged: m.unlogged, bytes: m.bytes, viaText };
    if (m.unlogged || !m.populated) {
      out.push({ ...base, rows: 0, digest: m.unlogged ? 'unlogged' : 'unpopulated', parts: 0 });
      continue;
    }
    const parts = jobs.filter((j) => j.meta === m).map((j) => results.get(j)!);
    const lane = (l: number) =>
      BigInt.asUintN(
        128,
        parts.reduce((s, p) => s + p.sums[l]!, 0n),
      )
        .toString(16)
        .padStart(32, '0');
    out.push({ ...base, rows: parts.reduce((s, p) => s + p.rows, 0), digest: LANES.map((_, l) => lane(l)).join(''), parts: parts.length });
  }
  return out;
}

interface PartSum {
  readonly rows: number;
  /** per lane */
  readonly sums: readonly bigint[];
}

async function hashJob(client: pg.Client, job: Job): Promise<PartSum> {
  const m = job.meta;
  const r = (await client.query(rowHashQuery(`${qi(m.schema)}.${qi(m.table)}`, job.where, m.columns))).rows[0];
  // sum() of no rows is NULL
  return { rows: Number(r.n), sums: LANES.map((_, l) => BigInt((r[`l${l}`] as string | null) ?? 0)) };
}

export interface FingerprintDiff {
  readonly database: string;
  readonly table: string | null;
  readonly what: 'format' | 'missing-database' | 'extra-database' | 'missing-table' | 'extra-table' | 'row-count' | 'content';
  readonly detail: string;
}

/** What a comparison reads of a fingerprint, in any digest format (the bench's frozen format 2 compares with it too). */
export interface ComparedFingerprint {
  readonly version?: number;
  readonly databases: readonly string[];
  readonly tables: readonly Pick<TableFingerprint, 'database' | 'schema' | 'table' | 'unlogged' | 'rows' | 'digest'>[];
}

/**
 * Differences between the gate's fingerprint (`before`) and the restored cluster's (`after`), both of digest format
 * `current` (this Castle's unless told). Empty = identical.
 */
export function compareFingerprints(before: ComparedFingerprint, after: ComparedFingerprint, current: number = FINGERPRINT_VERSION): FingerprintDiff[] {
  for (const f of [before, after]) {
    const why = formatMismatch(f, current);
    if (why) return [{ database: '', table: null, what: 'format', detail: why }];
  }
  const diffs: FingerprintDiff[] = [];
  for (const d of before.databases)
    if (!after.databases.includes(d)) diffs.push({ database: d, table: null, what: 'missing-database', detail: `database ${d} is missing after the rebirth` });
  for (const d of after.databases)
    if (!before.databases.includes(d)) diffs.push({ database: d, table: null, what: 'extra-database', detail: `database ${d} appeared after the rebirth` });
  const key = (t: ComparedFingerprint['tables'][number]) => `${t.database}\u0000${t.schema}.${t.table}`;
  const a = new Map(after.tables.map((t) => [key(t), t]));
  const b = new Map(before.tables.map((t) => [key(t), t]));
  for (const [k, t] of b) {
    const name = `${t.schema}.${t.table}`;
    const x = a.get(k);
    if (!x) {
      if (after.databases.includes(t.database))
        diffs.push({ database: t.database, table: name, what: 'missing-table', detail: `${t.database}: table ${name} is missing` });
      continue;
    }
    if (t.unlogged) continue;
    if (t.rows !== x.rows)
      diffs.push({ database: t.database, table: name, what: 'row-count', detail: `${t.database}: ${name} had ${t.rows} rows, now ${x.rows}` });
    else if (t.digest !== x.digest)
      diffs.push({
        database: t.database,
        table: name,
        what: 'content',
        detail: `${t.database}: ${name} has ${t.rows} rows as before but different content (digest ${t.digest.slice(0, 12)} -> ${x.digest.slice(0, 12)})`,
      });
  }
  for (const [k, t] of a)
    if (!b.has(k) && before.databases.includes(t.database))
      diffs.push({
        database: t.database,
        table: `${t.schema}.${t.table}`,
        what: 'extra-table',
        detail: `${t.database}: table ${t.schema}.${t.table} appeared`,
      });
  return diffs;
}

/** Totals for a summary line. */
export function fingerprintSummary(f: Fingerprint): string {
  const rows = f.tables.reduce((s, t) => s + t.rows, 0);
  return `${f.databases.length} databases, ${f.tables.length} tables, ${rows} rows, ${(f.tableBytes / 1e6).toFixed(1)} MB in ${(f.durationMs / 1000).toFixed(2)} s (${fingerprintRate(f)})`;
}

/** The pass's speed for a summary: MB/s, or the size and time of a pass under 1 MB, whose rate would read "0 MB/s". */
export function fingerprintRate(f: Fingerprint): string {
  return f.tableBytes < 1e6 ? `${Math.round(f.tableBytes / 1e3)} kB in ${Math.round(f.durationMs)} ms` : `${f.mbPerSec.toFixed(0)} MB/s`;
}
