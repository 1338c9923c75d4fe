// The data layer's part of a rebirth, as the step kinds use it: gate -> wipe -> restore -> start -> proof.
// Each function returns a Result (src/core/result.ts); nothing is wiped unless a gate succeeded.

import { compareWithGate, fingerprintBeside } from './gate-core.js';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rm, statfs } from 'node:fs/promises';
import pg from 'pg';
import { basename, dirname, join } from 'node:path';
import { fail, ok, type Result } from '../core/result.js';
import { describeFailure, exec, noLog, type OpOptions, type Redact } from '../os/exec.js';
import { pidCmdline } from '../os/pid.js';
import { liveProcesses } from '../os/processes.js';
import { sleep } from '../os/sleep.js';
import { stopProcess } from '../os/stop.js';
import {
  connConfig,
  initCluster,
  MARKER,
  pgCluster,
  prepareRoot,
  postmasterPid,
  runningSystemId,
  sql,
  startPostgres,
  stopPostgres,
  writeCastleConf,
  type PgCluster,
  type PgClusterSpec,
} from './postgres.js';
import {
  archiveCommand,
  archiveGetCache,
  archivingFailure,
  confirmBackup,
  flushWal,
  pgbackrestFor,
  expireBackups,
  restoreCluster,
  runBackup,
  serverEnv,
  stanzaCreate,
  writePgbackrestConf,
  repo1HasBackupInfo,
  repo2BackupInfoFile,
  repoBackupInfo,
  type Pgbackrest,
  type PgbackrestSpec,
  type RepoBucket,
} from './pgbackrest.js';
import { fingerprintCluster, fingerprintSummary, type Fingerprint, type FingerprintDiff } from './fingerprint.js';
import type { BackupInfo, RepoBackup } from './backup-info.js';
import { watchS3 } from './s3-watch.js';

export interface DataCastleSpec extends PgClusterSpec, PgbackrestSpec {}

export interface DataCastle {
  readonly cluster: PgCluster;
  readonly pgbr: Pgbackrest;
}

/** Resolves a castle's data layer (paths, binaries, repos). No I/O besides finding installed majors. */
export function dataCastle(spec: DataCastleSpec, bucket: RepoBucket, redact?: Redact): Result<DataCastle> {
  const c = pgCluster(spec);
  if (!c.ok) return c;
  return ok({ cluster: c.value, pgbr: pgbackrestFor(c.value, spec, bucket, redact) });
}

/** First creation: initdb, archiving to the repos, start, stanza-create (refuses a stanza of another system). */
export async function createCluster(
  dc: DataCastle,
  o: OpOptions & { noSync?: boolean; settings?: Record<string, string> } = {},
): Promise<Result<{ pid: number; systemId: string }>> {
  const conf = await writePgbackrestConf(dc.pgbr);
  if (!conf.ok) return conf;
  const init = await initCluster(dc.cluster, { ...o, archiveCommand: archiveCommand(dc.pgbr) });
  if (!init.ok) return init;
  const st = await startPostgres(dc.cluster, { ...o, env: serverEnv(dc.pgbr) });
  if (!st.ok) return st;
  const sc = await stanzaCreate(dc.pgbr, o);
  if (!sc.ok) {
    await stopPostgres(dc.cluster, o);
    return sc;
  }
  const sys = await runningSystemId(dc.cluster);
  if (!sys.ok) return sys;
  return ok({ pid: st.value.pid, systemId: sys.value });
}

/**
 * `castle up` for the data layer, idempotent: a running cluster is left alone, a stopped one is started, a missing
 * one is restored from the repo when the repo holds backups of this stanza (zero-touch), else created with initdb.
 */
export async function ensureCluster(
  dc: DataCastle,
  o: OpOptions & { noSync?: boolean } = {},
): Promise<Result<{ action: 'running' | 'started' | 'restored' | 'created'; pid: number; systemId: string }>> {
  const c = dc.cluster;
  let action: 'running' | 'started' | 'restored' | 'created';
  if (existsSync(join(c.dataDir, 'PG_VERSION'))) {
    const conf = await writePgbackrestConf(dc.pgbr);
    if (!conf.ok) return conf;
    action = postmasterPid(c) ? 'running' : 'started';
    if (action === 'started') {
      const wc = await writeCastleConf(c, { archiveCommand: archiveCommand(dc.pgbr) });
      if (!wc.ok) return wc;
    }
    const st = await startCastle(dc, o);
    if (!st.ok) return st;
    const sc = await stanzaCreate(dc.pgbr, o);
    if (!sc.ok) return sc;
  } else {
    // no backup.info: a new stanza; one that cannot be read: nothing is created (it could fork the stanza)
    const has = await repo1HasBackupInfo(dc.pgbr, o.signal);
    if (!has.ok) return fail(`cannot tell whether the S3 repo holds backups: ${has.reason}`);
    const info = has.value ? await repoBackupInfo(dc.pgbr, 1, o) : undefined;
    if (info && !info.ok) return fail(`cannot tell whether the S3 repo holds backups: ${info.reason}`);
    if (info?.ok && info.value.backups.some((b) => b.dbId === info.value.current.dbId)) {
      const r = await restoreCastle(dc, o);
      if (!r.ok) return r;
      const st = await startCastle(dc, o);
      if (!st.ok) return st;
      action = 'restored';
    } else {
      const cr = await createCluster(dc, o);
      if (!cr.ok) return cr;
      action = 'created';
    }
  }
  const pid = postmasterPid(c);
  const sys = await runningSystemId(c);
  if (!pid || !sys.ok) return fail(`the cluster is not answering after ${action}: ${sys.ok ? 'no postmaster' : sys.reason}`);
  return ok({ action, pid, systemId: sys.value });
}

// ---------------------------------------------------------------------------------------------
// 1. backup gate

function must1(r: Result<Record<string, unknown>[]>): Date | null {
  return r.ok && r.value[0]?.now instanceof Date ? (r.value[0].now as Date) : null;
}

export interface GateRecord {
  readonly at: string;
  readonly systemId: string;
  readonly stanza: string;
  readonly backup: {
    readonly label: string;
    readonly type: string;
    readonly size: number;
    readonly repoSize: number;
    readonly repoSizeDelta: number;
    readonly startTime: string;
    readonly stopTime: string;
  };
  /** label of the backup also taken to repo2, when asked */
  readonly repo2Backup: string | null;
  /** the last WAL segment known archived when the gate ended */
  readonly flushedSegment: string;
  readonly fingerprint: Fingerprint | null;
  readonly timings: Readonly<Record<string, number>>;
  /** the backup ran without pgBackRest's expire: whoever brings the cluster back applies the retention (expireBackups) */
  readonly expireDeferred?: boolean;
}

export interface GateOptions extends OpOptions {
  /** record the data fingerprint (default true; the bench turns it off for "proof off") */
  readonly fingerprint?: boolean;
  readonly type?: 'incr' | 'diff' | 'full';
  /** also back up to the local repo2 (when configured) */
  readonly alsoRepo2?: boolean;
  readonly flushTimeoutMs?: number;
  readonly fingerprintParallel?: number;
  /** false: take no new backup, rely on the last one in the S3 repo and the WAL archived since (default true) */
  readonly newBackup?: boolean;
  /** called after the backup is confirmed, before the fingerprint (quiesce apps; tests write rows here); the fingerprint then follows the backup */
  readonly beforeFingerprint?: () => Promise<void>;
  /**
   * fingerprint while pgBackRest copies (default true): both read the same quiesced database, and the WAL flush after
   * both still decides what the restore holds (a row written in between makes the proof fail, never pass)
   */
  readonly fingerprintBeside?: boolean;
  /**
   * no expire after the backup (pgBackRest runs one by default, 0.07-0.14 s at 100 MB): a rebirth applies the
   * retention while the restored cluster starts (startCastle `expire`), off the path between the gate and the wipe
   */
  readonly deferExpire?: boolean;
}

/**
 * Probe S3, back up (incr) to S3 while watching pg_stat_archiver (failing archiving aborts the backup at once), confirm
 * the backup through the S3 API (backup.info: label, size, time, system-id), fingerprint, then pg_switch_wal() and wait
 * until archived (rows written after the backup survive through WAL). Any failure: nothing may be wiped.
 */
export async function backupGate(dc: DataCastle, o: GateOptions = {}): Promise<Result<GateRecord>> {
  const log = o.log ?? noLog;
  const b = dc.pgbr;
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (k: string, since: number) => (timings[k] = Date.now() - since);
  const refuse = (why: string) => fail(`backup gate failed, nothing may be wiped: ${b.redact(why)}`);

  let t = Date.now();
  if (!postmasterPid(dc.cluster)) return refuse(`PostgreSQL is not running on ${dc.cluster.dataDir}: cannot flush WAL nor back up`);
  // the server clock too: archiving failures after it refuse the backup (read here, not on its own before the backup)
  const [probe, sys, conf, clock] = await Promise.all([
    b.bucket.probe(o.signal),
    runningSystemId(dc.cluster),
    writePgbackrestConf(b),
    sql(dc.cluster, 'SELECT now() AS now'),
  ]);
  if (!probe.ok) return refuse(probe.reason);
  if (!sys.ok) return refuse(sys.reason);
  if (!conf.ok) return refuse(conf.reason);
  mark('probe', t);
  const sysId = sys.value;

  const wantFp = o.fingerprint !== false;
  const fpOptions = { ...o, ...(o.fingerprintParallel ? { parallel: o.fingerprintParallel } : {}) };
  // beside the backup: started now, cancelled when the gate refuses
  const beside =
    wantFp && o.newBackup !== false && o.fingerprintBeside !== false && !o.beforeFingerprint
      ? fingerprintBeside(connConfig(dc.cluster), fpOptions, (ms) => (timings['fingerprintBeside'] = ms))
      : undefined;
  const fpBeside = beside?.result;
  const gated = await backupPart();
  if (!gated.ok) {
    await beside?.stop();
    return gated;
  }
  const { bkInfo, repo2Backup } = gated.value;

  if (o.beforeFingerprint) await o.beforeFingerprint();
  let fingerprint: Fingerprint | null = null;
  if (wantFp) {
    t = Date.now();
    const fp = await (fpBeside ?? fingerprintCluster(connConfig(dc.cluster), fpOptions));
    if (!fp.ok) return refuse(fp.reason);
    fingerprint = fp.value;
    log(`fingerprint${fpBeside ? ' (beside the backup)' : ''}: ${fingerprintSummary(fingerprint)}`);
    if (!fpBeside) mark('fingerprint', t);
  }

  // everything the fingerprint saw must be in archived WAL
  t = Date.now();
  const f2 = await flushWal(b, { ...o, ...(o.flushTimeoutMs !== undefined ? { timeoutMs: o.flushTimeoutMs } : {}) });
  if (!f2.ok) return refuse(f2.reason);
  mark('flushAfter', t);
  timings.total = Date.now() - t0;

  return ok({
    at: new Date(t0).toISOString(),
    systemId: sysId,
    stanza: b.stanza,
    backup: {
      label: bkInfo.label,
      type: bkInfo.type,
      size: bkInfo.size,
      repoSize: bkInfo.repoSize,
      repoSizeDelta: bkInfo.repoSizeDelta,
      startTime: bkInfo.startTime.toISOString(),
      stopTime: bkInfo.stopTime.toISOString(),
    },
    repo2Backup,
    flushedSegment: f2.value.segment,
    fingerprint,
    timings,
    // also without a new backup: a gate of the same run before it may have deferred the retention (the last gate is the one read)
    ...(o.deferExpire ? { expireDeferred: true } : {}),
  });

  /** the backup (or the last one, without a new backup), confirmed in the S3 repo */
  async function backupPart(): Promise<Result<{ bkInfo: RepoBackup; repo2Backup: string | null }>> {
    let bkInfo: RepoBackup;
    let repo2Backup: string | null = null;
    if (o.newBackup === false) {
      // No new backup: the last one in the S3 repo plus the WAL archived since (flushed now, which also
      // proves archiving works). Everything written after that backup comes back through WAL replay only.
      t = Date.now();
      const f0 = await flushWal(b, { ...o, ...(o.flushTimeoutMs !== undefined ? { timeoutMs: o.flushTimeoutMs } : {}) });
      if (!f0.ok) return refuse(f0.reason);
      const info = await repoBackupInfo(b, 1, o.signal ? { signal: o.signal } : {});
      if (!info.ok) return refuse(info.reason);
      const last = info.value.backups[info.value.backups.length - 1];
      if (!last) return refuse('the S3 repo holds no backup yet: a gate without a new backup needs an earlier one');
      if (info.value.current.systemId !== sysId)
        return refuse(`the S3 repo's stanza '${b.stanza}' belongs to system ${info.value.current.systemId}, the running cluster is ${sysId}`);
      bkInfo = last;
      mark('lastBackup', t);
      log(`no new backup: relying on ${last.label} (${last.type}, stopped ${last.stopTime.toISOString()}) and the WAL archived since`);
    } else {
      // the backup, watched: failing WAL archiving aborts it at once (instead of pgBackRest's archive-timeout)
      t = Date.now();
      const since = must1(clock);
      if (!since) return refuse('cannot read the server clock');
      const watchAc = new AbortController();
      const onOuter = () => watchAc.abort();
      o.signal?.addEventListener('abort', onOuter, { once: true });
      let archFail: string | null = null;
      let backupDone = false;
      // the backup's end cuts the watcher's pause short: waiting out its 250 ms cost up to that much of every gate
      const backupEnded = new AbortController();
      const pause = AbortSignal.any([watchAc.signal, backupEnded.signal]);
      const watcher = (async () => {
        const client = new pg.Client(connConfig(dc.cluster));
        client.on('error', () => {});
        const connected = await client.connect().then(
          () => true,
          () => false,
        );
        try {
          while (!backupDone) {
            await sleep(250, pause);
            if (backupDone || watchAc.signal.aborted) return;
            const f = await archivingFailure(b, since, connected ? client : undefined);
            if (f) {
              archFail = f;
              watchAc.abort();
              return;
            }
          }
        } finally {
          await client.end().catch(() => {});
        }
      })();
      const s3Watch = watchS3((s) => b.bucket.probe(s), watchAc);
      // a fingerprint that fails beside the backup refuses the gate at once: the backup is stopped, not waited for
      let fpFail: string | null = null;
      void fpBeside?.then((r) => {
        // a cancelled run stops both; its reason is the cancel, not the fingerprint's
        if (r.ok || backupDone || o.signal?.aborted) return;
        fpFail = r.reason;
        watchAc.abort();
      });
      const bk = await runBackup(b, { ...o, signal: watchAc.signal, type: o.type ?? 'incr', repo: 1, ...(o.deferExpire ? { expire: false } : {}) });
      backupDone = true;
      backupEnded.abort();
      const s3Down = await s3Watch.stop();
      await watcher;
      o.signal?.removeEventListener('abort', onOuter);
      if (fpFail !== null && !bk.ok) {
        // the fingerprint is often the first to see the server go: say so before what it saw
        const gone = postmasterPid(dc.cluster) ? '' : `PostgreSQL stopped running on ${dc.cluster.dataDir} during the backup: `;
        return refuse(`${gone}${fpFail} (read beside the backup, which was stopped: pgBackRest resumes or removes it at the next backup)`);
      }
      if (s3Down) return refuse(`during the backup, ${s3Down}`);
      if (archFail) return refuse(archFail);
      if (!bk.ok) {
        const late = await archivingFailure(b, since);
        return refuse(late ?? bk.reason);
      }
      mark('backup', t);

      t = Date.now();
      const conf1 = await confirmBackup(b, bk.value.label, { ...(o.signal ? { signal: o.signal } : {}), repo: 1, notBefore: new Date(t0) });
      if (!conf1.ok) return refuse(conf1.reason);
      if (conf1.value.info.current.systemId !== sysId)
        return refuse(`the S3 repo's stanza '${b.stanza}' belongs to system ${conf1.value.info.current.systemId}, the running cluster is ${sysId}`);
      mark('confirm', t);
      bkInfo = conf1.value.backup;
      log(
        `backup ${bk.value.label} (${bkInfo.type}) confirmed in S3: ${(bkInfo.size / 1e6).toFixed(1)} MB database, ${(bkInfo.repoSizeDelta / 1e6).toFixed(1)} MB stored, stopped ${bkInfo.stopTime.toISOString()}`,
      );

      if (o.alsoRepo2 && b.repo2Path) {
        t = Date.now();
        const b2 = await runBackup(b, { ...o, type: o.type ?? 'incr', repo: 2 });
        if (!b2.ok) return refuse(b2.reason);
        repo2Backup = b2.value.label;
        mark('backupRepo2', t);
      }
    }
    return ok({ bkInfo, repo2Backup });
  }
}

// ---------------------------------------------------------------------------------------------
// 2. nuclear wipe

export interface WipeOptions extends OpOptions {
  /** the successful gate of this rebirth: without one (and without `force`) nothing is wiped */
  readonly gate: GateRecord | null;
  readonly force?: boolean;
  /**
   * A rebirth restores into the same path right after: the stopped root is renamed away at once (the path is
   * gone, as after a delete) and its files are deleted beside the restore; `deleted` settles when they are.
   * Taken only when the file system has room for the restore beside them, else the root is deleted first.
   */
  readonly deleteBeside?: boolean;
}

export interface Wiped {
  readonly stopped: number[];
  readonly removed: string;
  /** settles when the files are deleted: at once, or later when they were renamed away to be deleted beside a restore */
  readonly deleted: Promise<Result>;
}

/** Where a wipe renames a root whose files are deleted beside the restore (a sibling: the same file system). */
const trashPrefix = (root: string): string => `${basename(root)}.wiped-`;

/** Roots renamed away by earlier wipes whose deletion did not finish (the run was killed). */
function wipedBefore(root: string): string[] {
  const dir = dirname(root);
  try {
    return readdirSync(dir)
      .filter((n) => n.startsWith(trashPrefix(root)) && /^\d+-\d+$/.test(n.slice(trashPrefix(root).length)))
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/**
 * Deletes beside this process's work: `rm -rf` in a child process. Node's rm would queue thousands of unlinks on
 * libuv's 4 threads, and every file read of the next steps (secrets, configs) waited behind them (0.16-0.47 s seen).
 */
async function removeBeside(paths: string[]): Promise<Result> {
  if (!paths.length) return ok(undefined);
  const r = await exec('rm', ['-rf', '--one-file-system', '--', ...paths]);
  return r.code === 0 ? ok(undefined) : fail(`cannot delete ${paths.join(', ')}: ${describeFailure('rm', r)}`);
}

async function removeAll(paths: string[]): Promise<Result> {
  for (const p of paths) {
    try {
      await rm(p, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      return fail(`cannot delete ${p}: ${(err as Error).message}`);
    }
  }
  return ok(undefined);
}

/** Free bytes of the file system holding `path` (null when it cannot be read). */
async function freeBytes(path: string): Promise<number | null> {
  try {
    const s = await statfs(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/** Processes (other than us) whose command line mentions the castle root. */
export function castleProcesses(root: string): number[] {
  return liveProcesses()
    .filter(({ argv }) => argv.some((a) => a === root || a.startsWith(root + '/') || a.includes(`=${root}/`)))
    .map(({ pid }) => pid);
}

/** Stops every process of the castle's data layer and deletes its root (data, repo2, sockets, logs, run files). */
export async function wipeCastle(dc: DataCastle, o: WipeOptions): Promise<Result<Wiped>> {
  const c = dc.cluster;
  const log = o.log ?? noLog;
  if (!o.gate && !o.force) return fail('no successful backup gate for this rebirth: nothing was wiped');
  if (o.gate && !o.force) {
    const pid = postmasterPid(c);
    if (pid) {
      const sys = await runningSystemId(c);
      if (sys.ok && sys.value !== o.gate.systemId)
        return fail(`the running cluster is system ${sys.value}, the gate backed up ${o.gate.systemId}: nothing was wiped`);
    }
  }
  if (existsSync(c.root) && readdirSync(c.root).length > 0 && !existsSync(join(c.root, MARKER)))
    return fail(`${c.root} has no ${MARKER} marker: not a castle data root, nothing was wiped`);
  const stopped: number[] = [];
  const st = await stopPostgres(c, o);
  if (!st.ok) return fail(`cannot stop PostgreSQL: ${st.reason}; nothing was wiped`);
  if (st.value.pid) stopped.push(st.value.pid);
  // leftovers: archive-push, backups, anything started with a path in the castle
  const left = existsSync(c.root) ? castleProcesses(c.root) : [];
  // all at once: each gets SIGTERM now, SIGKILL after 3 s if it is still there
  const stops = await Promise.all(
    left.map((pid) => {
      log(`stopping castle process ${pid}: ${(pidCmdline(pid) ?? []).join(' ').slice(0, 200)}`);
      return stopProcess(pid, { name: `process ${pid} of the castle`, graceMs: 3000, killWaitMs: 2000 }).then((r) => ({ pid, r }));
    }),
  );
  for (const { pid, r } of stops) {
    if (!r.ok) return fail(`${r.reason}; ${c.root} not deleted`);
    stopped.push(pid);
  }
  const earlier = wipedBefore(c.root);
  if (o.deleteBeside && existsSync(c.root)) {
    // room for the whole backup beside the files still being deleted (plus 10% and 256 MB of margin)
    const free = await freeBytes(dirname(c.root));
    const need = (o.gate?.backup.size ?? Infinity) * 1.1 + 256e6;
    const trash = join(dirname(c.root), `${trashPrefix(c.root)}${Date.now()}-${process.pid}`);
    if (free !== null && free >= need) {
      try {
        renameSync(c.root, trash);
        log(`wiped ${c.root} (stopped ${stopped.length} processes); its files, renamed to ${trash}, are deleted beside the restore`);
        return ok({ stopped, removed: c.root, deleted: removeBeside([...earlier, trash]) });
      } catch (err) {
        log(`cannot rename ${c.root} away (${(err as Error).message}): deleting it first`);
      }
    } else log(`${free === null ? 'free space unknown' : `${(free / 1e6).toFixed(0)} MB free`}: deleting ${c.root} before the restore`);
  }
  const removed = await removeAll([...earlier, c.root]);
  if (!removed.ok) return removed;
  log(`wiped ${c.root} (stopped ${stopped.length} processes)`);
  return ok({ stopped, removed: c.root, deleted: Promise.resolve(ok(undefined)) });
}

// ---------------------------------------------------------------------------------------------
// 3. restore + start

/** Present while a restore runs: a data directory beside it is half restored, not a cluster to start. */
export const restoringMarker = (c: PgCluster): string => join(c.root, '.restoring');

/** A restore began here and did not finish (its process was killed, the power cut): restore again, never start it. */
export function restoreInterrupted(c: PgCluster): boolean {
  return existsSync(restoringMarker(c));
}

export async function restoreCastle(
  dc: DataCastle,
  o: OpOptions & { gate?: GateRecord | null; repo?: 1 | 2; repo1Info?: Promise<Result<BackupInfo>> } = {},
): Promise<Result<{ repo: 1 | 2; why: string; backup: string; durationMs: number }>> {
  const u = await prepareRoot(dc.cluster, o);
  if (!u.ok) return u;
  writeFileSync(restoringMarker(dc.cluster), `${new Date().toISOString()} pid ${process.pid}\n`);
  const r = await restoreCluster(dc.pgbr, { ...o, ...(o.gate ? { expectSystemId: o.gate.systemId } : {}), ...(o.repo ? { repo: o.repo } : {}) });
  if (r.ok) rmSync(restoringMarker(dc.cluster), { force: true });
  return r;
}

/** Starts the server (WAL replay to the end of the archive, promotion), then makes sure the stanza exists in every repo. */
export async function startCastle(
  dc: DataCastle,
  o: OpOptions & {
    timeoutMs?: number;
    /** what the caller does with the promoted server (users, grants), run beside the repo2 stanza and the archiver's wake */
    beside?: () => Promise<unknown>;
    /** apply the retention a rebirth's gate deferred (pgbackrest expire), beside the WAL replay */
    expire?: boolean;
  } = {},
): Promise<Result<{ pid: number; durationMs: number; expired?: Result }>> {
  const t = Date.now();
  const repo2Missing = !!dc.pgbr.repo2Path && !existsSync(repo2BackupInfoFile(dc.pgbr.repo2Path, dc.pgbr.stanza));
  // The wipe took the local repo2 with it. Its stanza is recreated from the restored pg_control while the
  // server replays WAL (the two took turns before: ~0.6 s of S3 round trips on the critical path).
  // (stanza-create locks the stanza; archive-get in the foreground, as configured here, takes no lock: with
  // archive-async on, the spooled archive-get would have to wait for it)
  const early = repo2Missing && !postmasterPid(dc.cluster) ? stanzaCreate(dc.pgbr, { ...o, online: false }) : undefined;
  // the retention while the server replays WAL and waits for archive-get (most of a start is waiting): after the early
  // stanza-create, as both take pgBackRest's stanza lock; nothing it deletes is WAL this recovery reads (all older
  // than the newest backup)
  const expired = o.expire ? (early ?? Promise.resolve(undefined)).then(() => expireBackups(dc.pgbr, { ...o, repo: 1 })) : undefined;
  const st = await startPostgres(dc.cluster, { ...o, env: serverEnv(dc.pgbr) });
  const first = early ? await early : undefined;
  if (!st.ok) {
    await expired;
    return st;
  }
  // promoted: restore_command is not run again, the files it kept are of no use
  rmSync(archiveGetCache(dc.pgbr), { recursive: true, force: true });
  const repo2 = async (): Promise<Result> => {
    if (!repo2Missing) return ok(undefined);
    // the early try can lose a race with the starting server over pg_control: then once more, online
    if (first && !first.ok) (o.log ?? noLog)(`stanza-create beside the starting server failed (${first.reason}); once more, online\n`);
    if (first && !first.ok) await expired;
    const sc = first?.ok ? first : await stanzaCreate(dc.pgbr, o);
    if (!sc.ok) return fail(`server started, but recreating the local repo2 stanza failed: ${sc.reason}`);
    // archive-push failed for repo2 until now: wake the archiver with a fresh segment instead of waiting its 60 s retry
    const wake = await sql(dc.cluster, `SELECT pg_logical_emit_message(false, 'castle', 'wake'), pg_switch_wal()`);
    return wake.ok ? ok(undefined) : fail(`server started, but waking the WAL archiver failed: ${wake.reason}`);
  };
  const [r2, , ex] = await Promise.all([repo2(), o.beside?.(), expired]);
  if (!r2.ok) return r2;
  return ok({ pid: st.value.pid, durationMs: Date.now() - t, ...(ex ? { expired: ex } : {}) });
}

// ---------------------------------------------------------------------------------------------
// 4. proof

export interface ProofResult {
  readonly systemId: string;
  readonly repoSystemId: string;
  readonly fingerprint: Fingerprint | null;
  readonly diffs: readonly FingerprintDiff[];
}

/** Compares system ids (cluster, gate, repo) and the fingerprint with the gate's. A mismatch fails loudly and writes evidence. */
export async function proveCastle(
  dc: DataCastle,
  gate: GateRecord,
  o: OpOptions & { evidenceDir?: string; fingerprintParallel?: number } = {},
): Promise<Result<ProofResult>> {
  const sys = await runningSystemId(dc.cluster);
  if (!sys.ok) return fail(`proof: cannot query the restored cluster: ${sys.reason}`);
  const repo = await repoBackupInfo(dc.pgbr, 1, o);
  const repoSystemId = repo.ok ? repo.value.current.systemId : '';
  const evidence = (extra: Record<string, unknown>) => {
    if (!o.evidenceDir) return '';
    mkdirSync(o.evidenceDir, { recursive: true });
    const f = join(o.evidenceDir, `proof-evidence-${Date.now()}.json`);
    writeFileSync(f, JSON.stringify({ gate, systemId: sys.value, repoSystemId, ...extra }, null, 2));
    return `; evidence: ${f}`;
  };
  const r = await compareWithGate(connConfig(dc.cluster), gate, sys.value, repo.ok ? repoSystemId : null, { ...o, evidence });
  if (!r.ok) return r;
  return ok({ systemId: sys.value, repoSystemId, fingerprint: r.value.fingerprint, diffs: r.value.diffs });
}
