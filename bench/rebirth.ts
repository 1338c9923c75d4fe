// `npm run bench -- rebirth --size 1GB`: one castle (a copy of examples/local on loopback), one seed, four ways of
// killing the blog's database and bringing it back, measured in the same run on the same data:
//   (a) a plain sequential shell script doing the bare steps on the castle's own pgBackRest config
//       (incremental backup, stop, delete, restore from S3, start, one query)
//   (b) Castle's rebirth with the proof off: `castle rebirth --no-proof` (library: loadCastle + buildPlan + runCastle)
//   (c) Castle's full rebirth: `castle rebirth`
//   (d) the physical reference: copy of the stopped data dir + fsync
// Also, once: (b)/(c) through the built CLI (`node dist/src/cli/main.js rebirth --json`), and (b0), the proof-off
// rebirth of the same castle with `fingerprint: false` on its gate step (a control: --no-proof already takes no fingerprint).
// Options: --size 10MB|100MB|456MB|1GB or a list (100MB,456MB,1GB: one castle each, then a table per size: median
// ratio, fingerprint MB/s at the gate and in the proof, restore MB/s, physical copy + fsync), --runs N (order rotated), --no-cli (skip the CLI runs),
// --no-b0 (skip b0), --only a,b[,c,b0] (just these library variants), --keep (keep the temp dir), --verbose (child output on stderr),
// --trace DIR (after each run: the server log, pgBackRest's log files and the castle's run folder copied to DIR/<n>-<variant>, to
// read where a slow round spent its time).
// Everything runs in a temp dir; what it starts is stopped by its own commands and pid files, even on failure.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventEnvelope } from '../src/events.js';
import { runCastle } from '../src/engine/session.js';
import { stepLogFile } from '../src/engine/run-dir.js';
import { phaseTimings } from '../src/engine/timing.js';
import { buildPlan } from '../src/plan/plan.js';
import { loadCastle } from '../src/spec/load.js';
import { defaultRegistry } from '../src/targets/registry.js';
import type { Result } from '../src/core/result.js';
import { exec, type Log } from '../src/os/exec.js';
import { isRoot } from '../src/os/passwd.js';
import { pgCluster, sql, startPostgres, stopPostgres, type PgCluster } from '../src/data/postgres.js';
import type { GateRecord } from '../src/data/rebirth.js';
import { benchCastle, type BenchCastle } from './rebirth/local.js';

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(MB|GB|M|G)$/i.exec(s.trim());
  if (!m) throw new Error(`--size: expected e.g. 10MB, 100MB, 1GB (got '${s}')`);
  return Number(m[1]) * (m[2]!.toUpperCase().startsWith('G') ? 1e9 : 1e6);
}

type Phase = [string, number];

interface RunFigures {
  key: string;
  name: string;
  totalMs: number;
  phases: Phase[];
  restoreMs: number;
  restoredBytes: number;
  /** second line: restore source, gate breakdown, fingerprints */
  note?: string;
  fpGateMbs?: number;
  fpProofMbs?: number;
  /** the gate's own breakdown (probe, backup, confirm, backupRepo2, fingerprint, flushAfter) */
  gate?: Readonly<Record<string, number>>;
}

function must<T>(what: string, r: Result<T>): T {
  if (!r.ok) throw new Error(`${what}: ${r.reason}`);
  return r.value;
}

const secs = (ms: number): string => (ms / 1000).toFixed(2);
const mb = (b: number): string => (b / 1e6).toFixed(0);

/** one line of the closing table: what the issue asks of each size */
interface SizeSummary {
  size: string;
  dbMb: number;
  rounds: number;
  aMedianMs: number;
  bMedianMs: number;
  bestRatio: number;
  fpGate: number[];
  fpProof: number[];
  restoreA: number[];
  restoreCastle: number[];
  floorMbs: number;
}

const medianNum = (xs: number[]): number => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

export async function benchRebirth(argv: string[]): Promise<void> {
  const i = argv.indexOf('--size');
  const sizes = (i >= 0 ? (argv[i + 1] ?? '10MB') : '10MB').split(',').filter(Boolean);
  for (const s of sizes) parseSize(s);
  const out: SizeSummary[] = [];
  for (const s of sizes) {
    out.push(await benchSize(s, argv));
    if (sizes.length > 1) console.log('');
  }
  const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
  console.log('');
  console.log('per size (medians over the rounds; MB/s of table data for the fingerprint, of backup size for restores):');
  console.log(
    `  ${'size'.padEnd(7)}${'DB MB'.padStart(7)}${'rounds'.padStart(7)}${'(a) s'.padStart(8)}${'(b) s'.padStart(8)}${'(b)/(a)'.padStart(9)}${'best-of'.padStart(9)}` +
      `${'fp gate'.padStart(9)}${'fp proof'.padStart(10)}${'restore (a)'.padStart(13)}${'restore castle'.padStart(16)}${'copy+fsync'.padStart(12)}`,
  );
  for (const r of out)
    console.log(
      `  ${r.size.padEnd(7)}${f0(r.dbMb).padStart(7)}${String(r.rounds).padStart(7)}${secs(r.aMedianMs).padStart(8)}${secs(r.bMedianMs).padStart(8)}` +
        `${(r.bMedianMs / r.aMedianMs).toFixed(3).padStart(9)}${r.bestRatio.toFixed(3).padStart(9)}${f0(medianNum(r.fpGate)).padStart(9)}${f0(medianNum(r.fpProof)).padStart(10)}` +
        `${f0(medianNum(r.restoreA)).padStart(13)}${f0(medianNum(r.restoreCastle)).padStart(16)}${f0(r.floorMbs).padStart(12)}`,
    );
  console.log('  targets: (b)/(a) <= 1.05 on medians; fingerprint >= 1000 MB/s (floor 600) at 1 GB; restore from the local S3 endpoint >= 300 MB/s at 1 GB');
}

async function benchSize(sizeArg: string, argv: string[]): Promise<SizeSummary> {
  const size = parseSize(sizeArg);
  let summary: SizeSummary | undefined;
  const keep = argv.includes('--keep');
  const ri = argv.indexOf('--runs');
  const rounds = Math.max(1, ri >= 0 ? Number(argv[ri + 1] ?? 1) : 1);
  const withCli = !argv.includes('--no-cli');
  const withB0 = !argv.includes('--no-b0');
  const verbose = argv.includes('--verbose');
  const oi = argv.indexOf('--only');
  const only = oi >= 0 ? (argv[oi + 1] ?? '').split(',').filter(Boolean) : undefined;
  const ti = argv.indexOf('--trace');
  const traceDir = ti >= 0 ? argv[ti + 1] : undefined;
  if (ti >= 0 && !traceDir) throw new Error('--trace: expected a directory');
  const log: Log = verbose ? (t) => console.error(`  ${t.trimEnd()}`) : () => {};
  const say = (t: string) => console.log(t);

  let bc: BenchCastle | undefined;
  let c: PgCluster | undefined;
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    // stop the running castle steps, then everything this bench started; a second signal kills outright
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    console.error(`bench rebirth: ${sig}, cleaning up`);
    ac.abort(sig);
    void (bc?.destroy(keep) ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    bc = await benchCastle();
    const castle = bc;
    say(
      `rebirth bench: seed ${sizeArg}, castle examples/local copied to ${bc.dir} (S3 :${bc.ports.s3}, postgres :${bc.ports.postgres}, blog :${bc.ports.blog})`,
    );

    // ---- setup (not timed): castle up, seed the blog database, full backups so every gate is incremental
    let t = Date.now();
    const up = await bc.cli(['up']);
    if (up.code !== 0) throw new Error(`castle up failed (${up.code}):\n${up.stdout.slice(-2000)}${up.stderr.slice(-2000)}`);
    const upMs = Date.now() - t;
    const pgVersion = Number(readFileSync(join(bc.pgRoot, 'pgdata', 'PG_VERSION'), 'utf8').trim());
    c = must('cluster', pgCluster({ root: bc.pgRoot, port: bc.ports.postgres, pgVersion }));
    const cl = c;
    const confPath = join(bc.pgRoot, 'pgbackrest', 'pgbackrest.conf');
    const stanza = 'db';
    const asUser = cl.osUser && isRoot() ? cl.osUser : null;
    const pgbr = async (args: string[]): Promise<string> => {
      const r = await exec('pgbackrest', [`--config=${confPath}`, `--stanza=${stanza}`, ...args], { asUser, log, quietStdout: true });
      if (r.code !== 0) throw new Error(`pgbackrest ${args.join(' ')} failed: ${r.stderr.slice(-800)}${r.stdout.slice(-800)}`);
      return r.stdout;
    };
    const scale = Math.max(1, Math.round(size / 15e6)); // pgbench scale 1 ~ 15 MB
    t = Date.now();
    const pgb = await exec(
      join(cl.binDir, 'pgbench'),
      ['-h', cl.socketDir, '-p', String(cl.port), '-U', cl.superuser, '-i', '-I', 'dtGvp', '-s', String(scale), '-q', 'blog'],
      {
        asUser,
        log,
        cwd: bc.pgRoot,
      },
    );
    if (pgb.code !== 0) throw new Error(`pgbench -i failed: ${pgb.stderr.slice(-500)}`);
    const seedMs = Date.now() - t;
    const dbBytes = async (): Promise<number> =>
      Number(must('size', await sql(cl, `SELECT sum(pg_database_size(datname))::float8 AS b FROM pg_database WHERE datallowconn`))[0]!.b);
    const seedBytes = await dbBytes();
    t = Date.now();
    await pgbr(['backup', '--type=full', '--repo=1']);
    await pgbr(['backup', '--type=full', '--repo=2']);
    const backupMs = Date.now() - t;
    const full = (
      JSON.parse(await pgbr(['info', '--output=json', '--repo=1'])) as { backup: { info: { size: number; repository: { size: number } } }[] }[]
    )[0]?.backup.at(-1);
    const conf = readFileSync(confPath, 'utf8');
    const opt = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(conf)?.[1] ?? 'default';
    const stored = full
      ? `${mb(full.info.repository.size)} MB stored in S3 for ${mb(full.info.size)} MB of data ` +
        `(compress-type ${opt('compress-type')} level ${opt('compress-level')}, repo1-bundle ${opt('repo1-bundle')} size ${opt('repo1-bundle-size')}, process-max ${opt('process-max')}, restore process-max ${/\[global:restore\]\s*\nprocess-max=(\d+)/.exec(conf)?.[1] ?? 'same'})`
      : '';
    say(
      `setup (not timed): castle up ${secs(upMs)} s; pgbench -i -s ${scale} into blog: ${mb(seedBytes)} MB of databases in ${secs(seedMs)} s; ` +
        `full backups to S3 (repo1) and repo2 in ${secs(backupMs)} s: ${stored}`,
    );

    /** untimed, before each run: flush dirty pages and the archiver's backlog so each run starts from the same state */
    const settle = async (): Promise<void> => {
      must('checkpoint', await sql(cl, 'CHECKPOINT'));
      for (let k = 0; k < 300; k++) {
        const r = must('archive status', await sql(cl, `SELECT count(*)::int AS n FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'`));
        if (r[0]!.n === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      execFileSync('sync');
    };
    /** untimed, after each run: the blog answers through pgBouncer with a post from the database */
    const blogServes = async (after: string): Promise<void> => {
      const title = String(must('blog title', await sql(cl, 'select title from posts order by id desc limit 1', [], 'blog'))[0]?.title ?? '');
      let last = '';
      for (let k = 0; k < 50; k++) {
        try {
          const res = await fetch(`http://127.0.0.1:${castle.ports.blog}/`, { signal: AbortSignal.timeout(5000) });
          const body = await res.text();
          if (res.ok && (body.includes(title) || body.includes(title.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')))) return;
          last = `HTTP ${res.status}, '${title}' not in the page`;
        } catch (err) {
          last = (err as Error).message;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      throw new Error(`after ${after}, the blog does not serve the data: ${last}`);
    };
    await blogServes('castle up');

    const all: RunFigures[] = [];
    let lastRunDir = '';
    /** copies what tells where a run spent its time (the data root's logs are deleted by the next wipe) */
    const trace = (dir: string, name: string): void => {
      const to = join(dir, name);
      mkdirSync(to, { recursive: true });
      const copy = (from: string, as: string): void => {
        if (existsSync(from)) cpSync(from, join(to, as), { recursive: true });
      };
      copy(cl.logFile, 'postgresql.log');
      copy(join(castle.pgRoot, 'pgbackrest', 'log'), 'pgbackrest-log');
      if (lastRunDir) copy(lastRunDir, 'run');
      lastRunDir = '';
    };
    const gateFile = join(bc.dir, '.castle', 'local', 'gates', 'blog-db.json');

    /** figures of one castle rebirth from its events and run folder */
    const castleFigures = (key: string, name: string, events: readonly EventEnvelope[], runDir: string, wallMs: number): RunFigures => {
      const fin = events.find((e) => e.type === 'run-finished');
      if (!fin || fin.type !== 'run-finished') throw new Error(`${name}: no run-finished event`);
      if (fin.status !== 'succeeded') {
        const bad = events
          .filter((e) => e.type === 'step-finished' && e.status !== 'succeeded')
          .map((e) => (e.type === 'step-finished' ? `${e.stepId}: ${e.reason ?? e.status}` : ''));
        throw new Error(`${name}: rebirth ${fin.status}${fin.reason ? `: ${fin.reason}` : ''}\n  ${bad.join('\n  ')}\n  run folder: ${runDir}`);
      }
      const phases = (fin.phases.length ? fin.phases : phaseTimings(events)).map((p): Phase => [p.phase, p.durationMs]);
      // up/database = restore (pgbackrest restore) + start (WAL replay, promotion, users)
      const dbLog = existsSync(stepLogFile(runDir, 'up/database/0')) ? readFileSync(stepLogFile(runDir, 'up/database/0'), 'utf8') : '';
      const m = /restored (\S+) from repo(\d) \(([^)]*)\) in (\d+) ms/.exec(dbLog);
      const restoreMs = m ? Number(m[4]) : NaN;
      const out: Phase[] = [];
      for (const [p, ms] of phases) {
        if (p === 'up/database' && m) out.push(['restore', restoreMs], ['up/db-start', ms - restoreMs]);
        else out.push([p, ms]);
      }
      const sum = phases.reduce((s, [, ms]) => s + ms, 0);
      out.push(['engine', Math.max(0, wallMs - sum)]);
      const gate = (JSON.parse(readFileSync(gateFile, 'utf8')) as { gate?: GateRecord }).gate;
      if (!gate) throw new Error(`${name}: the gate record holds no backup`);
      const proofMs = phases.find(([p]) => p === 'proof')?.[1];
      const fpGateMbs = gate.fingerprint?.mbPerSec;
      // the proof's own fingerprint figure, from its check; else its table MB over the whole step (a lower bound)
      const proofCheck = events.find((e) => e.type === 'check' && e.stepId.startsWith('proof') && e.name === 'data identical');
      const pm = proofCheck?.type === 'check' ? /fingerprint (\d+(?:\.\d+)?) MB\/s/.exec(proofCheck.detail) : null;
      const fpProofMbs = pm ? Number(pm[1]) : gate.fingerprint && proofMs ? gate.fingerprint.tableBytes / 1e6 / (proofMs / 1000) : undefined;
      const gt = Object.entries(gate.timings)
        .map(([k, v]) => `${k} ${secs(v)}`)
        .join(', ');
      let note = m ? `restored ${m[1]} from repo${m[2]} (${m[3]}); ` : 'restore not found in the step log; ';
      note += `gate: ${gt}; ${gate.backup.type} backup to S3 ${(gate.backup.repoSizeDelta / 1e3).toFixed(0)} kB stored`;
      if (fpGateMbs !== undefined) note += `; fingerprint ${mb(gate.fingerprint!.tableBytes)} MB of tables: gate ${fpGateMbs.toFixed(0)} MB/s`;
      if (fpProofMbs !== undefined) note += pm ? `, proof ${fpProofMbs.toFixed(0)} MB/s` : `, proof step >= ${fpProofMbs.toFixed(0)} MB/s`;
      const gateLog = existsSync(stepLogFile(runDir, 'gate/0')) ? readFileSync(stepLogFile(runDir, 'gate/0'), 'utf8') : '';
      const repo2Full = /no prior backup exists, incr backup has been changed to full/.test(gateLog);
      const sc = /stanza-create command end: completed successfully \((\d+)ms\)/.exec(dbLog);
      const beside = /stanza-create command begin[^\n]*--no-online/.test(dbLog);
      if (sc) note += `; up/db-start includes the repo2 stanza-create (${secs(Number(sc[1]))} s${beside ? ', beside the WAL replay' : ''})`;
      if (repo2Full) note += '; the repo2 backup of the gate ran as a FULL backup (the previous wipe deleted repo2)';
      note += `; engine = wall - phases (lock, run folder, plan, events)`;
      return {
        key,
        name,
        totalMs: wallMs,
        phases: out,
        restoreMs,
        restoredBytes: gate.backup.size,
        note,
        gate: { ...gate.timings, ...(sc && !beside ? { stanzaCreate: Number(sc[1]) } : {}) },
        ...(fpGateMbs !== undefined ? { fpGateMbs } : {}),
        ...(fpProofMbs !== undefined ? { fpProofMbs } : {}),
      };
    };

    // (b), (b0) and (c) through the library, as the CLI does it minus process start and preflight
    const runLib = async (key: string, name: string, file: string, noProof: boolean): Promise<RunFigures> => {
      await settle();
      const t0 = performance.now();
      const loaded = await loadCastle(file, defaultRegistry());
      if (!loaded.ok) throw new Error(`${name}: ${file} does not load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
      const planned = buildPlan(loaded.value, { operation: 'rebirth', noProof });
      if (!planned.ok) throw new Error(`${name}: no plan: ${planned.diagnostics.map((d) => d.message).join('; ')}`);
      const outcome = await runCastle({ plan: planned.value, sinks: [], signal: ac.signal });
      const wallMs = performance.now() - t0;
      if (outcome.state !== 'finished') throw new Error(`${name}: the castle is locked by ${outcome.holder.runId}`);
      const f = castleFigures(key, name, outcome.events, outcome.runDir, wallMs);
      lastRunDir = outcome.runDir;
      await blogServes(name);
      return f;
    };

    // the same through the built CLI (process start, preflight, JSON events on stdout)
    const runCli = async (key: string, name: string, noProof: boolean): Promise<RunFigures> => {
      await settle();
      const r = await castle.cli(['rebirth', '--json', ...(noProof ? ['--no-proof'] : [])]);
      const started = r.events.find((e) => e.type === 'run-started');
      if (r.code !== 0 || !started) throw new Error(`${name}: castle rebirth exited ${r.code}: ${r.stderr.slice(-1500)}`);
      const runDir = join(castle.dir, '.castle', 'runs', started.runId);
      const f = castleFigures(key, name, r.events, runDir, r.wallMs);
      f.phases = f.phases.map(([p, ms]): Phase => (p === 'engine' ? ['cli+engine', ms] : [p, ms]));
      f.note = f.note!.replace(
        'engine = wall - phases (lock, run folder, plan, events)',
        'cli+engine = wall - phases (node start, load, preflight, lock, events)',
      );
      await blogServes(name);
      return f;
    };

    // (a) the bare script on the same castle's data and pgBackRest config
    const u = asUser ? `runuser -u ${asUser} --` : '';
    const br = `${u} pgbackrest --config=${confPath} --stanza=${stanza}`;
    const restoreCmd = `pgbackrest --config=${confPath} --stanza=${stanza} archive-get %f "%p"`;
    const repo2 = join(bc.pgRoot, 'pgbackrest', 'repo2');
    const script = `#!/usr/bin/env bash
set -euo pipefail
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t=$(ms); ${br} backup --type=incr --repo=1 >/dev/null; n=$(ms); echo "PHASE backup $((n-t))"; t=$n
${u} ${cl.binDir}/pg_ctl -D ${cl.dataDir} -m fast -w stop >/dev/null; n=$(ms); echo "PHASE stop $((n-t))"; t=$n
rm -rf ${cl.dataDir} ${repo2}; n=$(ms); echo "PHASE delete $((n-t))"; t=$n
${u} mkdir -m 700 ${cl.dataDir}
${br} restore --repo=1 '--recovery-option=restore_command=${restoreCmd}' >/dev/null; n=$(ms); echo "PHASE restore $((n-t))"; t=$n
${u} env PGBACKREST_CONFIG=${confPath} ${cl.binDir}/pg_ctl -D ${cl.dataDir} -l ${cl.logFile} -w start >/dev/null; n=$(ms); echo "PHASE start $((n-t))"; t=$n
${cl.binDir}/psql -h ${cl.socketDir} -p ${cl.port} -U ${cl.superuser} -d blog -Atc 'SELECT count(*) FROM pgbench_accounts' >/dev/null; n=$(ms); echo "PHASE query $((n-t))"
`;
    const scriptFile = join(bc.base, 'baseline.sh');
    writeFileSync(scriptFile, script, { mode: 0o755 });
    const runA = async (): Promise<RunFigures> => {
      await settle();
      const t0 = performance.now();
      const r = await exec('bash', [scriptFile], { log, cwd: castle.base });
      const totalMs = performance.now() - t0;
      if (r.code !== 0) throw new Error(`the baseline script failed: ${r.stderr.slice(-800)}`);
      const phases = [...r.stdout.matchAll(/^PHASE (\S+) (\d+)$/gm)].map((m): Phase => [m[1]!, Number(m[2])]);
      // not timed: pg_ctl -w returns at consistency; the castle needs the promoted server and its repo2 stanza back
      const tp = performance.now();
      must('promotion after (a)', await startPostgres(cl, { env: { PGBACKREST_CONFIG: confPath } }));
      const promoteMs = performance.now() - tp;
      await pgbr(['stanza-create']);
      must('wake the archiver', await sql(cl, `SELECT pg_logical_emit_message(false, 'castle', 'wake'), pg_switch_wal()`));
      const info = JSON.parse(await pgbr(['info', '--output=json', '--repo=1'])) as { backup: { label: string; info: { size: number } }[] }[];
      const last = info[0]?.backup.at(-1);
      await blogServes('(a)');
      return {
        key: 'a',
        name: '(a) shell script',
        totalMs,
        phases,
        restoreMs: phases.find((p) => p[0] === 'restore')?.[1] ?? NaN,
        restoredBytes: last?.info.size ?? seedBytes,
        note: `incr ${last?.label ?? '?'}; promotion came ${secs(promoteMs)} s after pg_ctl -w returned (not timed; the castle waits for it)`,
      };
    };

    const variants: { key: string; run: () => Promise<RunFigures> }[] = [
      { key: 'a', run: runA },
      { key: 'b', run: () => runLib('b', '(b) castle --no-proof', castle.file, true) },
      { key: 'c', run: () => runLib('c', '(c) castle full rebirth', castle.file, false) },
    ];
    if (withB0) variants.push({ key: 'b0', run: () => runLib('b0', '(b0) --no-proof, gate fp off', castle.fileNoGateFp, true) });
    if (only) {
      const unknown = only.filter((k) => !variants.some((v) => v.key === k));
      if (unknown.length || !only.includes('a') || !only.includes('b'))
        throw new Error(`--only: a list of a, b, c, b0 that holds a and b (got ${only.join(',')})`);
      variants.splice(0, variants.length, ...variants.filter((v) => only.includes(v.key)));
    }
    for (let round = 0; round < rounds; round++) {
      // rotate the order each round so no variant always runs right after another
      const order: string[] = [];
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(k + round) % variants.length]!;
        order.push(v.key);
        all.push(await v.run());
        if (traceDir) trace(traceDir, `${sizeArg}-${round + 1}-${v.key}`);
      }
      if (rounds > 1) say(`round ${round + 1}: ${order.join(' ')}: ${order.map((k) => secs(all.filter((r) => r.key === k).at(-1)!.totalMs)).join(' / ')} s`);
    }
    const best = (key: string): RunFigures => all.filter((r) => r.key === key).sort((x, y) => x.totalMs - y.totalMs)[0]!;
    const runs: RunFigures[] = variants.map((v) => best(v.key));
    if (rounds > 1)
      say(
        `${rounds} rounds; totals (s): ${variants
          .map(
            (v) =>
              `${v.key} ${all
                .filter((r) => r.key === v.key)
                .map((r) => secs(r.totalMs))
                .join('/')}`,
          )
          .join(', ')}; best of each below`,
      );
    const medianOf = (key: string): number => {
      const xs = all
        .filter((r) => r.key === key)
        .map((r) => r.totalMs)
        .sort((x, y) => x - y);
      return xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
    };
    // best-of pairs each variant with its luckiest round; the medians show the typical pair as well
    const medianLine =
      rounds > 1
        ? `   medians over ${rounds} rounds: (a) ${secs(medianOf('a'))} s, (b) ${secs(medianOf('b'))} s, (b)/(a) = ${(medianOf('b') / medianOf('a')).toFixed(3)}`
        : '';

    if (withCli) {
      runs.push(await runCli('b-cli', '(b) via CLI, once', true));
      runs.push(await runCli('c-cli', '(c) via CLI, once', false));
    }

    // (d) physical reference: the stopped data dir copied + fsync
    {
      await settle();
      must('stop', await stopPostgres(cl));
      const copy = join(bc.base, 'pgdata-copy');
      const t0 = performance.now();
      execFileSync('cp', ['-a', cl.dataDir, copy]);
      execFileSync('sync', ['-f', copy]);
      const totalMs = performance.now() - t0;
      const du = Number(execFileSync('du', ['-sb', copy], { encoding: 'utf8' }).split('\t')[0]);
      rmSync(copy, { recursive: true, force: true });
      must('start', await startPostgres(cl, { env: { PGBACKREST_CONFIG: confPath } }));
      runs.push({ key: 'd', name: '(d) physical copy + fsync', totalMs, phases: [['copy+fsync', totalMs]], restoreMs: totalMs, restoredBytes: du });
    }

    // ---- report
    say('');
    say(`${'run'.padEnd(31)}${'total s'.padStart(8)}${'restore MB/s'.padStart(13)}  phases (s)`);
    for (const r of runs) {
      const mbs = r.restoredBytes / 1e6 / Math.max(r.restoreMs / 1000, 0.001);
      say(
        `${r.name.padEnd(31)}${secs(r.totalMs).padStart(8)}${(Number.isFinite(mbs) ? mbs.toFixed(0) : '?').padStart(13)}  ${r.phases.map(([n, ms]) => `${n} ${secs(ms)}`).join(', ')}`,
      );
      if (r.note) say(`${''.padEnd(33)}${r.note}`);
    }
    const get = (k: string) => runs.find((r) => r.key === k);
    const a = get('a')!;
    const b = get('b')!;
    const cc = get('c');
    const d = get('d')!;
    const b0 = get('b0');
    say('');
    say(`seed: ${mb(seedBytes)} MB of databases (pgbench scale ${scale} in blog); restored data ${mb(b.restoredBytes)} MB (backup size)`);
    say(
      `(b)/(a) = ${(b.totalMs / a.totalMs).toFixed(3)} (target <= 1.05)${cc ? `   (c)/(a) = ${(cc.totalMs / a.totalMs).toFixed(3)}` : ''}   (a)/(d) = ${(a.totalMs / d.totalMs).toFixed(1)}` +
        (b0 ? `   (b0)/(a) = ${(b0.totalMs / a.totalMs).toFixed(3)}` : '') +
        medianLine,
    );
    const range = (xs: number[]): string => {
      const v = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
      return v.length ? `${v[0]!.toFixed(0)}..${v.at(-1)!.toFixed(0)} (median ${v[Math.floor(v.length / 2)]!.toFixed(0)})` : '?';
    };
    const castleRuns = [...all, ...runs.filter((r) => r.key.endsWith('-cli'))];
    say(
      `fingerprint of table data, every castle run: gate ${range(castleRuns.map((r) => r.fpGateMbs ?? NaN))} MB/s; ` +
        `proof ${range(castleRuns.map((r) => r.fpProofMbs ?? NaN))} MB/s (target >= 1000, floor 600 at 1 GB)`,
    );
    const rate = (r: RunFigures) => r.restoredBytes / 1e6 / (r.restoreMs / 1000);
    say(
      `restore from the local S3 endpoint, every run: (a) ${range(all.filter((r) => r.key === 'a').map(rate))} MB/s, castle ${range(castleRuns.map(rate))} MB/s (target >= 300 at 1 GB); ` +
        `physical copy + fsync (d) ${rate(d).toFixed(0)} MB/s`,
    );
    // where the time goes: (b) against (a), phase for phase
    const ph = (r: RunFigures, ...names: string[]) => r.phases.filter(([n]) => names.includes(n)).reduce((s, [, ms]) => s + ms, 0);
    const g = (r: RunFigures, ...names: string[]) => names.reduce((s, n) => s + (r.gate?.[n] ?? 0), 0);
    const rows: [string, number, number][] = [
      ['incr backup to S3 (gate: probe+backup+confirm)', ph(a, 'backup'), g(b, 'probe', 'backup', 'confirm')],
      ['repo2 backup in the gate', 0, g(b, 'backupRepo2')],
      ['gate fingerprint (none with --no-proof)', 0, g(b, 'fingerprint')],
      ['gate WAL flush + rest', 0, ph(b, 'gate') - g(b, 'probe', 'backup', 'confirm', 'backupRepo2', 'fingerprint')],
      ['stop+delete / down/*', ph(a, 'stop', 'delete'), ph(b, 'down/app', 'down/pooler', 'down/database')],
      ['restore', ph(a, 'restore'), ph(b, 'restore')],
      ['repo2 stanza-create after the start (when not beside it)', 0, g(b, 'stanzaCreate')],
      ['start+query / rest of up/db-start (replay, promotion, users)', ph(a, 'start', 'query'), ph(b, 'up/db-start') - g(b, 'stanzaCreate')],
      ['object-store + pooler + app up', 0, ph(b, 'up/object-store', 'up/pooler', 'up/app')],
      ['engine', 0, ph(b, 'engine')],
    ];
    say('');
    say(`where (b) spends its time against (a) (best runs), s:`);
    say(`  ${'part'.padEnd(54)}${'(a)'.padStart(7)}${'(b)'.padStart(7)}${'b-a'.padStart(8)}`);
    for (const [n, x, y] of rows) say(`  ${n.padEnd(54)}${secs(x).padStart(7)}${secs(y).padStart(7)}${((y - x >= 0 ? '+' : '') + secs(y - x)).padStart(8)}`);
    say(`  ${'total'.padEnd(54)}${secs(a.totalMs).padStart(7)}${secs(b.totalMs).padStart(7)}${('+' + secs(b.totalMs - a.totalMs)).padStart(8)}`);
    const noRepo2 = b.totalMs - g(b, 'backupRepo2') - g(b, 'fingerprint');
    say(`  (b) without the repo2 backup and the gate fingerprint would be ${secs(noRepo2)} s: ${(noRepo2 / a.totalMs).toFixed(3)} x (a)`);
    summary = {
      size: sizeArg,
      dbMb: seedBytes / 1e6,
      rounds,
      aMedianMs: medianOf('a'),
      bMedianMs: medianOf('b'),
      bestRatio: b.totalMs / a.totalMs,
      fpGate: castleRuns.map((r) => r.fpGateMbs ?? NaN),
      fpProof: castleRuns.map((r) => r.fpProofMbs ?? NaN),
      restoreA: all.filter((r) => r.key === 'a').map(rate),
      restoreCastle: castleRuns.map(rate),
      floorMbs: rate(d),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (bc) {
      await bc.destroy(keep);
      if (keep) say(`kept ${bc.base}`);
    }
  }
  if (!summary) throw new Error(`bench rebirth ${sizeArg}: no figures`);
  return summary;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchRebirth(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`bench rebirth failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
