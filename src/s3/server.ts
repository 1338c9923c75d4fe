// The local S3 endpoint: s3rver over HTTPS on loopback, run as a detached daemon (own process group,
// pid file, log file) in a directory that lives OUTSIDE the castle (it survives wipes).
// Layout of `dir`: tls/ (CA + server cert), credentials.json (0600), data/ (objects), s3.pid, s3.json, s3.log

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTls, tlsFiles } from './tls.js';
import { ensureBucket, probeS3, type S3Target } from './client.js';
import { fail, ok, type Result } from '../core/result.js';
import { runningDaemon, startDaemon, stopDaemon } from '../os/daemon.js';
import { noLog, passedOnEnv, type OpOptions } from '../os/exec.js';

export interface S3ServerOptions extends OpOptions {
  /** directory of the endpoint (outside the castle) */
  readonly dir: string;
  /** port on 127.0.0.1 */
  readonly port: number;
  /** bucket created at start (default `castle`) */
  readonly bucket?: string;
  readonly region?: string;
  /** how long to wait for the endpoint to answer (default 15 s) */
  readonly readyTimeoutMs?: number;
  /** the daemon exits when this process is gone (tests); default: it outlives us (it is immortal by design) */
  readonly ownerPid?: number;
}

export interface S3ServerInfo {
  /** what clients use: `https://localhost:<port>` (pgBackRest 2.45 ignores IP SANs) */
  readonly target: S3Target;
  /** host name for pgBackRest's repo1-s3-endpoint */
  readonly host: 'localhost';
  readonly port: number;
  readonly caFile: string;
  readonly pid: number;
  readonly reused: boolean;
  readonly logFile: string;
  readonly dir: string;
}

interface StateFile {
  pid: number;
  port: number;
  bucket: string;
  startedAt: string;
}

const DAEMON = fileURLToPath(new URL('./daemon.js', import.meta.url));

function paths(dir: string) {
  return {
    pid: join(dir, 's3.pid'),
    state: join(dir, 's3.json'),
    log: join(dir, 's3.log'),
    creds: join(dir, 'credentials.json'),
    tls: join(dir, 'tls'),
  };
}

/** Credentials of the local endpoint (generated once, kept in `dir/credentials.json`, mode 0600). */
export function localCredentials(dir: string): { accessKeyId: string; secretAccessKey: string } {
  const p = paths(dir).creds;
  if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const c = {
    accessKeyId: 'CASTLE' + randomBytes(7).toString('hex').toUpperCase(),
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  writeFileSync(p, JSON.stringify(c), { mode: 0o600 });
  chmodSync(p, 0o600);
  return c;
}

/** Our daemon's command line, `node .../daemon.js --dir DIR ...`, from any checkout (a recycled pid is someone else's). */
const ourDaemon = (dir: string) => (cmdline: string) => cmdline.includes(`daemon.js --dir ${dir} `);

/** The pid of our daemon for `dir` when it is alive (the pid file is checked against /proc cmdline). */
export function runningS3Pid(dir: string): number | null {
  return runningDaemon(paths(dir).pid, ourDaemon(dir)) ?? null;
}

function targetFor(dir: string, port: number, bucket: string, region: string): S3Target {
  const creds = localCredentials(dir);
  return {
    endpoint: `https://localhost:${port}`,
    region,
    bucket,
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    caPem: readFileSync(tlsFiles(paths(dir).tls).caCert, 'utf8'),
  };
}

/** Starts the endpoint (or reuses the one running for `dir`), creates the bucket, waits until it answers. */
export async function startS3Server(o: S3ServerOptions): Promise<Result<S3ServerInfo>> {
  const log = o.log ?? noLog;
  const bucket = o.bucket ?? 'castle';
  const region = o.region ?? 'us-east-1';
  const dir = o.dir;
  const p = paths(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tls = await ensureTls(p.tls, o);
  if (!tls.ok) return tls;
  localCredentials(dir);

  const existing = runningS3Pid(dir);
  if (existing !== null) {
    let state: StateFile | null = null;
    try {
      state = JSON.parse(readFileSync(p.state, 'utf8')) as StateFile;
    } catch {
      /* no state */
    }
    const port = state?.port ?? o.port;
    const target = targetFor(dir, port, bucket, region);
    const probe = await ensureBucket(target, o.signal ? { signal: o.signal } : {});
    if (probe.ok) {
      if (port !== o.port) log(`S3 endpoint already running for ${dir} on port ${port} (asked ${o.port}): reusing it`);
      else log(`S3 endpoint already running (pid ${existing}, ${target.endpoint}): reusing it`);
      return ok({ target, host: 'localhost', port, caFile: tls.value.files.caCert, pid: existing, reused: true, logFile: p.log, dir });
    }
    return fail(`the S3 endpoint of ${dir} runs (pid ${existing}) but does not answer: ${probe.reason}; see ${p.log}`);
  }

  if (!/^\d+$/.test(String(o.port)) || o.port <= 0 || o.port > 65535) return fail(`invalid S3 port ${o.port}`);
  if (!existsSync(DAEMON)) return fail(`S3 daemon script missing: ${DAEMON} (build with tsc first)`);
  const flags = process.allowedNodeEnvironmentFlags.has('--openssl-legacy-provider') ? ['--openssl-legacy-provider'] : [];
  const target = targetFor(dir, o.port, bucket, region);
  // the locale and PATH only: the operator's environment holds tokens (INFISICAL_TOKEN, a Proxmox API token...) that a
  // long-lived daemon has no use for
  const env = passedOnEnv();
  log(`S3 endpoint starting: https://localhost:${o.port}, log ${p.log}`);
  const started = await startDaemon({
    name: 'the S3 endpoint',
    command: process.execPath,
    args: [
      ...flags,
      DAEMON,
      '--dir',
      dir,
      '--port',
      String(o.port),
      '--address',
      '127.0.0.1',
      '--bucket',
      bucket,
      ...(o.ownerPid ? ['--owner-pid', String(o.ownerPid)] : []),
    ],
    cwd: dir,
    env,
    pidFile: p.pid,
    logFile: p.log,
    match: ourDaemon(dir),
    ready: async (signal) => (await probeS3(target, { timeoutMs: 1000, signal })).ok,
    readyTimeoutMs: o.readyTimeoutMs ?? 15000,
    graceMs: 5000,
    explainExit: (tail) => (/EADDRINUSE/.test(tail) ? `port ${o.port} on 127.0.0.1 is already in use: the S3 endpoint cannot listen there` : undefined),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!started.ok) return started;
  const pid = started.value.pid;
  writeFileSync(p.state, JSON.stringify({ pid, port: o.port, bucket, startedAt: new Date().toISOString() } satisfies StateFile));
  return ok({ target, host: 'localhost', port: o.port, caFile: tls.value.files.caCert, pid, reused: false, logFile: p.log, dir });
}

/** Stops the endpoint of `dir` by its pid (SIGTERM, then SIGKILL). Never touches other processes. */
export async function stopS3Server(dir: string, o: { timeoutMs?: number } = {}): Promise<Result<{ pid: number | null }>> {
  const r = await stopDaemon({ name: 'the S3 endpoint', pidFile: paths(dir).pid, match: ourDaemon(dir), graceMs: o.timeoutMs ?? 5000 });
  if (!r.ok) return r;
  return ok({ pid: r.value.stopped ? (r.value.pid ?? null) : null });
}

/** Whether the endpoint of `dir` is running and answering. */
export async function s3ServerStatus(
  dir: string,
  o: { bucket?: string; region?: string } = {},
): Promise<{ running: boolean; pid: number | null; answering: boolean; port: number | null }> {
  const pid = runningS3Pid(dir);
  if (pid === null) return { running: false, pid: null, answering: false, port: null };
  let port: number | null = null;
  try {
    port = (JSON.parse(readFileSync(paths(dir).state, 'utf8')) as StateFile).port;
  } catch {
    return { running: true, pid, answering: false, port: null };
  }
  const r = await probeS3(targetFor(dir, port, o.bucket ?? 'castle', o.region ?? 'us-east-1'));
  return { running: true, pid, answering: r.ok, port };
}
