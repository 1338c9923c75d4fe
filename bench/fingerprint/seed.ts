// The bench's PostgreSQL: a cluster of its own under a temp (or kept) directory, seeded with pgbench data, a table of
// wide text/jsonb rows stored out of line (TOAST), a table without a key, and a second database.
import { chmodSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, type Log } from '../../src/os/exec.js';
import { isRoot } from '../../src/os/passwd.js';
import { initCluster, pgCluster, sql, startPostgres, type PgCluster } from '../../src/data/postgres.js';
import type { Result } from '../../src/core/result.js';
import { freePort } from '../../test/helpers/ports.js';

function must<T>(what: string, r: Result<T>): T {
  if (!r.ok) throw new Error(`${what}: ${r.reason}`);
  return r.value;
}

export interface Seeded {
  readonly cluster: PgCluster;
  readonly dir: string;
  /** seconds spent seeding (0 when a kept cluster was reused) */
  readonly seedSeconds: number;
}

/** pgbench scale for a size of table data: scale 1 is about 13.4 MB of pgbench_accounts (pg_table_size). */
export const scaleFor = (bytes: number): number => Math.max(1, Math.round(bytes / 13.4e6));

export const DATABASES = ['pgbench', 'wide', 'keyless', 'other'] as const;

/**
 * A running cluster with the bench data: `dir` reused when it holds one already (--keep DIR), else created and seeded.
 * One database per kind of data, so a pass can be timed on each: pgbench -s `scale` in `pgbench`; `wide` (TOASTed text and
 * jsonb, 60% of `extraBytes`) in `wide`; `events` (no key, 40%) in `keyless`; `other` with two small tables.
 */
export async function seededCluster(o: { dir?: string; scale: number; extraBytes: number; log: Log }): Promise<Seeded> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'castle-bench-fp-'));
  mkdirSync(dir, { recursive: true });
  // the cluster's unprivileged OS user must reach the data root below
  chmodSync(dir, 0o711);
  const root = join(dir, 'pg');
  const cluster = must('cluster', pgCluster({ root, port: await freePort() }));
  const fresh = !existsSync(join(cluster.dataDir, 'PG_VERSION'));
  if (fresh)
    must('initdb', await initCluster(cluster, { noSync: true, log: o.log, settings: { shared_buffers: "'256MB'", fsync: 'off', max_wal_size: "'4GB'" } }));
  else must('config', await (await import('../../src/data/postgres.js')).writeCastleConf(cluster));
  must('start', await startPostgres(cluster, { log: o.log }));
  if (!fresh) return { cluster, dir, seedSeconds: 0 };
  const t = Date.now();
  for (const db of DATABASES) must('create', await sql(cluster, `CREATE DATABASE ${db}`));
  const pgb = await exec(
    join(cluster.binDir, 'pgbench'),
    ['-h', cluster.socketDir, '-p', String(cluster.port), '-U', cluster.superuser, '-i', '-I', 'dtGvp', '-s', String(o.scale), '-q', 'pgbench'],
    { asUser: cluster.osUser && isRoot() ? cluster.osUser : null, log: o.log, cwd: root },
  );
  if (pgb.code !== 0) throw new Error(`pgbench -i failed: ${pgb.stderr.slice(-500)}`);
  // wide rows: ~6 KB of text (half random hex, so pglz keeps it large and out of line) and a jsonb document of 40 keys
  const wideRows = Math.max(100, Math.round((o.extraBytes * 0.6) / 6500));
  must(
    'wide',
    await sql(
      cluster,
      `CREATE TABLE wide(id bigint PRIMARY KEY, title text NOT NULL, body text, doc jsonb, tags text[]);
       INSERT INTO wide
       SELECT g, 'title ' || g,
              (SELECT string_agg(md5((g * 97 + k)::text) || repeat(chr(65 + (g + k) % 26), 32), ' ') FROM generate_series(1, 96) k),
              (SELECT jsonb_object_agg('key' || k, CASE WHEN k % 3 = 0 THEN to_jsonb(g * k) WHEN k % 3 = 1 THEN to_jsonb(md5((g + k)::text)) ELSE jsonb_build_array(k, g, 'x') END)
                 FROM generate_series(1, 40) k),
              ARRAY['t' || (g % 17), 't' || (g % 5)]
         FROM generate_series(1, ${wideRows}) g;`,
      [],
      'wide',
    ),
  );
  // no key: duplicates included (a multiset, compared without regard to order)
  const eventRows = Math.max(100, Math.round((o.extraBytes * 0.4) / 120));
  must(
    'events',
    await sql(
      cluster,
      `CREATE TABLE events(at timestamptz, kind text, payload jsonb, n int);
       INSERT INTO events SELECT '2026-01-01'::timestamptz + (g % 100000) * interval '1 second', 'kind ' || (g % 13),
              jsonb_build_object('g', g % 50000, 'v', md5((g % 50000)::text)), g % 7
         FROM generate_series(1, ${eventRows}) g;`,
      [],
      'keyless',
    ),
  );
  must(
    'other',
    await sql(
      cluster,
      `CREATE TABLE notes(id int PRIMARY KEY, v text); INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 5000) g;
       CREATE TABLE tags(v text); INSERT INTO tags SELECT 'tag ' || (g % 100) FROM generate_series(1, 5000) g;`,
      [],
      'other',
    ),
  );
  for (const db of DATABASES) must('analyze', await sql(cluster, 'VACUUM ANALYZE', [], db));
  return { cluster, dir, seedSeconds: (Date.now() - t) / 1000 };
}
