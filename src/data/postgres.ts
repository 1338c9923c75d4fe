// A PostgreSQL cluster run with the real binaries, under a caller-given castle root. As root, every
// postgres binary runs as an unprivileged OS user (`castle` by default; src/os exec's asUser).
// Layout of `root`: pgdata/ (PGDATA), run/ (unix socket), log/postgresql.log, .castle-data (marker)

import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, appendFileSync, chmodSync, watch, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import { release } from 'node:os';
import pg from 'pg';
import { fail, ok, type Result } from '../core/result.js';
import { describeFailure, exec, noLog, type ExecResult, type OpOptions } from '../os/exec.js';
import { tailLines } from '../os/log-tail.js';
import { isRoot, lookupUser } from '../os/passwd.js';
import { pidCmdline, processGone, readPidFile, waitPidGone } from '../os/pid.js';
import { sleep } from '../os/sleep.js';
import { stopProcess } from '../os/stop.js';
import { checkReachable, chownTo, runAsUser } from '../os/user.js';

export const PG_ROOT = '/usr/lib/postgresql';
export const MARKER = '.castle-data';

export interface PgClusterSpec {
  /** the castle's data root: everything of this cluster lives under it (created if missing) */
  readonly root: string;
  /** TCP port on 127.0.0.1 (also names the unix socket) */
  readonly port: number;
  /** PostgreSQL major version; default: the newest installed */
  readonly pgVersion?: number;
  /** OS user running postgres when we are root (default `castle`); ignored when not root */
  readonly osUser?: string;
  /** database superuser created by initdb (default `postgres`) */
  readonly superuser?: string;
}

export interface PgCluster {
  readonly root: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logDir: string;
  readonly logFile: string;
  readonly port: number;
  readonly major: number;
  readonly binDir: string;
  /** null: run as ourselves (not root) */
  readonly osUser: string | null;
  readonly superuser: string;
}

/** Majors with a server binary under /usr/lib/postgresql/N/bin. */
export function installedPgMajors(pgRoot = PG_ROOT): number[] {
  if (!existsSync(pgRoot)) return [];
  return readdirSync(pgRoot)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(pgRoot, d, 'bin', 'postgres')))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Where the binaries of a major live (installed or not). */
export function pgBinDir(major: number, pgRoot = PG_ROOT): string {
  return join(pgRoot, String(major), 'bin');
}

/** The binaries of a major (or the newest); a version not installed is a clear error naming the installed ones. */
export function resolvePgBin(version?: number, pgRoot = PG_ROOT): Result<{ major: number; binDir: string }> {
  const majors = installedPgMajors(pgRoot);
  if (majors.length === 0) return fail(`no PostgreSQL server is installed (nothing under ${pgRoot}/*/bin/postgres): run scripts/install-deps.sh`);
  const major = version ?? majors[majors.length - 1]!;
  if (!majors.includes(major)) return fail(`PostgreSQL ${major} is not installed on this machine; installed: ${majors.join(', ')} (under ${pgRoot})`);
  return ok({ major, binDir: pgBinDir(major, pgRoot) });
}

/** Resolves paths and binaries of a cluster (no I/O besides looking at installed versions). */
export function pgCluster(spec: PgClusterSpec): Result<PgCluster> {
  const bin = resolvePgBin(spec.pgVersion);
  if (!bin.ok) return bin;
  const root = resolve(spec.root);
  const logDir = join(root, 'log');
  return ok({
    root,
    dataDir: join(root, 'pgdata'),
    socketDir: join(root, 'run'),
    logDir,
    logFile: join(logDir, 'postgresql.log'),
    port: spec.port,
    major: bin.value.major,
    binDir: bin.value.binDir,
    osUser: isRoot() ? (spec.osUser ?? 'castle') : null,
    superuser: spec.superuser ?? 'postgres',
  });
}

// ---------------------------------------------------------------------------------------------
// the unprivileged OS user

/** As root: the cluster's OS user, created when missing (concurrent creation tolerated). Not root: nothing to do. */
export async function ensureOsUser(user: string | null, o: OpOptions = {}): Promise<Result> {
  const r = await runAsUser(user, o);
  return r.ok ? ok(undefined) : r;
}

/** mkdir -p with mode, owned by the cluster's OS user when root. */
export async function ensureOwnedDir(path: string, osUser: string | null, mode = 0o700): Promise<Result> {
  try {
    mkdirSync(path, { recursive: true, mode });
    chmodSync(path, mode);
    if (osUser && isRoot()) {
      const ids = await lookupUser(osUser);
      if (!ids) return fail(`OS user '${osUser}' does not exist`);
      chownSync(path, ids.uid, ids.gid);
    }
    return ok(undefined);
  } catch (err) {
    return fail(`cannot create directory ${path}: ${(err as Error).message}`);
  }
}

export async function chownToUser(path: string, osUser: string | null): Promise<void> {
  if (osUser && isRoot()) await chownTo(await lookupUser(osUser), path);
}

const reachable = new Set<string>();

/** Root dir + subdirs, owned by the OS user; checks (once per process) the user can actually reach them. */
export async function prepareRoot(c: PgCluster, o: OpOptions = {}): Promise<Result> {
  const u = await ensureOsUser(c.osUser, o);
  if (!u.ok) return u;
  for (const d of [c.root, c.socketDir, c.logDir]) {
    const r = await ensureOwnedDir(d, c.osUser);
    if (!r.ok) return r;
  }
  const marker = join(c.root, MARKER);
  if (!existsSync(marker)) {
    writeFileSync(marker, 'castle data root: `castle` may delete everything in this directory on a wipe\n');
    await chownToUser(marker, c.osUser);
  }
  if (c.osUser && !reachable.has(`${c.osUser}:${c.root}`)) {
    const user = await lookupUser(c.osUser);
    if (!user) return fail(`OS user '${c.osUser}' does not exist`);
    const reach = await checkReachable(user, c.root);
    if (!reach.ok) return reach;
    reachable.add(`${c.osUser}:${c.root}`);
  }
  return ok(undefined);
}

function pgExec(c: PgCluster, bin: string, args: string[], o: OpOptions & { env?: Record<string, string>; timeoutMs?: number; quietStdout?: boolean } = {}) {
  return exec(join(c.binDir, bin), args, { ...o, asUser: c.osUser, cwd: c.root, logPrefix: `[${bin}] ` });
}

// ---------------------------------------------------------------------------------------------
// initdb, configuration, start, stop

export interface InitOptions extends OpOptions {
  /** archive_command (archive_mode=on); see pgbackrest.ts archiveCommand() */
  readonly archiveCommand?: string;
  /** extra postgresql.conf settings (values are written as given: quote strings yourself) */
  readonly settings?: Record<string, string>;
  /** initdb --no-sync (tests) */
  readonly noSync?: boolean;
}

/** initdb of an empty cluster (refuses if the data dir already holds one) + castle.conf. */
export async function initCluster(c: PgCluster, o: InitOptions = {}): Promise<Result> {
  const prep = await prepareRoot(c, o);
  if (!prep.ok) return prep;
  if (existsSync(join(c.dataDir, 'PG_VERSION'))) return fail(`${c.dataDir} already holds a PostgreSQL cluster: refusing to initdb over it`);
  const r = await pgExec(
    c,
    'initdb',
    [
      '-D',
      c.dataDir,
      '-U',
      c.superuser,
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      ...(o.noSync ? ['--no-sync'] : []),
    ],
    o,
  );
  if (r.code !== 0) return fail(describeFailure('initdb', r));
  // asked before postgresql.conf includes the castle.conf not written yet
  const toast: Record<string, string> =
    c.major >= 14 && (await acceptsSetting(c, 'default_toast_compression', 'lz4', o)) ? { default_toast_compression: 'lz4' } : {};
  const conf = join(c.dataDir, 'postgresql.conf');
  appendFileSync(conf, `\n# written by castle\ninclude = 'castle.conf'\n`);
  return writeCastleConf(c, { ...o, settings: { ...toast, ...o.settings } });
}

/**
 * Whether this server build takes `name = value` (`postgres -C` checks it and exits, running or not). lz4 for TOAST
 * (PostgreSQL >= 14, when built with it) decompresses faster than pglz: the fingerprint of the bench's wide TOASTed rows
 * took 0.67 CPU-s instead of 0.78 (`npm run bench -- fingerprint`), and every read of them by the app gains alike.
 */
async function acceptsSetting(c: PgCluster, name: string, value: string, o: OpOptions): Promise<boolean> {
  // not logged: a build without it answers with a FATAL line that is no failure of the castle
  const r = await pgExec(c, 'postgres', ['-C', name, '-c', `${name}=${value}`, '-D', c.dataDir], { signal: o.signal });
  return r.code === 0 && r.stdout.trim() === value;
}

function q(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

/** (Re)writes PGDATA/castle.conf: port, socket dir, listen address, archiving. Called after a restore too. */
export async function writeCastleConf(c: PgCluster, o: { archiveCommand?: string; settings?: Record<string, string> } = {}): Promise<Result> {
  const file = join(c.dataDir, 'castle.conf');
  let previous: Record<string, string> = {};
  if (existsSync(file)) previous = parseConf(readFileSync(file, 'utf8'));
  const settings: Record<string, string> = {
    ...previous,
    listen_addresses: q('127.0.0.1'),
    port: String(c.port),
    unix_socket_directories: q(c.socketDir),
    unix_socket_permissions: '0700',
    wal_level: 'replica',
    max_wal_senders: '3',
    // A server started after a restore or a crash first syncs its whole data directory. With the default (fsync,
    // each file opened one by one) that cost 0.8-3 s of every rebirth's start at 100 MB, on files pgBackRest had just
    // fsynced; syncfs asks the kernel once per file system (only where Linux >= 5.8 reports its write errors to it).
    ...(c.major >= 14 && syncfsReportsErrors() ? { recovery_init_sync_method: 'syncfs' } : {}),
    ...(o.archiveCommand !== undefined ? { archive_mode: 'on', archive_command: q(o.archiveCommand) } : {}),
    ...(o.settings ?? {}),
  };
  try {
    writeFileSync(
      file,
      `# managed by castle: rewritten on init and after each restore\n${Object.entries(settings)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')}\n`,
      { mode: 0o600 },
    );
    await chownToUser(file, c.osUser);
    const conf = join(c.dataDir, 'postgresql.conf');
    if (existsSync(conf) && !readFileSync(conf, 'utf8').includes("include = 'castle.conf'")) appendFileSync(conf, `\ninclude = 'castle.conf'\n`);
    return ok(undefined);
  } catch (err) {
    return fail(`cannot write ${file}: ${(err as Error).message}`);
  }
}

/** Linux 5.8 and later report write-back errors to syncfs(2) (PostgreSQL's recovery_init_sync_method docs). */
export function syncfsReportsErrors(platform: string = process.platform, kernel: string = release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernel);
  return platform === 'linux' && !!m && (Number(m[1]) > 5 || (Number(m[1]) === 5 && Number(m[2]) >= 8));
}

function parseConf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** pid of the running postmaster of this data dir, or null. */
export function postmasterPid(c: PgCluster): number | null {
  const pid = readPidFile(join(c.dataDir, 'postmaster.pid'));
  if (pid === undefined) return null;
  const cmd = pidCmdline(pid);
  return cmd && cmd.some((a) => a.endsWith('postgres')) ? pid : null;
}

export interface StartOptions extends OpOptions {
  /** extra environment of the server (e.g. PGBACKREST_CONFIG for restore_command) */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
  /** after a restore: wait until recovery ended and the server was promoted (default true) */
  readonly waitPromoted?: boolean;
}

/** The postmaster's status in postmaster.pid (`starting`, `standby`, `ready`, `stopping`), or null without one. */
export function pmStatus(c: PgCluster): string | null {
  try {
    return readFileSync(join(c.dataDir, 'postmaster.pid'), 'utf8').split('\n')[7]?.trim() || null;
  } catch {
    return null;
  }
}

/**
 * Until postmaster.pid says one of `want`: woken by inotify on the data dir when the postmaster rewrites the file,
 * with a slow re-read in case an event is missed. pg_ctl -w looks every 100 ms, a cost on a rebirth's critical path.
 */
export function waitPmStatus(
  c: PgCluster,
  want: readonly string[],
  o: {
    signal?: AbortSignal;
    timeoutMs: number;
    /** a server running already: its end ends the wait */
    running?: boolean;
    /** the pid a stale postmaster.pid named before this start: never the server being waited for */
    notPid?: number;
  },
): Promise<'reached' | 'no postmaster' | 'timeout'> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: 'reached' | 'no postmaster' | 'timeout'): void => {
      if (settled) return;
      settled = true;
      stopWatching();
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const look = (): void => {
      if (settled) return;
      // a status counts only from a live postmaster: a crashed one leaves its file behind, saying `ready`
      const live = postmasterPid(c);
      if (live === null || live === o.notPid) {
        if (o.running) finish('no postmaster');
        return;
      }
      const st = pmStatus(c);
      if (st !== null && want.includes(st)) finish('reached');
    };
    const onAbort = (): void => finish('timeout');
    const stopWatching = onPidFile(c, look);
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    look();
  });
}

/**
 * Calls `look` when the postmaster writes or deletes postmaster.pid (inotify on the data dir) and every 250 ms in case an
 * event is missed or inotify is not there; returns what stops both.
 */
function onPidFile(c: PgCluster, look: () => void): () => void {
  const slow = setInterval(look, 250);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(c.dataDir, (_e, name) => {
      if (name === 'postmaster.pid') look();
    });
    watcher.on('error', () => undefined);
  } catch {
    /* no inotify here: the slow look alone */
  }
  return () => {
    clearInterval(slow);
    watcher?.close();
  };
}

/**
 * pg_ctl start; ready when postmaster.pid says so (or pg_ctl -w returns first). Then waits until the server accepts
 * writes (the end of WAL replay after a restore): postmaster.pid says `ready` once the startup process has ended.
 */
export async function startPostgres(c: PgCluster, o: StartOptions = {}): Promise<Result<{ pid: number; alreadyRunning: boolean; durationMs: number }>> {
  const started = Date.now();
  const timeoutMs = o.timeoutMs ?? 120000;
  const timeoutS = Math.ceil(timeoutMs / 1000);
  let pid = postmasterPid(c);
  const alreadyRunning = pid !== null;
  if (!pid) {
    if (!existsSync(join(c.dataDir, 'PG_VERSION'))) return fail(`no PostgreSQL cluster in ${c.dataDir}: nothing to start`);
    const prep = await prepareRoot(c, o);
    if (!prep.ok) return prep;
    // pg_ctl -w tells a server that failed to start (its exit code); the status line tells a started one sooner
    const stale = readPidFile(join(c.dataDir, 'postmaster.pid'));
    const ctl = pgExec(c, 'pg_ctl', ['-D', c.dataDir, '-l', c.logFile, '-w', '-t', String(timeoutS), 'start'], { ...o, ...(o.env ? { env: o.env } : {}) });
    const quit = new AbortController();
    const up = waitPmStatus(c, ['standby', 'ready'], {
      signal: o.signal ? AbortSignal.any([o.signal, quit.signal]) : quit.signal,
      timeoutMs,
      ...(stale !== undefined ? { notPid: stale } : {}),
    });
    const first = await Promise.race([ctl.then((r) => ({ ctl: r })), up.then((s) => ({ status: s }))]);
    quit.abort();
    const ctlFailed = (r: ExecResult) => fail(`${describeFailure('pg_ctl start', r)}; server log: ${tailLog(c.logFile, 3)} (${c.logFile})`);
    const r = 'ctl' in first ? first.ctl : first.status === 'reached' ? undefined : await ctl;
    if (r && r.code !== 0) return ctlFailed(r);
    pid = postmasterPid(c);
    if (!pid) {
      const late = r ?? (await ctl);
      if (late.code !== 0) return ctlFailed(late);
      return fail(`pg_ctl start reported success but no postmaster runs; see ${c.logFile}`);
    }
  }
  if (o.waitPromoted !== false) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      // woken by the status line (no connection, no poll interval), at the latest each second; then the server's own word
      const st = await waitPmStatus(c, ['ready'], {
        ...(o.signal ? { signal: o.signal } : {}),
        timeoutMs: Math.max(0, Math.min(1000, end - Date.now())),
        running: true,
      });
      if (st === 'no postmaster') return fail(`the server stopped during WAL replay: ${tailLog(c.logFile, 3)} (${c.logFile})`);
      const inRec = await withClient(c, 'postgres', async (cl) => (await cl.query('SELECT pg_is_in_recovery() AS r')).rows[0].r as boolean).catch(() => null);
      if (inRec === false) break;
      if (!postmasterPid(c)) return fail(`the server stopped during WAL replay: ${tailLog(c.logFile, 3)} (${c.logFile})`);
      if (Date.now() > end || o.signal?.aborted) return fail(`the server was still replaying WAL after ${timeoutS} s; see ${c.logFile}`);
      // status `ready` but no answer yet (or an event missed): look again shortly
      if (st === 'reached') await sleep(20, o.signal);
    }
  }
  return ok({ pid, alreadyRunning, durationMs: Date.now() - started });
}

/** The end of a log as one line, for a reason. */
export function tailLog(file: string, lines: number, filter?: RegExp): string {
  const l = tailLines(file, lines, filter);
  return l.length ? l.join(' | ') : '(no log)';
}

/**
 * A fast shutdown (SIGINT, what `pg_ctl -m fast` sends), its end seen by inotify when the postmaster deletes
 * postmaster.pid (pg_ctl -w looks every 100 ms); when it does not end in time, the postmaster is killed (SIGQUIT, then SIGKILL).
 */
export async function stopPostgres(c: PgCluster, o: OpOptions & { timeoutMs?: number } = {}): Promise<Result<{ pid: number | null }>> {
  const pid = postmasterPid(c);
  if (!pid) return ok({ pid: null });
  const t = Date.now();
  let sent = true;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    sent = false;
  }
  if (sent && (await waitPostmasterGone(c, pid, o.timeoutMs ?? 60000))) {
    (o.log ?? noLog)(`PostgreSQL stopped (fast shutdown of postmaster ${pid}) in ${Date.now() - t} ms\n`);
    return ok({ pid });
  }
  if (processGone(pid)) return ok({ pid });
  (o.log ?? noLog)(`the fast shutdown of postmaster ${pid} did not end; killing it`);
  // SIGQUIT: PostgreSQL's immediate shutdown (crash recovery on next start); SIGKILL when even that hangs
  const killed = await stopProcess(pid, { name: `postmaster ${pid} of ${c.dataDir}`, graceMs: 5000, first: 'SIGQUIT' });
  return killed.ok ? ok({ pid }) : fail(`postmaster ${pid} of ${c.dataDir} does not stop`);
}

/** Until the postmaster has deleted postmaster.pid and exited: inotify on the data dir, a slow look in case an event is missed. */
function waitPostmasterGone(c: PgCluster, pid: number, timeoutMs: number): Promise<boolean> {
  const pidFile = join(c.dataDir, 'postmaster.pid');
  return new Promise((resolve) => {
    let settled = false;
    let exiting = false;
    const finish = (gone: boolean): void => {
      if (settled) return;
      settled = true;
      stopWatching();
      clearTimeout(timer);
      resolve(gone);
    };
    // the file goes first, the process a moment later (its last exit handlers): then a few short looks
    const look = (): void => {
      if (settled || existsSync(pidFile)) return;
      if (processGone(pid)) return finish(true);
      if (exiting) return;
      exiting = true;
      void waitPidGone(pid, 5000, processGone, 5).then((g) => (g ? finish(true) : (exiting = false)));
    };
    const stopWatching = onPidFile(c, look);
    const timer = setTimeout(() => finish(processGone(pid) && !existsSync(pidFile)), timeoutMs);
    look();
  });
}

/** Database system identifier from pg_control (works on a stopped cluster). */
export async function controlSystemId(c: PgCluster, o: OpOptions = {}): Promise<Result<string>> {
  if (!existsSync(join(c.dataDir, 'global', 'pg_control'))) return fail(`no pg_control in ${c.dataDir}`);
  const r = await pgExec(c, 'pg_controldata', ['-D', c.dataDir], { ...o, quietStdout: true, env: { LC_ALL: 'C' } });
  const m = /Database system identifier:\s*(\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) return fail(describeFailure('pg_controldata', r));
  return ok(m[1]!);
}

// ---------------------------------------------------------------------------------------------
// SQL access (unix socket, superuser, trust on the socket inside the castle)

export function connConfig(c: PgCluster, database = 'postgres'): pg.ClientConfig {
  return { host: c.socketDir, port: c.port, user: c.superuser, database, application_name: 'castle' };
}

export async function withClient<T>(c: PgCluster | pg.ClientConfig, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const cfg = 'dataDir' in c ? connConfig(c, database) : { ...c, database };
  const client = new pg.Client(cfg);
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs SQL (superuser); an error is a value. */
export async function sql(c: PgCluster, text: string, params: unknown[] = [], database = 'postgres'): Promise<Result<Record<string, unknown>[]>> {
  try {
    const rows = await withClient(c, database, async (cl) => (await cl.query(text, params)).rows as Record<string, unknown>[]);
    return ok(rows);
  } catch (err) {
    return fail(`SQL on ${c.socketDir}:${c.port}/${database} failed: ${(err as Error).message}`);
  }
}

/** system_identifier of the running server. */
export async function runningSystemId(c: PgCluster): Promise<Result<string>> {
  const r = await sql(c, 'SELECT system_identifier::text AS id FROM pg_control_system()');
  if (!r.ok) return r;
  return ok(String(r.value[0]?.id));
}
