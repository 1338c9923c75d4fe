// FROZEN COPY for `npm run bench -- fingerprint`: src/data/fingerprint.ts as it was before digest format 2 (sha256 of
// the COPY stream, keyless tables sorted by their text), so the bench measures the old and new implementations in the
// same rounds. Not used by Castle itself.

// Data fingerprint of a whole cluster: for every database (non-template, connectable), every user table
// and materialized view: row count + sha256 of its rows in primary-key order (all-columns order without a
// primary key), STREAMED with COPY (query) TO STDOUT, never built as one string in SQL.
// Large tables with a single integer primary key are hashed in key ranges on parallel connections, all of a
// database's connections sharing one exported snapshot. The proof passes the gate's fingerprint as `reference`
// so the same ranges are used.

import { createHash } from 'node:crypto';
import pg from 'pg';
import { fail, ok, type Result } from '../../src/core/result.js';
import type { OpOptions } from '../../src/os/exec.js';

export interface TableFingerprint {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
  readonly kind: 'table' | 'matview';
  /** unlogged tables are not restored by a physical restore (by design): rows/hash are not compared */
  readonly unlogged: boolean;
  readonly rows: number;
  readonly sha256: string;
  readonly orderBy: string;
  /** pg_table_size at fingerprint time */
  readonly bytes: number;
  /** bytes of COPY output hashed */
  readonly streamedBytes: number;
  /** key ranges used (inclusive lower bounds; the last range is open): same ranges in the proof */
  readonly split?: { readonly column: string; readonly bounds: readonly string[] };
}

export interface Fingerprint {
  readonly takenAt: string;
  readonly format: 'binary' | 'text';
  readonly databases: readonly string[];
  readonly tables: readonly TableFingerprint[];
  readonly tableBytes: number;
  readonly streamedBytes: number;
  readonly durationMs: number;
  /** MB (10^6 bytes) of table data per second */
  readonly mbPerSec: number;
}

export interface FingerprintOptions extends OpOptions {
  /** parallel connections per database (default 2) */
  readonly parallel?: number;
  /** tables above this size are split in key ranges (default 64 MB) */
  readonly splitBytes?: number;
  /** COPY format (default binary: faster; same major on both sides of a physical restore) */
  readonly format?: 'binary' | 'text';
  /** use this fingerprint's format and key ranges (the proof passes the gate's) */
  readonly reference?: Fingerprint;
  /** only these databases (default: all connectable non-template ones) */
  readonly databases?: readonly string[];
}

export type Conn = Omit<pg.ClientConfig, 'database'>;

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
  pk: string[] | null;
  intPk: boolean;
}

interface Job {
  meta: TableMeta;
  part: number;
  where: string;
  params: string[];
}

async function openClient(conn: Conn, database: string): Promise<pg.Client> {
  const c = new pg.Client({ ...conn, database, application_name: 'castle-fingerprint' });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** Takes the fingerprint of every database reachable with `conn` (a superuser connection). */
export async function fingerprintCluster(conn: Conn, o: FingerprintOptions = {}): Promise<Result<Fingerprint>> {
  const started = Date.now();
  const format = o.reference?.format ?? o.format ?? 'binary';
  const parallel = Math.max(1, o.parallel ?? 2);
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
      const r = await fingerprintDatabase(conn, db, { format, parallel, splitBytes, clients, ...(o.reference ? { reference: o.reference } : {}) });
      tables.push(...r);
      o.log?.(`fingerprint ${db}: ${r.length} tables, ${r.reduce((s, t) => s + t.rows, 0)} rows`);
    }
    const tableBytes = tables.reduce((s, t) => s + t.bytes, 0);
    const streamedBytes = tables.reduce((s, t) => s + t.streamedBytes, 0);
    const durationMs = Date.now() - started;
    return ok({
      takenAt: new Date(started).toISOString(),
      format,
      databases: dbs,
      tables,
      tableBytes,
      streamedBytes,
      durationMs,
      mbPerSec: tableBytes / 1e6 / Math.max(durationMs / 1000, 0.001),
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
  o: { format: 'binary' | 'text'; parallel: number; splitBytes: number; clients: pg.Client[]; reference?: Fingerprint },
): Promise<TableFingerprint[]> {
  const lead = await openClient(conn, db);
  o.clients.push(lead);
  await lead.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const snapshot = (await lead.query('SELECT pg_export_snapshot() AS s')).rows[0].s as string;
  const metas = (
    await lead.query(`
      SELECT n.nspname AS schema, c.relname AS table, c.relkind::text AS kind, c.relpersistence::text AS persistence,
             c.relispopulated AS populated, pg_table_size(c.oid)::float8 AS bytes,
             (SELECT array_agg(a.attname::text ORDER BY k.ord)
                FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE i.indrelid = c.oid AND i.indisprimary) AS pk,
             (SELECT bool_and(a.atttypid IN (21, 23, 20)) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
               WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1) AS int_pk
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
    pk: (r.pk as string[] | null) ?? null,
    intPk: r.int_pk === true,
  }));

  // jobs: whole tables, or key ranges of large tables with an integer primary key
  const jobs: Job[] = [];
  const splits = new Map<string, { column: string; bounds: string[] }>();
  for (const m of metas) {
    if (m.unlogged || !m.populated) continue;
    const key = `${m.schema}.${m.table}`;
    const ref = o.reference?.tables.find((t) => t.database === db && t.schema === m.schema && t.table === m.table);
    let split: { column: string; bounds: string[] } | undefined = ref?.split ? { column: ref.split.column, bounds: [...ref.split.bounds] } : undefined;
    if (!o.reference && m.intPk && m.pk && m.pk.length === 1 && m.bytes > o.splitBytes && o.parallel > 1) {
      const col = m.pk[0]!;
      const mm = (await lead.query(`SELECT min(${qi(col)})::text AS lo, max(${qi(col)})::text AS hi FROM ${qi(m.schema)}.${qi(m.table)}`)).rows[0];
      if (mm.lo !== null) {
        const lo = BigInt(mm.lo);
        const hi = BigInt(mm.hi);
        const parts = BigInt(Math.min(o.parallel * 2, Math.ceil(m.bytes / o.splitBytes)));
        const bounds: string[] = [];
        for (let i = 0n; i < parts; i++) bounds.push(String(lo + ((hi - lo + 1n) * i) / parts));
        split = { column: col, bounds: [...new Set(bounds)] };
      }
    }
    if (split && split.bounds.length > 1) {
      splits.set(key, split);
      const c = qi(split.column);
      split.bounds.forEach((b, i) => {
        const next = split!.bounds[i + 1];
        jobs.push({
          meta: m,
          part: i,
          where: i === 0 ? (next !== undefined ? `${c} < $2` : 'true') : next !== undefined ? `${c} >= $1 AND ${c} < $2` : `${c} >= $1`,
          params: [b, next ?? ''],
        });
      });
    } else {
      jobs.push({ meta: m, part: 0, where: 'true', params: [] });
    }
  }

  // workers share the lead's snapshot
  const workers: pg.Client[] = [lead];
  const n = Math.min(o.parallel, Math.max(1, jobs.length));
  for (let i = 1; i < n; i++) {
    const w = await openClient(conn, db);
    o.clients.push(w);
    await w.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await w.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    workers.push(w);
  }
  // biggest first
  const queue = [...jobs].sort(
    (a, b) =>
      b.meta.bytes / (splits.get(`${b.meta.schema}.${b.meta.table}`)?.bounds.length ?? 1) -
      a.meta.bytes / (splits.get(`${a.meta.schema}.${a.meta.table}`)?.bounds.length ?? 1),
  );
  const results = new Map<Job, { rows: number; sha: string; bytes: number }>();
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
    const key = `${m.schema}.${m.table}`;
    const base = { database: db, schema: m.schema, table: m.table, kind: m.kind, unlogged: m.unlogged, bytes: m.bytes };
    const orderBy = m.pk ? `primary key (${m.pk.join(', ')})` : 'all columns (row text, C collation)';
    if (m.unlogged || !m.populated) {
      out.push({ ...base, rows: 0, sha256: m.unlogged ? 'unlogged' : 'unpopulated', orderBy, streamedBytes: 0 });
      continue;
    }
    const parts = jobs
      .filter((j) => j.meta === m)
      .sort((a, b) => a.part - b.part)
      .map((j) => results.get(j)!);
    const split = splits.get(key);
    const sha =
      parts.length === 1
        ? parts[0]!.sha
        : createHash('sha256')
            .update(parts.map((p) => p.sha).join('\n'))
            .digest('hex');
    out.push({
      ...base,
      rows: parts.reduce((s, p) => s + p.rows, 0),
      sha256: sha,
      orderBy,
      streamedBytes: parts.reduce((s, p) => s + p.bytes, 0),
      ...(split ? { split } : {}),
    });
  }
  return out;
}

function hashJob(client: pg.Client, job: Job, format: 'binary' | 'text'): Promise<{ rows: number; sha: string; bytes: number }> {
  const m = job.meta;
  const rel = `${qi(m.schema)}.${qi(m.table)}`;
  const order = m.pk ? m.pk.map(qi).join(', ') : `t::text COLLATE "C"`;
  // COPY cannot take bind parameters: inline the (integer) bounds after checking them
  let where = job.where;
  for (const [i, p] of job.params.entries()) {
    if (p !== '' && !/^-?\d+$/.test(p)) throw new Error(`bad split bound ${p}`);
    where = where.replace(`$${i + 1}`, p);
  }
  const text = `COPY (SELECT * FROM ${rel} t WHERE ${where} ORDER BY ${order}) TO STDOUT${format === 'binary' ? ' (FORMAT binary)' : ''}`;
  const h = new CopyHasher(text);
  client.query(h);
  return h.done;
}

/**
 * COPY ... TO STDOUT read straight off the connection's socket: the raw CopyData messages (5-byte header + row) are
 * hashed as one contiguous byte range per socket chunk, without splitting rows into JS buffers. The digest does not
 * depend on how the bytes are chunked.
 *
 * Hand-written rather than pg-copy-streams 7.0.0, which copies every row twice before the hash sees it: on the same
 * cluster (pgbench scale 7, 6 interleaved rounds) it fingerprinted at a median 64-76 MB/s binary and 97-109 MB/s text
 * against 93-94 and 125-148 MB/s here. This ties us to pg's internals (the Submittable protocol, the connection's
 * socket with pg-protocol's one 'data' listener): `pg` and `pg-protocol` are pinned exactly in package.json, and
 * test/data/rebirth.test.ts checks the contract against a real server (digest = the COPY messages psql receives,
 * a COPY failing midway, the connection reused after).
 */
export class CopyHasher {
  readonly text: string;
  readonly done: Promise<{ rows: number; sha: string; bytes: number }>;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private rows = 0;
  private readonly hdr = Buffer.alloc(5);
  private hdrLen = 0;
  private skip = 0;
  private inData = false;
  private detached = false;
  private resolve!: (v: { rows: number; sha: string; bytes: number }) => void;
  private reject!: (e: Error) => void;
  private stream: { removeListener: Function; on: Function; listeners: (e: string) => Function[] } | null = null;
  private pgHandler: ((b: Buffer) => void) | null = null;
  private error: Error | null = null;

  constructor(text: string) {
    this.text = text;
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => {});
  }

  /** pg Submittable */
  submit(connection: { stream: CopyHasher['stream']; query: (t: string) => void }): void {
    const s = connection.stream!;
    const ls = s.listeners('data');
    if (ls.length !== 1) throw new Error(`unexpected ${ls.length} data listeners on the pg connection`);
    this.pgHandler = ls[0] as (b: Buffer) => void;
    s.removeListener('data', this.pgHandler);
    s.on('data', this.onData);
    this.stream = s;
    connection.query(this.text);
  }

  private update(b: Buffer, from: number, to: number): void {
    if (to > from) {
      this.hash.update(b.subarray(from, to));
      this.bytes += to - from;
    }
  }

  private detach(rest: Buffer): void {
    this.detached = true;
    const s = this.stream!;
    s.removeListener('data', this.onData);
    s.on('data', this.pgHandler!);
    if (rest.length) this.pgHandler!(rest);
  }

  /** feeds protocol bytes (exported for tests through `feed`) */
  readonly onData = (chunk: Buffer): void => {
    if (this.detached) return;
    const n = chunk.length;
    let i = 0;
    let from = this.inData && this.hdrLen === 0 ? 0 : -1;
    while (i < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        i += k;
        this.skip -= k;
        continue;
      }
      const hdrStart = i - this.hdrLen;
      let code: number;
      let len: number;
      if (this.hdrLen === 0 && i + 5 <= n) {
        // the common case: the whole header is in this chunk
        code = chunk[i]!;
        len = ((chunk[i + 1]! << 24) >>> 0) + (chunk[i + 2]! << 16) + (chunk[i + 3]! << 8) + chunk[i + 4]! - 4;
        i += 5;
      } else {
        const take = Math.min(5 - this.hdrLen, n - i);
        chunk.copy(this.hdr, this.hdrLen, i, i + take);
        this.hdrLen += take;
        i += take;
        if (this.hdrLen < 5) {
          // incomplete header at the end of the chunk: hash up to it, decide on it with the next chunk
          if (from >= 0) this.update(chunk, from, hdrStart);
          return;
        }
        this.hdrLen = 0;
        code = this.hdr[0]!;
        len = this.hdr.readUInt32BE(1) - 4;
      }
      if (code === 0x64 /* CopyData */) {
        if (from < 0) {
          if (hdrStart < 0) {
            this.update(this.hdr, 0, -hdrStart); // the part of a straddling header that came in the previous chunk
            from = 0;
          } else from = hdrStart;
        }
        this.inData = true;
        this.rows++;
        this.skip = len;
        continue;
      }
      if (code === 0x48 /* CopyOutResponse */ || code === 0x4e /* Notice */ || code === 0x53 /* ParameterStatus */ || code === 0x41 /* Notification */) {
        if (from >= 0) this.update(chunk, from, Math.max(hdrStart, 0));
        from = -1;
        this.inData = false;
        // interspersed notices/parameter changes are skipped (as COPY stream readers do); hashing resumes after them
        this.skip = len;
        continue;
      }
      // end of the data: CopyDone, ErrorResponse or anything else goes back to pg
      if (from >= 0) this.update(chunk, from, Math.max(hdrStart, 0));
      this.inData = false;
      if (code === 0x63 /* CopyDone */) {
        this.detach(chunk.subarray(i + Math.max(len, 0)));
      } else {
        this.detach(hdrStart >= 0 ? chunk.subarray(hdrStart) : Buffer.concat([this.hdr.subarray(0, -hdrStart), chunk]));
      }
      return;
    }
    if (from >= 0) this.update(chunk, from, n);
  };

  handleCommandComplete(msg: { text?: string }): void {
    const m = /COPY (\d+)/.exec(msg?.text ?? '');
    if (m) this.rows = Number(m[1]);
  }

  handleError(err: Error): void {
    this.error = err;
    if (!this.detached && this.stream) {
      this.detached = true;
      this.stream.removeListener('data', this.onData);
      this.stream.on('data', this.pgHandler!);
    }
    // pg drops the active query on an error: no handleReadyForQuery follows, so settle here
    this.reject(err);
  }

  handleReadyForQuery(): void {
    if (this.error) this.reject(this.error);
    else this.resolve({ rows: this.rows, sha: this.hash.digest('hex'), bytes: this.bytes });
  }

  /** digest so far (tests) */
  peekDigest(): string {
    return this.hash.copy().digest('hex');
  }
}

export interface FingerprintDiff {
  readonly database: string;
  readonly table: string | null;
  readonly what: 'missing-database' | 'extra-database' | 'missing-table' | 'extra-table' | 'row-count' | 'content';
  readonly detail: string;
}

/** Differences between the gate's fingerprint (`before`) and the restored cluster's (`after`). Empty = identical. */
export function compareFingerprints(before: Fingerprint, after: Fingerprint): FingerprintDiff[] {
  const diffs: FingerprintDiff[] = [];
  for (const d of before.databases)
    if (!after.databases.includes(d)) diffs.push({ database: d, table: null, what: 'missing-database', detail: `database ${d} is missing after the rebirth` });
  for (const d of after.databases)
    if (!before.databases.includes(d)) diffs.push({ database: d, table: null, what: 'extra-database', detail: `database ${d} appeared after the rebirth` });
  const key = (t: TableFingerprint) => `${t.database}\u0000${t.schema}.${t.table}`;
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
    else if (t.sha256 !== x.sha256)
      diffs.push({
        database: t.database,
        table: name,
        what: 'content',
        detail: `${t.database}: ${name} has ${t.rows} rows as before but different content (sha256 ${t.sha256.slice(0, 12)} -> ${x.sha256.slice(0, 12)})`,
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
  return `${f.databases.length} databases, ${f.tables.length} tables, ${rows} rows, ${(f.tableBytes / 1e6).toFixed(1)} MB in ${(f.durationMs / 1000).toFixed(2)} s (${f.mbPerSec.toFixed(0)} MB/s)`;
}
