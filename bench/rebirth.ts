// `npm run bench -- rebirth --size 1GB`: one run, same data, four ways of killing and bringing back a cluster.
//   (a) a plain sequential shell script doing the bare steps (incremental backup, stop, delete, restore from S3, start, one query)
//   (b) Castle's rebirth with the proof off (gate without fingerprint -> wipe -> restore -> start -> one query)
//   (c) Castle's full rebirth (gate with fingerprint -> wipe -> restore -> start -> proof)
//   (d) the physical reference: copy of the stopped data dir + fsync
// Everything runs on loopback in a temp dir; every process started here is stopped by pid at the end.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startS3Server, stopS3Server } from '../src/s3/server.js';
import {
  dataCastle, createCluster, backupGate, wipeCastle, restoreCastle, startCastle, proveCastle, type DataCastle,
} from '../src/data/rebirth.js';
import { exec, isRoot, type Log } from '../src/data/proc.js';
import { sql, stopPostgres, startPostgres } from '../src/data/postgres.js';
import { runBackup, restoreCommand, serverEnv } from '../src/data/pgbackrest.js';

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(MB|GB|M|G)$/i.exec(s.trim());
  if (!m) throw new Error(`--size: expected e.g. 10MB, 100MB, 1GB (got '${s}')`);
  return Number(m[1]) * (m[2]!.toUpperCase().startsWith('G') ? 1e9 : 1e6);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface RunFigures {
  name: string;
  totalMs: number;
  phases: [string, number][];
  restoreMs: number;
  restoredBytes: number;
  note?: string;
}

function must<T extends { ok: boolean }>(what: string, r: T): Extract<T, { ok: true }> {
  if (!r.ok) throw new Error(`${what}: ${(r as unknown as { reason: string }).reason}`);
  return r as Extract<T, { ok: true }>;
}

async function dbBytes(dc: DataCastle): Promise<number> {
  const r = must('size', await sql(dc.cluster, `SELECT sum(pg_database_size(datname))::float8 AS b FROM pg_database WHERE datallowconn`));
  return Number(r.rows[0]!.b);
}

/** untimed: flush dirty pages of the previous step so each run starts from the same state */
async function settle(dc: DataCastle): Promise<void> {
  must('checkpoint', await sql(dc.cluster, 'CHECKPOINT'));
  // the archiver has pushed what the previous run left (timeline history, partial segment)
  for (let i = 0; i < 300; i++) {
    const r = must('archive status', await sql(dc.cluster, `SELECT count(*)::int AS n FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'`));
    if (r.rows[0]!.n === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  execFileSync('sync');
}

async function oneQuery(dc: DataCastle): Promise<void> {
  must('query', await sql(dc.cluster, 'SELECT count(*) FROM pgbench_accounts'));
}

export async function benchRebirth(argv: string[]): Promise<void> {
  const i = argv.indexOf('--size');
  const sizeArg = i >= 0 ? (argv[i + 1] ?? '10MB') : '10MB';
  const size = parseSize(sizeArg);
  const keep = argv.includes('--keep');
  const ri = argv.indexOf('--runs');
  const rounds = Math.max(1, ri >= 0 ? Number(argv[ri + 1] ?? 1) : 1);
  const verbose = argv.includes('--verbose');
  const log: Log = verbose ? (t) => console.error(`  ${t}`) : () => {};
  const say = (t: string) => console.log(t);

  const base = mkdtempSync(join(tmpdir(), 'castle-bench-'));
  chmodSync(base, 0o755);
  const s3dir = join(base, 's3');
  const root = join(base, 'castle');
  let dc: DataCastle | undefined;
  try {
    say(`rebirth bench: seed ${sizeArg}, work dir ${base}`);
    const s3 = must('S3 endpoint', await startS3Server({ dir: s3dir, port: await freePort(), bucket: 'pgbackrest', log, ownerPid: process.pid }));
    const spec = {
      root,
      port: await freePort(),
      stanza: 'bench',
      processMax: 2,
      compressType: 'lz4' as const,
      repo1: {
        host: 'localhost', port: s3.port, bucket: 'pgbackrest', region: 'us-east-1', path: '/bench',
        accessKeyId: s3.target.accessKeyId, secretAccessKey: s3.target.secretAccessKey, caPem: s3.target.caPem!,
      },
    };
    dc = must('castle', dataCastle(spec)).castle;
    const c = dc.cluster;
    must('create cluster', await createCluster(dc, { log }));

    // seed: pgbench tables, server-side generation (scale 1 ~ 15 MB)
    const scale = Math.max(1, Math.round(size / 15e6));
    let t = Date.now();
    const pgb = await exec(join(c.binDir, 'pgbench'), ['-h', c.socketDir, '-p', String(c.port), '-U', c.superuser, '-i', '-I', 'dtGvp', '-s', String(scale), '-q', 'postgres'], { asUser: c.osUser, log, cwd: c.root });
    if (pgb.code !== 0) throw new Error(`pgbench -i failed: ${pgb.stderr.slice(-500)}`);
    const seedBytes = await dbBytes(dc);
    const seedMs = Date.now() - t;
    t = Date.now();
    must('full backup', await runBackup(dc.pgbr, { type: 'full', log }));
    say(`seeded pgbench scale ${scale}: ${(seedBytes / 1e6).toFixed(0)} MB in ${(seedMs / 1000).toFixed(1)} s; full backup to S3 in ${((Date.now() - t) / 1000).toFixed(1)} s (setup, not timed)`);

    const dcc: DataCastle = dc;
    const all: RunFigures[] = [];
    for (let round = 0; round < rounds; round++) {

      // (a) plain shell script
      const runA = async (): Promise<void> => {
        await settle(dcc);
          const u = c.osUser && isRoot() ? `runuser -u ${c.osUser} --` : '';
          const br = `${u} pgbackrest --config=${dcc.pgbr.confPath} --stanza=${dcc.pgbr.stanza}`;
          const script = `#!/usr/bin/env bash
    set -euo pipefail
    ms() { echo $(( $(date +%s%N) / 1000000 )); }
    t=$(ms); ${br} backup --type=incr --repo=1 >/dev/null; n=$(ms); echo "PHASE backup $((n-t))"; t=$n
    ${u} ${c.binDir}/pg_ctl -D ${c.dataDir} -m fast -w stop >/dev/null; n=$(ms); echo "PHASE stop $((n-t))"; t=$n
    rm -rf ${c.dataDir} ${c.socketDir}/* ${c.logDir}/*; n=$(ms); echo "PHASE delete $((n-t))"; t=$n
    ${u} mkdir -m 700 ${c.dataDir}
    ${br} restore --repo=1 "--recovery-option=restore_command=${restoreCommand(dcc.pgbr)}" >/dev/null; n=$(ms); echo "PHASE restore $((n-t))"; t=$n
    ${u} ${c.binDir}/pg_ctl -D ${c.dataDir} -l ${c.logFile} -w start >/dev/null; n=$(ms); echo "PHASE start $((n-t))"; t=$n
    ${c.binDir}/psql -h ${c.socketDir} -p ${c.port} -U ${c.superuser} -d postgres -Atc 'SELECT count(*) FROM pgbench_accounts' >/dev/null; n=$(ms); echo "PHASE query $((n-t))"
    `;
          const file = join(base, 'baseline.sh');
          writeFileSync(file, script, { mode: 0o755 });
          const t0 = Date.now();
          const r = await exec('bash', [file], { log, cwd: base });
          const totalMs = Date.now() - t0;
          if (r.code !== 0) throw new Error(`baseline script failed: ${r.stderr.slice(-800)}`);
          const phases = [...r.stdout.matchAll(/^PHASE (\S+) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])] as [string, number]);
          // the script's start returns at consistency; wait for promotion before the next run (not timed)
          must('promotion after (a)', await startPostgres(c, { env: serverEnv(dcc.pgbr) }));
          all.push({ name: '(a) shell script', totalMs, phases, restoreMs: phases.find((p) => p[0] === 'restore')?.[1] ?? 0, restoredBytes: seedBytes });
      };

      // (b) and (c): Castle's rebirth through the library (the engine will drive the same calls)
      const runCastle = async (proof: boolean): Promise<void> => {
        await settle(dcc);
        const phases: [string, number][] = [];
        const t0 = Date.now();
        let tt = Date.now();
        const lap = (name: string) => {
          phases.push([name, Date.now() - tt]);
          tt = Date.now();
        };
        const g = must('gate', await backupGate(dcc, { fingerprint: proof, log }));
        lap('gate');
        must('wipe', await wipeCastle(dcc, { gate: g.gate, log }));
        lap('wipe');
        const r = must('restore', await restoreCastle(dcc, { gate: g.gate, log }));
        lap('restore');
        must('start', await startCastle(dcc, { log }));
        lap('start');
        let note = `restored from repo${r.repo}`;
        if (proof) {
          const p = must('proof', await proveCastle(dcc, g.gate, { log }));
          lap('proof');
          note += `; fingerprint gate ${g.gate.fingerprint!.mbPerSec.toFixed(0)} MB/s, proof ${p.fingerprint!.mbPerSec.toFixed(0)} MB/s (${(g.gate.fingerprint!.tableBytes / 1e6).toFixed(0)} MB of tables)`;
        } else {
          await oneQuery(dcc);
          lap('query');
        }
        const totalMs = Date.now() - t0;
        all.push({
          name: proof ? '(c) castle, full rebirth' : '(b) castle, proof off',
          totalMs,
          phases,
          restoreMs: phases.find((p) => p[0] === 'restore')![1],
          restoredBytes: g.gate.backup.size,
          note: `${note}; gate: ${Object.entries(g.gate.timings).map(([k, v]) => `${k} ${v}`).join(', ')} ms`,
        });
      };
      // rotate the order each round so no way always runs right after another
      const order: (() => Promise<void>)[] = [runA, () => runCastle(false), () => runCastle(true)];
      for (let k = 0; k < order.length; k++) await order[(k + round) % order.length]!();

    }
    // best (shortest) of the rounds for each way
    const runs: RunFigures[] = [];
    for (const name of [...new Set(all.map((r) => r.name))]) runs.push(all.filter((r) => r.name === name).sort((x, y) => x.totalMs - y.totalMs)[0]!);
    if (rounds > 1) say(`${rounds} rounds; totals (s): ${[...new Set(all.map((r) => r.name))].map((n) => `${n.slice(0, 3)} ${all.filter((r) => r.name === n).map((r) => (r.totalMs / 1000).toFixed(2)).join('/')}`).join(', ')}; best of each below`);

    // (d) physical reference: stopped data dir copied + fsync
    {
      await settle(dc);
      must('stop', await stopPostgres(c));
      const copy = join(base, 'pgdata-copy');
      const t0 = Date.now();
      execFileSync('cp', ['-a', c.dataDir, copy]);
      execFileSync('sync', ['-f', copy]);
      const totalMs = Date.now() - t0;
      const du = Number(execFileSync('du', ['-sb', copy], { encoding: 'utf8' }).split('\t')[0]);
      rmSync(copy, { recursive: true, force: true });
      must('start', await startPostgres(c, { env: serverEnv(dc.pgbr) }));
      runs.push({ name: '(d) physical copy + fsync', totalMs, phases: [['copy+fsync', totalMs]], restoreMs: totalMs, restoredBytes: du });
    }

    // report
    const secs = (ms: number) => (ms / 1000).toFixed(2);
    say('');
    say(`${'run'.padEnd(28)}${'total s'.padStart(9)}${'restore MB/s'.padStart(14)}  phases (s)`);
    for (const r of runs) {
      const mbs = r.restoredBytes / 1e6 / Math.max(r.restoreMs / 1000, 0.001);
      say(`${r.name.padEnd(28)}${secs(r.totalMs).padStart(9)}${mbs.toFixed(0).padStart(14)}  ${r.phases.map(([n, ms]) => `${n} ${secs(ms)}`).join(', ')}`);
      if (r.note) say(`${''.padEnd(28)}  ${r.note}`);
    }
    const a = runs[0]!.totalMs;
    const b = runs[1]!.totalMs;
    const cc = runs[2]!.totalMs;
    say('');
    say(`seed: ${(seedBytes / 1e6).toFixed(0)} MB (pgbench scale ${scale})`);
    say(`(b)/(a) = ${(b / a).toFixed(3)} (target <= 1.05)   (c)/(a) = ${(cc / a).toFixed(3)}   (a)/(d) = ${(a / runs[3]!.totalMs).toFixed(1)}`);
    const restoreMbs = runs[1]!.restoredBytes / 1e6 / (runs[1]!.restoreMs / 1000);
    say(`restore from the local S3 endpoint (b): ${restoreMbs.toFixed(0)} MB/s (target >= 150)`);
  } finally {
    if (dc) await stopPostgres(dc.cluster).catch(() => undefined);
    await stopS3Server(s3dir).catch(() => undefined);
    if (!keep) rmSync(base, { recursive: true, force: true });
    else say(`kept ${base}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchRebirth(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`bench rebirth failed: ${(err as Error).message}`);
    process.exit(1);
  });
}


