// The fault matrix's common parts: a local castle with rows counted before each fault, kill points found
// in the run's own events.jsonl (no test hooks in src/), and the row each fault adds to docs/faults.md.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { EventEnvelope } from '../../src/events.js';
import { liveProcesses } from '../../src/os/processes.js';
import { startS3Server, stopS3Server } from '../../src/s3/server.js';
import { alive, castleAsync, type CliResult } from '../helpers/cli.js';
import { localCastle, type LocalCastle } from '../helpers/local-castle.js';

export interface FaultRow {
  readonly fault: string;
  /** what Castle printed about it, short */
  readonly printed: string;
  readonly dataLost: string;
  readonly manual: string;
  readonly recoverMs: number;
}

/** Rows go to CASTLE_FAULTS_OUT (a JSON-lines file the runner turns into docs/faults.md); printed too. */
export function record(row: FaultRow): void {
  const out = process.env['CASTLE_FAULTS_OUT'];
  if (out) appendFileSync(out, JSON.stringify(row) + '\n');
  process.stdout.write(`# fault row: ${JSON.stringify(row)}\n`);
}

export interface FaultCastle extends LocalCastle {
  /** rows written through pgBouncer before the faults, all of which must survive */
  written: number;
  write(n: number): Promise<void>;
  count(): Promise<number>;
  run(args: readonly string[]): Promise<CliResult & { ms: number }>;
  lastEvents(): EventEnvelope[];
  /** restarts the S3 endpoint with its own directory and port (the outage ends; not an operator's step) */
  s3Back(): Promise<void>;
  s3Down(): Promise<void>;
}

/** A connected client of the castle's blog database, through pgBouncer as the app connects. */
export async function blogClient(c: LocalCastle): Promise<pg.Client> {
  const cl = new pg.Client({
    host: '127.0.0.1',
    port: c.ports.pgbouncer,
    database: 'blog',
    user: 'blog',
    password: c.secret('BLOG_DB_PGUSER_BLOG_PASSWORD'),
  });
  await cl.connect();
  return cl;
}

export async function faultCastle(edit?: (yaml: string) => string, beforeUp?: (c: LocalCastle) => void): Promise<FaultCastle> {
  const c = await localCastle(edit);
  beforeUp?.(c);
  const up = c.castle(['up']);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  const client = (): Promise<pg.Client> => blogClient(c);
  const fc: FaultCastle = Object.assign(c, {
    written: 0,
    async write(n: number) {
      const cl = await client();
      try {
        await cl.query('CREATE TABLE IF NOT EXISTS fault_rows (id serial PRIMARY KEY, body text NOT NULL)');
        await cl.query('INSERT INTO fault_rows (body) SELECT md5(g::text) FROM generate_series(1, $1::int) g', [n]);
        fc.written += n;
      } finally {
        await cl.end();
      }
    },
    async count() {
      const cl = await client();
      try {
        return (await cl.query('SELECT count(*)::int AS n FROM fault_rows')).rows[0].n as number;
      } finally {
        await cl.end();
      }
    },
    async run(args: readonly string[]) {
      const t = Date.now();
      const r = await castleAsync(c.dir, args).done;
      return { ...r, ms: Date.now() - t };
    },
    lastEvents: () => runEvents(c.dir),
    async s3Back() {
      const port = c.ports.s3;
      const r = await startS3Server({ dir: c.s3Dir, port, bucket: 'castle-backups' });
      assert.ok(r.ok, r.ok ? '' : r.reason);
    },
    async s3Down() {
      const r = await stopS3Server(c.s3Dir);
      assert.ok(r.ok, r.ok ? '' : r.reason);
    },
  });
  return fc;
}

export function runEvents(dir: string, runId?: string): EventEnvelope[] {
  const runs = join(dir, '.castle', 'runs');
  const id = runId ?? (existsSync(runs) ? readdirSync(runs).sort().pop() : undefined);
  if (!id) return [];
  const f = join(runs, id, 'events.jsonl');
  if (!existsSync(f)) return [];
  const out: EventEnvelope[] = [];
  for (const l of readFileSync(f, 'utf8').split('\n')) {
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as EventEnvelope);
    } catch {
      // the last line may be half written while the run goes on
    }
  }
  return out;
}

/** Processes whose command line holds `needle` (a castle's dataDir or object-store dir). */
export function processesWith(needle: string): number[] {
  return liveProcesses()
    .filter(({ argv }) => argv.some((a) => a.includes(needle)))
    .map(({ pid }) => pid);
}

/** The example's PostgreSQL cluster in this castle: its pgdata, pgBackRest's config and repo2 are below. */
export const clusterRoot = (c: LocalCastle): string => join(c.dataDir, 'postgres', 'blog-db');

/**
 * SIGKILLs `pids`, then every process whose command line holds one of `needles`, again and again until none is
 * left; returns how many it killed and what still ran after `timeoutMs` (pid and command line). One listing is not
 * a power cut: a process forked after it (pgBackRest starts its workers) is not in it, and a killed process in the
 * middle of a disk write is listed until the write ends. `pids` are signalled once, so that a pid the system gives
 * again to a stranger is never signalled.
 */
export async function powerCut(pids: readonly number[], needles: readonly string[], timeoutMs = 30_000): Promise<{ killed: number; survivors: string[] }> {
  const killed = new Set<number>();
  const listed = () => [...new Set(needles.flatMap((n) => processesWith(n)))];
  const deadline = Date.now() + timeoutMs;
  let left = [...pids, ...listed()];
  while (left.length > 0 && Date.now() < deadline) {
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    left = listed();
  }
  const described = (pid: number) => {
    try {
      return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
    } catch {
      return `${pid} (gone)`;
    }
  };
  return { killed: killed.size, survivors: left.map(described) };
}

export interface Started {
  readonly pid: number;
  readonly done: Promise<CliResult>;
  kill(): Promise<CliResult>;
  /** SIGSTOP: the run keeps its lock and does nothing until resume() (a second run's refusal then cannot race its end) */
  pause(): void;
  /** SIGCONT */
  resume(): void;
}

/** Starts `castle ARGS` and waits until `when` holds for the events of the run it started. */
export async function startUntil(
  c: FaultCastle,
  args: readonly string[],
  when: (evs: EventEnvelope[]) => boolean,
  extra: () => boolean = () => true,
  timeoutMs = 180_000,
): Promise<Started> {
  const before = new Set(existsSync(join(c.dir, '.castle', 'runs')) ? readdirSync(join(c.dir, '.castle', 'runs')) : []);
  const { child, done } = castleAsync(c.dir, args);
  let finished = false;
  void done.then(() => (finished = true));
  const t0 = Date.now();
  for (;;) {
    const runs = existsSync(join(c.dir, '.castle', 'runs')) ? readdirSync(join(c.dir, '.castle', 'runs')).filter((r) => !before.has(r)) : [];
    const evs = runs.length ? runEvents(c.dir, runs.sort().pop()) : [];
    if (evs.length && when(evs) && extra()) break;
    if (finished) {
      const r = await done;
      assert.fail(`the run ended (exit ${r.code}) before the kill point\n${r.stdout.slice(-3000)}\n${r.stderr}`);
    }
    assert.ok(Date.now() - t0 < timeoutMs, 'the kill point never came');
    await new Promise((r) => setTimeout(r, 15));
  }
  return {
    pid: child.pid!,
    done,
    async kill() {
      child.kill('SIGKILL');
      return done;
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
  };
}

export const started = (step: string) => (evs: EventEnvelope[]) => evs.some((e) => e.type === 'step-started' && e.stepId === step);
export const finished = (step: string) => (evs: EventEnvelope[]) => evs.some((e) => e.type === 'step-finished' && e.stepId === step);
export const noted = (step: string, text: string) => (evs: EventEnvelope[]) =>
  evs.some((e) => e.type === 'step-note' && e.stepId === step && e.message.includes(text));

/** A pgbackrest process of this castle doing `command` (backup, restore, archive-push...). */
export const pgbackrestDoing = (c: LocalCastle, command: string) => () => pgbackrestPids(c, command).length > 0;

/** The pids of this castle's pgbackrest processes doing `command` (the main process: its workers say `command:local`). */
export function pgbackrestPids(c: LocalCastle, command: string): number[] {
  return liveProcesses()
    .filter(({ argv }) => argv[0]?.endsWith('pgbackrest') === true && argv.includes(command) && argv.some((a) => a.includes(c.dataDir)))
    .map(({ pid }) => pid);
}

/** Whether `pid` holds a file lock (/proc/locks): pgBackRest locks its stanza with one. */
export function holdsLock(pid: number): boolean {
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((l) => l.trim().split(/\s+/)[4] === String(pid));
}

/**
 * Freezes process group `pgid` (SIGSTOP) once its leader holds a file lock: it keeps the lock, doing nothing, until
 * it is continued or killed. Between tries the group runs 5 ms, so that it gets to the lock.
 */
export async function freezeHoldingLock(pgid: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch (err) {
      assert.fail(`process group ${pgid} ended before it was frozen with its lock (${(err as Error).message})`);
    }
  };
  for (;;) {
    signal('SIGSTOP');
    if (holdsLock(pgid)) return;
    assert.ok(Date.now() < end, `process ${pgid} never held a lock`);
    signal('SIGCONT');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Asserts that the backup gate refused run `failed` (exit 1, its check failed with a detail matching `detail`) and
 * that nothing was wiped; returns the refusal.
 */
export function gateRefused(c: FaultCastle, failed: CliResult, detail: RegExp): string {
  assert.equal(failed.code, 1, failed.stdout);
  const gate = checks(c.lastEvents()).get('backup gate');
  assert.equal(gate?.ok, false, `the gate's check: ${JSON.stringify(gate)}`);
  assert.match(gate.detail, detail);
  assert.ok(existsSync(join(clusterRoot(c), 'pgdata', 'PG_VERSION')), 'nothing wiped');
  return gate.detail;
}

/** The checks of a run by name. */
export function checks(evs: readonly EventEnvelope[]): Map<string, { ok: boolean; detail: string }> {
  const out = new Map<string, { ok: boolean; detail: string }>();
  for (const e of evs) if (e.type === 'check') out.set(e.name, { ok: e.ok, detail: e.detail });
  return out;
}

/** The recovering run succeeded, its proof passed, and every row written before the faults is there. */
export async function assertRecovered(c: FaultCastle, r: CliResult): Promise<string> {
  assert.equal(r.code, 0, `recovery failed:\n${r.stdout.slice(-4000)}\n${r.stderr}`);
  const ch = checks(c.lastEvents());
  const proof = ch.get('data identical');
  assert.equal(proof?.ok, true, `proof: ${proof?.detail ?? 'not run'}`);
  const n = await c.count();
  assert.equal(n, c.written, `rows: ${n} of ${c.written}`);
  return `none (proof passed; ${n}/${c.written} rows)`;
}

/** The last lines Castle printed that say what went wrong, short. */
export function said(r: CliResult): string {
  const lines = (r.stdout + '\n' + r.stderr).split('\n').map((l) => l.replace(/^\S+Z /, '').trim());
  const pick = lines.filter(
    (l) => /^run \S+ (failed|interrupted)|castle: |failed|refused|locked by|lock taken over/i.test(l) && !/^(phase|total|critical|! )/.test(l),
  );
  const text = [...new Set(pick.length ? pick.slice(-2) : lines.filter(Boolean).slice(-1))].join(' / ');
  return text.length > 240 ? text.slice(0, 237) + '...' : text;
}

/** What a resumed run said: the dead run's lock taken over, the steps it skipped, how it ended. */
export function resumed(c: FaultCastle, r: CliResult): string {
  const evs = c.lastEvents();
  const took = evs.find((e) => e.type === 'lock-taken-over');
  const skipped = evs.filter((e) => e.type === 'step-finished' && e.status === 'skipped' && /succeeded in run/.test(e.reason ?? '')).length;
  const fin = evs.find((e) => e.type === 'run-finished');
  const end = fin?.type === 'run-finished' ? fin.status : `exit ${r.code}`;
  return `${took?.type === 'lock-taken-over' ? `lock taken over (${took.reason}); ` : ''}${skipped} steps done by the killed run skipped; ${end}, proof passed`;
}

export function sh(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
