// pgBackRest for a castle cluster: repo1 on S3 (immortal, outside the castle), optional repo2 on a
// posix directory inside the castle (gone after a wipe, faster when present).
// Layout: <root>/pgbackrest/{pgbackrest.conf (0600: holds the S3 key), ca.crt, log/, lock/, spool/, repo2/}

import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { join } from 'node:path';
import { fail, ok, type Result } from '../core/result.js';
import { describeFailure, exec, noLog, type ExecResult, type OpOptions, type Redact } from '../os/exec.js';
import { sleep } from '../os/sleep.js';
import { Redactor } from '../secrets/redactor.js';
import { pickBackup } from './gate-core.js';
import { backupInfoKey, parseBackupInfo, type BackupInfo, type RepoBackup } from './backup-info.js';
import { watchS3 } from './s3-watch.js';
import { describeHolders, isCastleCommand, stopAbandoned } from './pgbackrest-procs.js';
import {
  chownToUser,
  connConfig,
  controlSystemId,
  ensureOsUser,
  ensureOwnedDir,
  postmasterPid,
  sql,
  tailLog,
  writeCastleConf,
  type PgCluster,
} from './postgres.js';

export interface S3RepoSpec {
  /** host name for TLS (`localhost` for the local endpoint: pgBackRest 2.45 ignores IP SANs) */
  readonly host: string;
  readonly port: number;
  readonly bucket: string;
  readonly region: string;
  /** repo path inside the bucket (default `/pgbackrest`) */
  readonly path?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** CA to trust (PEM text); copied into the castle so the OS user can read it */
  readonly caPem?: string;
  /** default true; false only for throwaway local endpoints */
  readonly verifyTls?: boolean;
  /** default 'path' */
  readonly uriStyle?: 'path' | 'host';
}

export interface PgbackrestSpec {
  readonly stanza: string;
  readonly repo1: S3RepoSpec;
  /** a posix repo inside the castle (default: none) */
  readonly repo2?: boolean;
  /** processes for backup, archive and other commands (default 2: compression is CPU work, on this machine's 2 cores) */
  readonly processMax?: number;
  /** processes for restore (default 4: with 4 MiB bundles, 6 and 8 measured no faster on 2 cores) */
  readonly restoreProcessMax?: number;
  /** default zst at level 1 (measured: the fastest restore from the local S3 endpoint, and less to store) */
  readonly compressType?: 'lz4' | 'gz' | 'zst' | 'bz2' | 'none';
  /** default 1 for the default zst, pgBackRest's own default for a type given */
  readonly compressLevel?: number;
  /** small files bundled into a few repo objects (default true: one S3 request per bundle instead of per file) */
  readonly repoBundle?: boolean;
  /**
   * pgBackRest's repo-bundle-size (default `4MiB`: a bundle is restored by one process, file after file, so pgBackRest's
   * 20MiB put a 1 GB cluster's 1,300 small files into two bundles that finished seconds after the largest file)
   */
  readonly repoBundleSize?: string;
  /** default 2 */
  readonly retentionFull?: number;
  /** seconds pgBackRest waits for WAL to be archived during a backup (default 30) */
  readonly archiveTimeoutS?: number;
}

/**
 * What the data layer needs of the bucket holding repo1, beside pgBackRest itself: the caller wires an
 * S3 client to it (src/s3 s3Bucket), so that the data layer does not depend on one.
 */
export interface RepoBucket {
  /** `https://host:port`, for messages */
  readonly endpoint: string;
  /** endpoint, TLS, credentials and bucket, with one request */
  probe(signal?: AbortSignal): Promise<Result>;
  /** the text of the object at `key` (a missing object is a failure) */
  readText(key: string, signal?: AbortSignal): Promise<Result<string>>;
  exists(key: string, signal?: AbortSignal): Promise<Result<boolean>>;
}

export interface Pgbackrest {
  readonly cluster: PgCluster;
  readonly spec: PgbackrestSpec;
  readonly stanza: string;
  readonly baseDir: string;
  readonly confPath: string;
  readonly logDir: string;
  readonly caFile: string | null;
  readonly repo2Path: string | null;
  readonly repo1Path: string;
  /** masks the S3 secret (and key id) */
  readonly redact: Redact;
  /** the same repo as seen by the S3 API */
  readonly bucket: RepoBucket;
}

export function pgbackrestFor(cluster: PgCluster, spec: PgbackrestSpec, bucket: RepoBucket, outer?: Redact): Pgbackrest {
  const baseDir = join(cluster.root, 'pgbackrest');
  const r1 = spec.repo1;
  const secrets = new Redactor();
  secrets.add(r1.secretAccessKey);
  secrets.add(r1.accessKeyId);
  return {
    cluster,
    spec,
    stanza: spec.stanza,
    baseDir,
    confPath: join(baseDir, 'pgbackrest.conf'),
    logDir: join(baseDir, 'log'),
    caFile: r1.caPem ? join(baseDir, 'ca.crt') : null,
    repo2Path: spec.repo2 ? join(baseDir, 'repo2') : null,
    repo1Path: r1.path ?? '/pgbackrest',
    redact: outer ? (t) => outer(secrets.redact(t)) : (t) => secrets.redact(t),
    bucket,
  };
}

/** archive_command for postgresql.conf */
export function archiveCommand(b: Pgbackrest): string {
  return `pgbackrest --config=${b.confPath} --stanza=${b.stanza} archive-push %p`;
}

/** restore_command: the castle's archive-get script (pgBackRest's own restore writes a command without --config) */
export function restoreCommand(b: Pgbackrest): string {
  // unquoted, as the paths of archive_command: pgBackRest writes the value between single quotes into postgresql.auto.conf
  return `/bin/sh ${archiveGetScript(b)} %f "%p"`;
}

/** The script restore_command runs: pgBackRest's archive-get, each file kept for a second ask in the same recovery. */
export const archiveGetScript = (b: Pgbackrest): string => join(b.baseDir, 'archive-get.sh');

/** Files archive-get fetched during the current recovery: emptied before each restore and after the promotion. */
export const archiveGetCache = (b: Pgbackrest): string => join(b.baseDir, 'wal-fetched');

const shq = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * The end of recovery asks restore_command again for the last WAL segment and the parent timeline's history, which
 * it had restored a moment before: two more pgBackRest processes and S3 round trips (0.05-0.25 s) between the
 * consistent state and the promotion a rebirth waits for. The script serves those (as copies) from what it kept; a
 * file is kept only once pgBackRest fetched it in this recovery, a miss is never remembered (the archive can grow:
 * the new timeline's history is always looked up), and of the segments only the newest is kept, as a hard link.
 */
function archiveGetScriptText(b: Pgbackrest): string {
  const cache = shq(archiveGetCache(b));
  return [
    '#!/bin/sh',
    '# restore_command of this castle cluster (written by castle): pgBackRest archive-get, each fetched file kept for the',
    '# end of recovery, which asks again for the last segment and the timeline history (see archiveGetScriptText)',
    'set -u',
    `cache=${cache}`,
    'f=$1',
    'p=$2',
    'if [ -f "$cache/$f" ] && cp "$cache/$f" "$p"; then exit 0; fi',
    `pgbackrest --config=${shq(b.confPath)} --stanza=${shq(b.stanza)} archive-get "$f" "$p" || exit $?`,
    'mkdir -p "$cache" || exit 0',
    'case $f in',
    '  *.history) cp "$p" "$cache/$f.tmp" && mv "$cache/$f.tmp" "$cache/$f" || rm -f "$cache/$f.tmp" ;;',
    // a segment is linked, not copied (no 16 MB write per replayed segment): PostgreSQL never writes into the file it
    // restored before the promotion, and only recycles segments older than the one replayed, the only one kept here
    '  *) rm -f "$cache"/[0-9A-F]*[0-9A-F] && ln -f "$p" "$cache/$f" 2>/dev/null || rm -f "$cache/$f" ;;',
    'esac',
    'exit 0',
    '',
  ].join('\n');
}

/** Creates the pgBackRest dirs (owned by the OS user) and writes the config (0600). */
export async function writePgbackrestConf(b: Pgbackrest): Promise<Result> {
  const c = b.cluster;
  // on first birth this is the first thing that needs the unprivileged user: create it here
  const u = await ensureOsUser(c.osUser);
  if (!u.ok) return u;
  for (const d of [b.baseDir, b.logDir, join(b.baseDir, 'lock'), join(b.baseDir, 'spool'), ...(b.repo2Path ? [b.repo2Path] : [])]) {
    const r = await ensureOwnedDir(d, c.osUser, 0o750);
    if (!r.ok) return r;
  }
  const r1 = b.spec.repo1;
  if (b.caFile && r1.caPem) {
    writeFileSync(b.caFile, r1.caPem, { mode: 0o644 });
    await chownToUser(b.caFile, c.osUser);
  }
  try {
    writeFileSync(archiveGetScript(b), archiveGetScriptText(b), { mode: 0o755 });
    await chownToUser(archiveGetScript(b), c.osUser);
  } catch (err) {
    return fail(`cannot write ${archiveGetScript(b)}: ${(err as Error).message}`);
  }
  const lines = [
    '# written by castle: holds S3 credentials (mode 0600)',
    '[global]',
    `log-path=${b.logDir}`,
    `lock-path=${join(b.baseDir, 'lock')}`,
    `spool-path=${join(b.baseDir, 'spool')}`,
    'log-level-console=info',
    'log-level-file=detail',
    'log-level-stderr=warn',
    'start-fast=y',
    // chosen by `npm run bench -- pgbackrest-options` (README, "pgBackRest options"): zst level 1, 4 MiB bundles, 4 restore processes
    `compress-type=${b.spec.compressType ?? 'zst'}`,
    ...(b.spec.compressLevel !== undefined ? [`compress-level=${b.spec.compressLevel}`] : b.spec.compressType === undefined ? ['compress-level=1'] : []),
    `process-max=${b.spec.processMax ?? 2}`,
    `archive-timeout=${b.spec.archiveTimeoutS ?? 30}`,
    '',
    'repo1-type=s3',
    `repo1-path=${b.repo1Path}`,
    `repo1-s3-bucket=${r1.bucket}`,
    `repo1-s3-endpoint=${r1.host}`,
    `repo1-storage-port=${r1.port}`,
    `repo1-s3-region=${r1.region}`,
    `repo1-s3-key=${r1.accessKeyId}`,
    `repo1-s3-key-secret=${r1.secretAccessKey}`,
    `repo1-s3-uri-style=${r1.uriStyle ?? 'path'}`,
    ...(b.caFile ? [`repo1-storage-ca-file=${b.caFile}`] : []),
    ...(r1.verifyTls === false ? ['repo1-storage-verify-tls=n'] : []),
    `repo1-retention-full=${b.spec.retentionFull ?? 2}`,
    ...bundleLines(b.spec, 'repo1'),
    ...(b.repo2Path
      ? ['', 'repo2-type=posix', `repo2-path=${b.repo2Path}`, `repo2-retention-full=${b.spec.retentionFull ?? 2}`, ...bundleLines(b.spec, 'repo2')]
      : []),
    '',
    `[${b.stanza}]`,
    `pg1-path=${c.dataDir}`,
    `pg1-port=${c.port}`,
    `pg1-socket-path=${c.socketDir}`,
    `pg1-user=${c.superuser}`,
    '',
    '[global:restore]',
    `process-max=${b.spec.restoreProcessMax ?? 4}`,
    '',
  ];
  try {
    writeFileSync(b.confPath, lines.join('\n'), { mode: 0o600 });
    await chownToUser(b.confPath, c.osUser);
    return ok(undefined);
  } catch (err) {
    return fail(`cannot write ${b.confPath}: ${(err as Error).message}`);
  }
}

function bundleLines(spec: PgbackrestSpec, repo: 'repo1' | 'repo2'): string[] {
  if (spec.repoBundle === false) return [`${repo}-bundle=n`];
  return [`${repo}-bundle=y`, `${repo}-bundle-size=${spec.repoBundleSize ?? '4MiB'}`];
}

/**
 * Runs `pgbackrest --config=... --stanza=... <args>` as the cluster's OS user; a command that locks the stanza or
 * restores first stops those a killed Castle run left running (./pgbackrest-procs.ts).
 */
export async function pgbackrest(b: Pgbackrest, args: string[], o: OpOptions & { quietStdout?: boolean; timeoutMs?: number } = {}): Promise<ExecResult> {
  if (isCastleCommand(args)) {
    // one that cannot be stopped: the command meets pgBackRest's lock, whose refusal names it
    const s = await stopAbandoned(b.confPath, o);
    if (!s.ok) (o.note ?? o.log ?? noLog)(s.reason);
  }
  return exec('pgbackrest', [`--config=${b.confPath}`, `--stanza=${b.stanza}`, ...args], {
    ...o,
    redact: o.redact ? (t: string) => o.redact!(b.redact(t)) : b.redact,
    asUser: b.cluster.osUser,
    cwd: b.cluster.root,
    logPrefix: '[pgbackrest] ',
  });
}

/** Turns pgBackRest's output into one sentence (S3 reachability, credentials, stanza, ...). */
export function pgbackrestReason(b: Pgbackrest, what: string, r: ExecResult): string {
  const text = `${r.stdout}\n${r.stderr}`;
  const endpoint = b.bucket.endpoint;
  const code = /<Code>([A-Za-z]+)<\/Code>/.exec(text)?.[1];
  if (/HTTP request failed with 403/.test(text) || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch')
    return `pgBackRest rejected the S3 credentials (HTTP 403${code ? ' ' + code : ''}) while ${what}`;
  // pgBackRest says "unable to connect to" for PostgreSQL's socket too (a server that crashed during a backup): not the endpoint then
  if (/unable to connect to 'dbname=|connection to server on socket/.test(text))
    return `pgBackRest cannot reach PostgreSQL while ${what} (did it stop?): ${firstError(text)}`;
  if (/Connection refused|unable to connect to/.test(text)) return `S3 endpoint ${endpoint} refused the connection while ${what}: is it running?`;
  if (/unable to get address|Name or service not known/.test(text)) return `S3 endpoint ${endpoint}: host name does not resolve (${what})`;
  if (/certificate verify failed|unable to verify|TLS error/i.test(text))
    return `TLS verification of S3 endpoint ${endpoint} failed while ${what}: wrong CA file or host name?`;
  if (/HTTP request failed with 404/.test(text) && /NoSuchBucket/.test(text)) return `bucket '${b.spec.repo1.bucket}' does not exist on ${endpoint} (${what})`;
  if (/\[028\]|do not match the database|system-id .* do(es)? not match/i.test(text))
    return `the repo's stanza '${b.stanza}' belongs to another database system than ${b.cluster.dataDir} (pgBackRest: ${firstError(text)}): refusing to mix them; restore from the repo instead of creating a new cluster on it, or use another stanza`;
  if (/\[055\]|unable to load info file/.test(text)) return `stanza '${b.stanza}' is missing or unreadable in the repo while ${what}: ${firstError(text)}`;
  if (/\[050\]|unable to acquire lock/.test(text)) {
    const holders = describeHolders(b.confPath);
    return `another pgBackRest process holds stanza '${b.stanza}' while ${what}${holders ? `: ${holders}` : ` (${firstError(text)})`}; let it end (or stop it), then run again`;
  }
  if (/\[082\]|WAL segment .* was not archived before the .* timeout/.test(text))
    return `WAL archiving did not complete while ${what}: ${firstError(text)}; see ${tailLogPath(b)}`;
  const e = firstError(text);
  return e ? `pgBackRest failed while ${what}: ${e}` : describeFailure(`pgbackrest (${what})`, r);
}

function firstError(text: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => /ERROR: \[\d+\]/.test(l));
  if (i < 0) return '';
  return lines
    .slice(i, i + 3)
    .map((l) => l.replace(/^.*?ERROR: /, 'ERROR: ').trim())
    .filter((l) => l && !/^\*\*\*/.test(l))
    .join(' ')
    .slice(0, 400);
}

function tailLogPath(b: Pgbackrest): string {
  return `${b.logDir}/${b.stanza}-*.log and ${b.cluster.logFile}`;
}

/** stanza-create (idempotent). A stanza already holding another system-id is refused, never upgraded. */
/** `online: false` reads the system id and version from pg_control instead of asking the server (it may be starting). */
export async function stanzaCreate(b: Pgbackrest, o: OpOptions & { online?: boolean } = {}): Promise<Result> {
  const r = await pgbackrest(b, ['stanza-create', ...(o.online === false ? ['--no-online'] : [])], o);
  if (r.code === 0) return ok(undefined);
  return fail(pgbackrestReason(b, `creating stanza '${b.stanza}'`, r));
}

// ---------------------------------------------------------------------------------------------
// WAL flush: pg_switch_wal() and wait until pg_stat_archiver says it is archived

export interface ArchiverStatus {
  readonly archivedCount: number;
  readonly lastArchivedWal: string | null;
  readonly lastArchivedTime: Date | null;
  readonly failedCount: number;
  readonly lastFailedWal: string | null;
  readonly lastFailedTime: Date | null;
}

const ARCHIVER_SQL = 'SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver';

/** pg_stat_archiver (on `client` when given: pollers keep one connection). */
export async function archiverStatus(c: PgCluster, client?: pg.Client): Promise<Result<ArchiverStatus>> {
  let r: Result<Record<string, unknown>[]>;
  if (client) {
    try {
      r = ok((await client.query(ARCHIVER_SQL)).rows as Record<string, unknown>[]);
    } catch (err) {
      r = fail(`reading pg_stat_archiver failed: ${(err as Error).message}`);
    }
  } else r = await sql(c, ARCHIVER_SQL);
  if (!r.ok) return r;
  const x = r.value[0]!;
  return ok({
    archivedCount: Number(x.archived_count),
    lastArchivedWal: (x.last_archived_wal as string | null) ?? null,
    lastArchivedTime: (x.last_archived_time as Date | null) ?? null,
    failedCount: Number(x.failed_count),
    lastFailedWal: (x.last_failed_wal as string | null) ?? null,
    lastFailedTime: (x.last_failed_time as Date | null) ?? null,
  });
}

/** A sentence when archiving failed after `since` (DB clock) and has not succeeded since; else null. */
export function archivingFailureOf(b: Pgbackrest, st: ArchiverStatus, since: Date): string | null {
  const c = b.cluster;
  const failing =
    st.lastFailedTime !== null &&
    st.lastFailedTime.getTime() > since.getTime() &&
    (st.lastArchivedTime === null || st.lastFailedTime.getTime() > st.lastArchivedTime.getTime());
  if (!failing) return null;
  const why = tailLog(c.logFile, 2, /ERROR: \[\d+\]|archive command failed/);
  return b.redact(
    `WAL archiving is failing: last_failed_wal ${st.lastFailedWal} at ${st.lastFailedTime!.toISOString()} (failed_count ${st.failedCount})` +
      `${why && why !== '(no log)' ? `: ${why}` : ''}; see ${c.logFile} and ${b.logDir}`,
  );
}

/** Reads pg_stat_archiver and tells whether archiving failed after `since` (DB clock). */
export async function archivingFailure(b: Pgbackrest, since: Date, client?: pg.Client): Promise<string | null> {
  const s = await archiverStatus(b.cluster, client);
  return s.ok ? archivingFailureOf(b, s.value, since) : null;
}

/** Switches WAL and waits until the switched segment is archived. Failing archiving is a fast, clear refusal. */
export async function flushWal(b: Pgbackrest, o: OpOptions & { timeoutMs?: number } = {}): Promise<Result<{ segment: string; waitedMs: number }>> {
  const c = b.cluster;
  const started = Date.now();
  const timeoutMs = o.timeoutMs ?? 60000;
  // one connection for the switch and the polls: a new one per poll cost more than the archiving on a busy machine
  const client = new pg.Client(connConfig(c));
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    return fail(`cannot switch WAL on ${c.socketDir}:${c.port}: ${(err as Error).message}`);
  }
  try {
    let segment: string;
    let switchedAt: Date;
    try {
      const row = (await client.query(`SELECT pg_walfile_name(pg_switch_wal()) AS seg, now() AS at, current_setting('archive_mode') AS mode`)).rows[0] as {
        seg: string;
        at: Date;
        mode: string;
      };
      if (row.mode === 'off') return fail(`archive_mode is off on ${c.dataDir}: writes after the last backup could not be saved`);
      segment = row.seg;
      switchedAt = row.at;
    } catch (err) {
      return fail(`cannot switch WAL on ${c.socketDir}:${c.port}: ${(err as Error).message}`);
    }
    for (;;) {
      const s = await archiverStatus(c, client);
      if (!s.ok) return s;
      const st = s.value;
      const archived = st.lastArchivedWal !== null && /^[0-9A-F]{24}/.test(st.lastArchivedWal) && st.lastArchivedWal.slice(0, 24) >= segment;
      if (archived) return ok({ segment, waitedMs: Date.now() - started });
      const done = await client
        .query(`SELECT (pg_stat_file('pg_wal/archive_status/' || $1 || '.done', true)).size IS NOT NULL AS done`, [segment])
        .then((r) => (r.rows[0] as { done: boolean } | undefined)?.done === true)
        .catch(() => false);
      if (done) return ok({ segment, waitedMs: Date.now() - started });
      const failing = archivingFailureOf(b, st, switchedAt);
      if (failing) return fail(failing);
      if (Date.now() - started > timeoutMs)
        return fail(
          `WAL segment ${segment} was not archived within ${Math.round(timeoutMs / 1000)} s (last archived: ${st.lastArchivedWal ?? 'none'}); see ${c.logFile}`,
        );
      if (o.signal?.aborted) return fail('WAL flush cancelled');
      await sleep(20, o.signal);
    }
  } finally {
    await client.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// backup, info, restore

export interface BackupResult {
  readonly label: string;
  readonly repo: 1 | 2;
  readonly durationMs: number;
}

/**
 * `pgbackrest backup --type=T --repo=N` (incr falls back to full when none exists: pgBackRest does it). `expire: false`
 * leaves the retention (pgBackRest's expire after each backup) to a later `expireBackups`.
 */
export async function runBackup(
  b: Pgbackrest,
  o: OpOptions & { type?: 'full' | 'diff' | 'incr'; repo?: 1 | 2; expire?: boolean } = {},
): Promise<Result<BackupResult>> {
  const repo = o.repo ?? 1;
  if (repo === 2 && !b.repo2Path) return fail('no repo2 configured for this castle');
  const started = Date.now();
  const r = await pgbackrest(b, ['backup', `--type=${o.type ?? 'incr'}`, `--repo=${repo}`, ...(o.expire === false ? ['--no-expire-auto'] : [])], o);
  if (r.code !== 0) return fail(pgbackrestReason(b, `backing up to repo${repo}`, r));
  const label = /new backup label = (\S+)/.exec(`${r.stdout}\n${r.stderr}`)?.[1];
  if (!label) return fail(`pgBackRest backup to repo${repo} succeeded but printed no backup label`);
  return ok({ label, repo, durationMs: Date.now() - started });
}

/** `pgbackrest expire --repo=N`: the retention a backup taken with `expire: false` left for later. */
export async function expireBackups(b: Pgbackrest, o: OpOptions & { repo?: 1 | 2 } = {}): Promise<Result> {
  const repo = o.repo ?? 1;
  const r = await pgbackrest(b, ['expire', `--repo=${repo}`], o);
  return r.code === 0 ? ok(undefined) : fail(pgbackrestReason(b, `expiring old backups of repo${repo}`, r));
}

/** `pgbackrest info --output=json` (parsed). */
export async function pgbackrestInfo(b: Pgbackrest, o: OpOptions & { repo?: 1 | 2 } = {}): Promise<Result<unknown[]>> {
  const r = await pgbackrest(b, ['info', '--output=json', ...(o.repo ? [`--repo=${o.repo}`] : [])], { ...o, quietStdout: true });
  if (r.code !== 0) return fail(pgbackrestReason(b, 'reading repo info', r));
  try {
    // keep 64-bit system ids exact
    return ok(JSON.parse(r.stdout.replace(/"system-id":(\d+)/g, '"system-id":"$1"')) as unknown[]);
  } catch {
    return fail('pgbackrest info printed no JSON');
  }
}

/** Where repo2 keeps the stanza's backup.info (gone after a wipe, with the rest of repo2). */
export function repo2BackupInfoFile(repo2Path: string, stanza: string): string {
  return join(repo2Path, backupInfoKey('', stanza));
}

/** backup.info of a repo: repo1 through the S3 API, repo2 from its directory. */
export async function repoBackupInfo(b: Pgbackrest, repo: 1 | 2, o: { signal?: AbortSignal } = {}): Promise<Result<BackupInfo>> {
  let text: string;
  let where: string;
  if (repo === 1) {
    const key = backupInfoKey(b.repo1Path, b.stanza);
    where = `${b.bucket.endpoint}/${b.spec.repo1.bucket}/${key}`;
    const r = await b.bucket.readText(key, o.signal);
    if (!r.ok) return r;
    text = r.value;
  } else {
    if (!b.repo2Path) return fail('no repo2 configured');
    where = repo2BackupInfoFile(b.repo2Path, b.stanza);
    if (!existsSync(where)) return fail(`repo2 has no backup.info (${where})`);
    try {
      text = readFileSync(where, 'utf8');
    } catch (err) {
      return fail(`cannot read ${where}: ${(err as Error).message}`);
    }
  }
  try {
    return ok(parseBackupInfo(text));
  } catch (err) {
    return fail(`${where} is not a readable pgBackRest backup.info: ${(err as Error).message}`);
  }
}

/** Whether repo1 holds the stanza's backup.info (one HEAD request; reading it is not needed to know). */
export function repo1HasBackupInfo(b: Pgbackrest, signal?: AbortSignal): Promise<Result<boolean>> {
  return b.bucket.exists(backupInfoKey(b.repo1Path, b.stanza), signal);
}

/** Confirms through the S3 API that backup `label` is listed in repo1's backup.info, with size and time. */
export async function confirmBackup(
  b: Pgbackrest,
  label: string,
  o: { signal?: AbortSignal; repo?: 1 | 2; notBefore?: Date } = {},
): Promise<Result<{ backup: RepoBackup; info: BackupInfo }>> {
  const repo = o.repo ?? 1;
  const r = await repoBackupInfo(b, repo, o);
  if (!r.ok) return fail(`cannot confirm backup ${label}: ${r.reason}`);
  const p = pickBackup(r.value, `repo${repo}`, { label, ...(o.notBefore ? { notBefore: o.notBefore } : {}) });
  if (!p.ok) return p;
  const bk = p.value;
  return ok({ backup: bk, info: r.value });
}

export interface RestoreOptions extends OpOptions {
  /** 1 = S3, 2 = local; default: chooseRestoreRepo() */
  readonly repo?: 1 | 2;
  /** the system id the castle's data belongs to (recorded at the gate): a repo holding another one is refused */
  readonly expectSystemId?: string;
  readonly timeoutMs?: number;
  /** repo1's backup.info, read already (beside other requests) by the caller */
  readonly repo1Info?: Promise<Result<BackupInfo>>;
}

/** Repo 2 when it exists and holds the newest backup of repo 1 (or newer), else repo 1. */
export async function chooseRestoreRepo(
  b: Pgbackrest,
  o: { signal?: AbortSignal; log?: OpOptions['log']; repo1Info?: Promise<Result<BackupInfo>> } = {},
): Promise<Result<{ repo: 1 | 2; why: string; info: BackupInfo }>> {
  const r1 = await (o.repo1Info ?? repoBackupInfo(b, 1, o));
  if (b.repo2Path && existsSync(b.repo2Path)) {
    const r2 = await repoBackupInfo(b, 2, o);
    if (r2.ok && r2.value.backups.length) {
      const last2 = r2.value.backups[r2.value.backups.length - 1]!;
      const last1 = r1.ok ? r1.value.backups[r1.value.backups.length - 1] : undefined;
      if (!r1.ok) return ok({ repo: 2, why: `repo1 unreadable (${r1.reason}); repo2 holds ${last2.label}`, info: r2.value });
      if (!last1 || last2.stopTime.getTime() >= last1.stopTime.getTime())
        return ok({ repo: 2, why: `local repo2 is present and current (${last2.label})`, info: r2.value });
      return ok({ repo: 1, why: `repo2's newest backup ${last2.label} is older than repo1's ${last1.label}`, info: r1.value });
    }
  }
  if (!r1.ok) return fail(`cannot read the S3 repo: ${r1.reason}`);
  return ok({ repo: 1, why: b.repo2Path ? 'local repo2 is absent: restoring from S3' : 'restoring from S3', info: r1.value });
}

/**
 * pgbackrest restore into the cluster's data dir (delta when it exists), recovering to the end of the archived
 * WAL (never --type=immediate). Refuses when the repo's system-id is not the castle's, or the data dir holds
 * another system. Rewrites castle.conf after. Does not start the server.
 */
export async function restoreCluster(b: Pgbackrest, o: RestoreOptions = {}): Promise<Result<{ repo: 1 | 2; why: string; backup: string; durationMs: number }>> {
  const c = b.cluster;
  const log = o.log ?? noLog;
  const started = Date.now();
  // a killed run's restore still writing here would race what follows (emptying a partial directory, --delta)
  const left = await stopAbandoned(b.confPath, o);
  if (!left.ok)
    return fail(`a pgBackRest command of a killed run still runs on stanza '${b.stanza}', so nothing is restored into ${c.dataDir}: ${left.reason}`);
  const [conf, src] = await Promise.all([
    writePgbackrestConf(b),
    o.repo
      ? repoBackupInfo(b, o.repo, o).then((r): Result<{ repo: 1 | 2; why: string; info: BackupInfo }> =>
          r.ok ? ok({ repo: o.repo!, why: `repo${o.repo} requested`, info: r.value }) : fail(`cannot read repo${o.repo}: ${r.reason}`),
        )
      : chooseRestoreRepo(b, o),
  ]);
  if (!conf.ok) return conf;
  if (!src.ok) return src;
  const { repo, why, info } = src.value;
  log(`restore source: repo${repo} (${why})`);
  const repoSys = info.current.systemId;
  const hist = info.history.map((h) => h.systemId);
  if (o.expectSystemId && repoSys !== o.expectSystemId) {
    const had = hist.includes(o.expectSystemId);
    return {
      ok: false,
      reason:
        `refusing to restore: repo${repo} stanza '${b.stanza}' now belongs to database system ${repoSys}, but this castle's data is system ${o.expectSystemId}` +
        (had
          ? ` (the repo's history ${hist.join(' -> ')} shows a new cluster was attached to it after the castle's backups: the "second system-id" hazard; restoring would bring back the wrong, probably empty, cluster)`
          : " (the repo holds another cluster's backups)"),
    };
  }
  const lastBackup = [...info.backups].reverse().find((x) => x.dbId === info.current.dbId);
  if (!lastBackup) return fail(`repo${repo} stanza '${b.stanza}' has no backup of its current database system ${repoSys}: nothing to restore`);
  const hasData = existsSync(join(c.dataDir, 'global', 'pg_control'));
  // files without pg_control: a restore that was interrupted; --delta lets pgBackRest finish it (it refuses a non-empty directory otherwise)
  const partial = !hasData && existsSync(c.dataDir) && readdirSync(c.dataDir).length > 0;
  // killed before pgBackRest wrote PG_VERSION or its manifest there: pgBackRest then ignores --delta and refuses the
  // directory, and files without PG_VERSION are no cluster's, only the start of that restore: emptied for the next
  if (partial && !existsSync(join(c.dataDir, 'PG_VERSION')) && !existsSync(join(c.dataDir, 'backup.manifest'))) {
    for (const f of readdirSync(c.dataDir)) rmSync(join(c.dataDir, f), { recursive: true, force: true });
  }
  if (hasData) {
    const sys = await controlSystemId(c, o);
    if (sys.ok && sys.value !== repoSys)
      return {
        ok: false,
        reason: `refusing to restore into ${c.dataDir}: it holds database system ${sys.value} but repo${repo} stanza '${b.stanza}' belongs to system ${repoSys}; wipe the castle (or move the directory away) to restore from this repo`,
      };
    if (postmasterPid(c)) return fail(`refusing to restore into ${c.dataDir}: PostgreSQL is running on it (stop it first)`);
  }
  const dir = await ensureOwnedDir(c.dataDir, c.osUser);
  if (!dir.ok) return dir;
  for (const d of [c.socketDir, c.logDir]) {
    const r = await ensureOwnedDir(d, c.osUser);
    if (!r.ok) return r;
  }
  /** One pgBackRest restore, with the S3 endpoint watched; `corrupt` when pgBackRest found a backup file damaged. */
  const attempt = async (set: string | undefined, delta: boolean): Promise<Result & { corrupt?: boolean }> => {
    // what an earlier recovery fetched is no file of this one
    rmSync(archiveGetCache(b), { recursive: true, force: true });
    const ac = new AbortController();
    const onOuter = (): void => ac.abort();
    o.signal?.addEventListener('abort', onOuter, { once: true });
    const s3Watch = repo === 1 ? watchS3((s) => b.bucket.probe(s), ac) : undefined;
    const r = await pgbackrest(
      b,
      ['restore', `--repo=${repo}`, ...(set ? [`--set=${set}`] : []), ...(delta ? ['--delta'] : []), `--recovery-option=restore_command=${restoreCommand(b)}`],
      { ...o, signal: ac.signal, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) },
    );
    const s3Down = (await s3Watch?.stop()) ?? null;
    o.signal?.removeEventListener('abort', onOuter);
    if (s3Down) return fail(`restoring from repo${repo}: ${s3Down}`);
    if (r.code === 0) return ok(undefined);
    const corrupt = /FormatError|decompress|checksum/i.test(`${r.stdout}\n${r.stderr}`);
    return { ok: false, reason: pgbackrestReason(b, `restoring ${set ?? 'the newest backup'} from repo${repo}`, r), corrupt };
  };
  let restored = lastBackup.label;
  let fellBack = '';
  const first = await attempt(undefined, hasData || partial);
  if (!first.ok) {
    if (!first.corrupt) return first;
    // A damaged file in the newest backup: the one before it plus the archived WAL since gives the same data
    // (the proof checks it against the gate's fingerprint); never a different database in silence.
    const earlier = info.backups.filter((x) => x.dbId === info.current.dbId && x.label !== lastBackup.label).reverse();
    let last: Result & { corrupt?: boolean } = first;
    for (const e of earlier) {
      log(`backup ${lastBackup.label} is corrupt (${first.reason}); restoring the one before it, ${e.label}, and replaying WAL from there`);
      last = await attempt(e.label, true);
      if (last.ok) {
        restored = e.label;
        fellBack = `; backup ${lastBackup.label} is corrupt (${first.reason.slice(0, 300)}): restored the previous one, ${e.label}, and replayed the archived WAL`;
        break;
      }
      if (!last.corrupt) return last;
    }
    if (!last.ok)
      return fail(`${first.reason}; no earlier backup of repo${repo} restores either: the castle stays down, its data is in the repo's WAL archive`);
  }
  const wc = await writeCastleConf(c, { archiveCommand: archiveCommand(b) });
  if (!wc.ok) return wc;
  return ok({ repo, why: `${why}${fellBack}`, backup: restored, durationMs: Date.now() - started });
}

/** Env for a server whose restore_command lacks --config (e.g. restored by other tools). */
export function serverEnv(b: Pgbackrest): Record<string, string> {
  return { PGBACKREST_CONFIG: b.confPath };
}
