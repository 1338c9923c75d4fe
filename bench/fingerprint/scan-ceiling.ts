// The limit of this machine for any fingerprint that reads rows through PostgreSQL: the same tables, split in the same
// block ranges (blockRanges) on the same number of connections, read with count(*), which deforms no column, hashes
// nothing and reads no TOAST. A fingerprint pass can approach this figure, never pass it; the bench prints both.
import pg from 'pg';
import { blockRanges, DEFAULT_SPLIT_BYTES, tidRangeScans, type Conn } from '../../src/data/fingerprint.js';
import { qi, SESSION_SETTINGS } from '../../src/data/row-hash-sql.js';

export interface ScanPass {
  /** pg_table_size of what was read, as the fingerprint counts it */
  readonly bytes: number;
  readonly ms: number;
}

interface Range {
  readonly db: string;
  readonly sql: string;
  readonly bytes: number;
}

// the fingerprint's session settings, and sequential scans only, as its row hashes need (no index-only scan answers
// count(*) from the visibility map)
const SETTINGS = [...SESSION_SETTINGS, 'enable_indexscan = off', 'enable_indexonlyscan = off', 'enable_bitmapscan = off'];

async function open(conn: Conn, database: string): Promise<pg.Client> {
  const c = new pg.Client({ ...conn, database, application_name: 'castle-bench-scan' });
  c.on('error', () => {});
  await c.connect();
  await c.query(SETTINGS.map((s) => `SET ${s}`).join('; '));
  return c;
}

/** Every logged, populated table and materialized view of `databases` read once with count(*), on `parallel` connections. */
export async function scanCluster(conn: Conn, databases: readonly string[], parallel: number): Promise<ScanPass> {
  const ranges: Range[] = [];
  for (const db of databases) {
    const c = await open(conn, db);
    try {
      const tidRanges = await tidRangeScans(c);
      const rels = await c.query(`
        SELECT n.nspname AS schema, c.relname AS table, pg_table_size(c.oid)::float8 AS bytes,
               (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 AS blocks
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 'u' AND c.relispopulated
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`);
      for (const r of rels.rows) {
        const m = { bytes: Number(r.bytes), blocks: Number(r.blocks) };
        const wheres = blockRanges(m, { parallel, splitBytes: DEFAULT_SPLIT_BYTES, tidRanges });
        for (const w of wheres)
          ranges.push({
            db,
            sql: `SELECT count(*) FROM ${qi(r.schema as string)}.${qi(r.table as string)}${w ? ` WHERE ${w}` : ''}`,
            bytes: m.bytes / wheres.length,
          });
      }
    } finally {
      await c.end();
    }
  }
  // biggest first, one shared queue, as the fingerprint schedules its jobs
  const queue = [...ranges].sort((a, b) => b.bytes - a.bytes);
  const t = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      const clients = new Map<string, pg.Client>();
      try {
        for (let r = queue.shift(); r; r = queue.shift()) {
          let c = clients.get(r.db);
          if (!c) clients.set(r.db, (c = await open(conn, r.db)));
          await c.query(r.sql);
        }
      } finally {
        await Promise.all([...clients.values()].map((c) => c.end()));
      }
    }),
  );
  return { bytes: ranges.reduce((s, r) => s + r.bytes, 0), ms: performance.now() - t };
}
