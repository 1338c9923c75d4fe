// FROZEN COPY for `npm run bench -- fingerprint`: src/data/fingerprint.ts as it was at digest format 2 (COPY ... TO
// STDOUT per table, each row's MurmurHash3_x86_128 summed in Node), so the bench measures it against format 3 (hashed
// inside PostgreSQL) in the same rounds. Not used by Castle itself. It compares fingerprints with the current code.

// Data fingerprint of a whole cluster: for every database (non-template, connectable), every user table and
// materialized view: its row count and the sum of its rows' 128-bit hashes, STREAMED with COPY ... TO STDOUT
// (copy-digest.ts), never built as one string in SQL. A sum does not depend on the order rows come in, so every table
// is read with sequential scans (no index walk, no sort), large ones in block ranges (ctid, PostgreSQL 14+) on parallel
// connections that share one exported snapshot; duplicate rows of a table without a key count as often as they occur.
// Measured before choosing (pgbench_accounts, 893 MB of binary COPY, CPU seconds of the backend + Node): xxh3-128 of the
// stream in primary-key order 2.51-2.79 + 0.80-0.94 s; the row sum over a sequential scan 1.94 + 1.00-1.07 s.

import pg from 'pg';
import { fail, ok, type Result } from '../../src/core/result.js';
import type { OpOptions } from '../../src/os/exec.js';
import { CopyHasher, fingerprintSocket, type CopyDigest } from './copy-digest.js';
import { RowSum } from './row-hash.js';
import * as current from '../../src/data/fingerprint.js';

/**
 * The digest format: a fingerprint is only comparable with one of the same version. 1 (unversioned): sha256 of the COPY
 * stream in primary-key order, keyless tables sorted by their text. 2: the sum of the rows' MurmurHash3_x86_128.
 */
export const FINGERPRINT_VERSION = 2;

export interface TableFingerprint {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
  readonly kind: 'table' | 'matview';
  /** unlogged tables are not restored by a physical restore (by design): rows/hash are not compared */
  readonly unlogged: boolean;
  readonly rows: number;
  /** sum (4 lanes mod 2^32) of the MurmurHash3_x86_128 of each row's COPY data; 'unlogged' / 'unpopulated': not read */
  readonly digest: string;
  /** pg_table_size at fingerprint time */
  readonly bytes: number;
  /** bytes of COPY output hashed */
  readonly streamedBytes: number;
  /** block ranges read on separate connections (1: the whole table at once) */
  readonly parts: number;
}

export interface Fingerprint {
  /** FINGERPRINT_VERSION of the Castle that took it (absent: version 1) */
  readonly version?: number;
  readonly takenAt: string;
  readonly format: 'binary' | 'text';
  readonly databases: readonly string[];
  readonly tables: readonly TableFingerprint[];
  readonly tableBytes: number;
  readonly streamedBytes: number;
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
  /** COPY format (default binary: faster; same major on both sides of a physical restore) */
  readonly format?: 'binary' | 'text';
  /** the fingerprint this one will be compared with (the proof passes the gate's): its COPY format is used, and one of another digest format is refused */
  readonly reference?: Fingerprint;
  /** only these databases (default: all connectable non-template ones) */
  readonly databases?: readonly string[];
}

export type Conn = Omit<pg.ClientConfig, 'database'>;

/** connections per database unless told: measured with `npm run bench -- fingerprint` on 2 cores (README) */
export const DEFAULT_PARALLEL = 3;

function qi(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

interface TableMeta {
  schema: string;
  table: string;
  kind: 'table' | 'matview';
  unlogged: boolean;
  populated: boolean;
  bytes: number;
  /** heap blocks (a keyless table is split in block ranges) */
  blocks: number;
}

interface Job {
  meta: TableMeta;
  part: number;
  where: string;
  /** share of the table's bytes this job reads (scheduling) */
  share: number;
}

async function openClient(conn: Conn, database: string): Promise<pg.Client> {
  // over TLS the socket's bytes are not the protocol's: pg's own stream then
  const stream = conn.ssl || conn.stream ? {} : { stream: fingerprintSocket };
  const c = new pg.Client({ ...conn, ...stream, database, application_name: 'castle-fingerprint' });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** Why `f` cannot be compared with a format-2 fingerprint, or null. */
export const formatMismatch = (f: Fingerprint): string | null => current.formatMismatch(f, FINGERPRINT_VERSION);

/** Takes the fingerprint of every database reachable with `conn` (a superuser connection). */
export async function fingerprintCluster(conn: Conn, o: FingerprintOptions = {}): Promise<Result<Fingerprint>> {
  const started = Date.now();
  const mismatch = o.reference ? formatMismatch(o.reference) : null;
  if (mismatch) return fail(mismatch);
  const format = o.reference?.format ?? o.format ?? 'binary';
  const parallel = Math.max(1, o.parallel ?? DEFAULT_PARALLEL);
  const splitBytes = o.splitBytes ?? 64 * 1024 * 1024;
  const clients: pg.Client[] = [];
  const abort = () => {
    for (const c of clients) c.end().catch(() => {});
  };
  o.signal?.addEventListener('abort', abort, { once: true });
  try {
    const admin = await openClient(conn, 'postgres');
    clients.push(admin);
    let dbs = (await admin.query(`SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`)).rows.map(
      (r) => r.datname as string,
    );
    if (o.databases) dbs = dbs.filter((d) => o.databases!.includes(d));
    const tables: TableFingerprint[] = [];
    for (const db of dbs) {
      if (o.signal?.aborted) return fail('fingerprint cancelled');
      const r = await fingerprintDatabase(conn, db, { format, parallel, splitBytes, clients });
      tables.push(...r);
      o.log?.(`fingerprint ${db}: ${r.length} tables, ${r.reduce((s, t) => s + t.rows, 0)} rows`);
    }
    const tableBytes = tables.reduce((s, t) => s + t.bytes, 0);
    const streamedBytes = tables.reduce((s, t) => s + t.streamedBytes, 0);
    const durationMs = Date.now() - started;
    return ok({
      version: FINGERPRINT_VERSION,
      takenAt: new Date(started).toISOString(),
      format,
      databases: dbs,
      tables,
      tableBytes,
      streamedBytes,
      durationMs,
      mbPerSec: tableBytes / 1e6 / Math.max(durationMs / 1000, 0.001),
      parallel,
    });
  } catch (err) {
    if (o.signal?.aborted) return fail('fingerprint cancelled');
    return fail(`fingerprint failed: ${(err as Error).message}`);
  } finally {
    o.signal?.removeEventListener('abort', abort);
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

async function fingerprintDatabase(
  conn: Conn,
  db: string,
  o: { format: 'binary' | 'text'; parallel: number; splitBytes: number; clients: pg.Client[] },
): Promise<TableFingerprint[]> {
  const lead = await openClient(conn, db);
  o.clients.push(lead);
  await lead.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const snapshot = (await lead.query('SELECT pg_export_snapshot() AS s')).rows[0].s as string;
  const metas = (
    await lead.query(`
      SELECT n.nspname AS schema, c.relname AS table, c.relkind::text AS kind, c.relpersistence::text AS persistence,
             c.relispopulated AS populated, pg_table_size(c.oid)::float8 AS bytes,
             (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 AS blocks
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
       ORDER BY 1, 2`)
  ).rows.map((r): TableMeta => ({
    schema: r.schema,
    table: r.table,
    kind: r.kind === 'm' ? 'matview' : 'table',
    unlogged: r.persistence === 'u',
    populated: r.populated,
    bytes: Number(r.bytes),
    blocks: Number(r.blocks),
  }));

  // TID range scans (PostgreSQL 14+) read just the blocks asked for; before that, a ctid range would scan the whole table
  const tidRanges = Number((await lead.query(`SELECT current_setting('server_version_num')::int AS v`)).rows[0].v) >= 140000;

  // jobs: whole tables, or block ranges of large ones (the last one open): a sum does not care where a row is, only
  // that each is read once, so the proof need not use the gate's ranges
  const jobs: Job[] = [];
  for (const m of metas) {
    if (m.unlogged || !m.populated) continue;
    const parts =
      o.parallel > 1 && tidRanges && m.bytes > o.splitBytes ? Math.max(1, Math.min(o.parallel * 2, Math.ceil(m.bytes / o.splitBytes), m.blocks)) : 1;
    const step = Math.ceil(m.blocks / parts);
    const at = (b: number) => `'(${b},0)'::tid`;
    for (let i = 0; i < parts; i++) {
      const lo = i > 0 ? [`ctid >= ${at(i * step)}`] : [];
      const hi = i < parts - 1 ? [`ctid < ${at((i + 1) * step)}`] : [];
      jobs.push({ meta: m, part: i, where: [...lo, ...hi].join(' AND '), share: 1 / parts });
    }
  }

  // workers share the lead's snapshot
  const workers: pg.Client[] = [lead];
  const n = Math.min(o.parallel, Math.max(1, jobs.length));
  const more = await Promise.all(
    Array.from({ length: n - 1 }, async () => {
      const w = await openClient(conn, db);
      o.clients.push(w);
      await w.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await w.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
      return w;
    }),
  );
  workers.push(...more);
  // biggest first
  const queue = [...jobs].sort((a, b) => b.meta.bytes * b.share - a.meta.bytes * a.share);
  const results = new Map<Job, CopyDigest>();
  await Promise.all(
    workers.map(async (w) => {
      for (;;) {
        const job = queue.shift();
        if (!job) return;
        results.set(job, await hashJob(w, job, o.format));
      }
    }),
  );
  await lead.query('COMMIT').catch(() => {});

  const out: TableFingerprint[] = [];
  for (const m of metas) {
    const base = { database: db, schema: m.schema, table: m.table, kind: m.kind, unlogged: m.unlogged, bytes: m.bytes };
    if (m.unlogged || !m.populated) {
      out.push({ ...base, rows: 0, digest: m.unlogged ? 'unlogged' : 'unpopulated', streamedBytes: 0, parts: 0 });
      continue;
    }
    const parts = jobs.filter((j) => j.meta === m).map((j) => results.get(j)!);
    const sum = new RowSum();
    for (const p of parts) sum.merge(p.digest);
    out.push({
      ...base,
      rows: parts.reduce((s, p) => s + p.rows, 0),
      digest: sum.hex(),
      streamedBytes: parts.reduce((s, p) => s + p.bytes, 0),
      parts: parts.length,
    });
  }
  return out;
}

function hashJob(client: pg.Client, job: Job, format: 'binary' | 'text'): Promise<CopyDigest> {
  const m = job.meta;
  const rel = `${qi(m.schema)}.${qi(m.table)}`;
  const opts = format === 'binary' ? ' (FORMAT binary)' : '';
  // COPY of a table reads it straight; a materialized view or a block range needs the query form
  const text = !job.where && m.kind === 'table' ? `COPY ${rel} TO STDOUT${opts}` : `COPY (SELECT * FROM ${rel} WHERE ${job.where || 'true'}) TO STDOUT${opts}`;
  const h = new CopyHasher(text, format);
  void client.query(h as never);
  return h.done;
}

/** Differences between two format-2 fingerprints (the current comparison: only the digest differs between the formats). */
export const compareFingerprints = (before: Fingerprint, after: Fingerprint): current.FingerprintDiff[] =>
  current.compareFingerprints(before, after, FINGERPRINT_VERSION);
