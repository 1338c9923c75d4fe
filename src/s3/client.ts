// S3 access for the data machinery: a client for any S3-compatible endpoint (path-style, custom CA),
// a probe that turns failures into sentences, and readers for pgBackRest's backup.info/archive.info.

import { Agent } from 'node:https';
import {
  S3Client,
  GetObjectCommand,
  ListObjectsV2Command,
  CreateBucketCommand,
  HeadObjectCommand,
  type _Object,
} from '@aws-sdk/client-s3';
import type { Result } from '../data/proc.js';

/** Where and how to reach an S3 bucket. `endpoint` like `https://localhost:9443` (or AWS's). */
export interface S3Target {
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** PEM of a CA to trust in addition to the system ones (local endpoint) */
  readonly caPem?: string;
  /** default true */
  readonly verifyTls?: boolean;
  /** default true (s3rver, MinIO); false for AWS virtual-host style */
  readonly pathStyle?: boolean;
}

export function makeS3Client(t: S3Target, opts: { maxAttempts?: number; connectionTimeoutMs?: number; requestTimeoutMs?: number } = {}): S3Client {
  const agent = new Agent({
    keepAlive: true,
    ...(t.caPem ? { ca: t.caPem } : {}),
    rejectUnauthorized: t.verifyTls !== false,
  });
  return new S3Client({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: t.pathStyle !== false,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    maxAttempts: opts.maxAttempts ?? 2,
    requestHandler: {
      httpsAgent: agent,
      connectionTimeout: opts.connectionTimeoutMs ?? 3000,
      requestTimeout: opts.requestTimeoutMs ?? 30000,
      throwOnRequestTimeout: true,
    },
  });
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'EPROTO',
]);

/** The HTTP status of an S3 client error, when the endpoint answered at all. */
function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** One sentence for a user, without secrets. */
export function describeS3Error(err: unknown, t: Pick<S3Target, 'endpoint' | 'bucket'>, what = 'S3 request'): string {
  const e = err as { name?: string; code?: string; message?: string; Code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const status = httpStatus(err);
  const name = e.Code ?? e.name;
  if (code === 'ECONNREFUSED') return `S3 endpoint ${t.endpoint} refused the connection: is it running?`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `S3 endpoint ${t.endpoint}: host name does not resolve`;
  if (code === 'ECONNRESET') return `S3 endpoint ${t.endpoint} reset the connection (${what})`;
  if (code && TLS_CODES.has(code)) return `TLS verification of S3 endpoint ${t.endpoint} failed (${code}): wrong CA file or host name?`;
  if (name === 'RequestTimeTooSkewed')
    return `S3 endpoint ${t.endpoint} refused the request: this machine's clock differs from the endpoint's by more than 15 minutes (HTTP ${status ?? 403} RequestTimeTooSkewed)`;
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'AccessDenied' || status === 403)
    return `S3 endpoint ${t.endpoint} rejected the credentials (HTTP ${status ?? 403} ${name && name !== 'Forbidden' && name !== 'Error' ? name : 'Forbidden'})`;
  if (name === 'NoSuchBucket' || (what.startsWith('bucket') && status === 404)) return `bucket '${t.bucket}' does not exist on ${t.endpoint}`;
  if (name === 'NoSuchKey') return `${what}: not found in bucket '${t.bucket}'`;
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'RequestTimeout')
    return `S3 endpoint ${t.endpoint} did not answer in time (${what})`;
  const msg = (e.message ?? String(err)).split('\n')[0];
  return `${what} to ${t.endpoint} failed: ${status ? `HTTP ${status} ` : ''}${name && name !== 'Error' ? name + ': ' : ''}${msg}`;
}

/** Checks endpoint, TLS, credentials and bucket with one listing (fast, clear reasons). */
export async function probeS3(t: S3Target, o: { signal?: AbortSignal; client?: S3Client; timeoutMs?: number } = {}): Promise<Result> {
  const client = o.client ?? makeS3Client(t, { maxAttempts: 1, requestTimeoutMs: o.timeoutMs ?? 10000, connectionTimeoutMs: Math.min(o.timeoutMs ?? 3000, 3000) });
  try {
    await client.send(new ListObjectsV2Command({ Bucket: t.bucket, MaxKeys: 1 }), { abortSignal: o.signal });
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: describeS3Error(err, t, 'bucket listing') };
  } finally {
    if (!o.client) client.destroy();
  }
}

/**
 * Creates the bucket unless it exists. Checked with a one-key listing rather than HeadBucket: a router
 * that answers HEAD with its GET handler (s3rver's does) lists up to 1,000 keys for every HEAD.
 */
export async function ensureBucket(t: S3Target, o: { signal?: AbortSignal } = {}): Promise<Result<{ created: boolean }>> {
  const client = makeS3Client(t, { maxAttempts: 1 });
  try {
    try {
      await client.send(new ListObjectsV2Command({ Bucket: t.bucket, MaxKeys: 1 }), { abortSignal: o.signal });
      return { ok: true, created: false };
    } catch (err) {
      if (httpStatus(err) !== 404) return { ok: false, reason: describeS3Error(err, t, 'bucket check') };
    }
    await client.send(new CreateBucketCommand({ Bucket: t.bucket }), { abortSignal: o.signal });
    return { ok: true, created: true };
  } catch (err) {
    return { ok: false, reason: describeS3Error(err, t, 'bucket creation') };
  } finally {
    client.destroy();
  }
}

export async function getObjectText(t: S3Target, key: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<{ text: string }>> {
  const client = o.client ?? makeS3Client(t);
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: o.signal });
    const text = (await r.Body?.transformToString('utf8')) ?? '';
    return { ok: true, text };
  } catch (err) {
    return { ok: false, reason: describeS3Error(err, t, `reading s3://${t.bucket}/${key}`) };
  } finally {
    if (!o.client) client.destroy();
  }
}

export async function listObjects(t: S3Target, prefix: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<{ objects: _Object[] }>> {
  const client = o.client ?? makeS3Client(t);
  const objects: _Object[] = [];
  try {
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: o.signal });
      objects.push(...(r.Contents ?? []));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return { ok: true, objects };
  } catch (err) {
    return { ok: false, reason: describeS3Error(err, t, `listing s3://${t.bucket}/${prefix}`) };
  } finally {
    if (!o.client) client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// pgBackRest info files (INI-like; values are JSON; system ids are 64-bit: kept as strings)

export type IniSections = Map<string, Map<string, string>>;

export function parsePgbackrestIni(text: string): IniSections {
  const out: IniSections = new Map();
  let cur: Map<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      cur = new Map();
      out.set(m[1]!, cur);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !cur) continue;
    cur.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** JSON.parse that keeps integers above 2^53 exact by turning `"db-system-id":123...` into strings first. */
function parseJsonBig(value: string): Record<string, unknown> {
  return JSON.parse(value.replace(/"(db-system-id)":(\d+)/g, '"$1":"$2"')) as Record<string, unknown>;
}

export interface RepoBackup {
  readonly label: string;
  readonly type: 'full' | 'diff' | 'incr';
  /** size of the database at backup time (bytes) */
  readonly size: number;
  /** bytes stored in the repo for this backup (compressed, delta) */
  readonly repoSizeDelta: number;
  readonly repoSize: number;
  readonly startTime: Date;
  readonly stopTime: Date;
  readonly archiveStart: string | null;
  readonly archiveStop: string | null;
  readonly prior: string | null;
  readonly dbId: number;
}

export interface RepoDbHistory {
  readonly dbId: number;
  readonly systemId: string;
  readonly version: string;
}

export interface BackupInfo {
  readonly backups: RepoBackup[];
  /** the stanza's current database (what new backups belong to) */
  readonly current: RepoDbHistory;
  readonly history: RepoDbHistory[];
}

export function parseBackupInfo(text: string): BackupInfo {
  const ini = parsePgbackrestIni(text);
  const backups: RepoBackup[] = [];
  for (const [label, v] of ini.get('backup:current') ?? new Map<string, string>()) {
    const j = parseJsonBig(v);
    const num = (k: string) => Number(j[k] ?? 0);
    backups.push({
      label,
      type: String(j['backup-type']) as RepoBackup['type'],
      size: num('backup-info-size'),
      repoSize: num('backup-info-repo-size'),
      repoSizeDelta: num('backup-info-repo-size-delta'),
      startTime: new Date(num('backup-timestamp-start') * 1000),
      stopTime: new Date(num('backup-timestamp-stop') * 1000),
      archiveStart: (j['backup-archive-start'] as string | undefined) ?? null,
      archiveStop: (j['backup-archive-stop'] as string | undefined) ?? null,
      prior: (j['backup-prior'] as string | undefined) ?? null,
      dbId: num('db-id'),
    });
  }
  backups.sort((a, b) => a.stopTime.getTime() - b.stopTime.getTime() || a.label.localeCompare(b.label));
  return { backups, ...parseDbSections(ini) };
}

function parseDbSections(ini: IniSections): { current: RepoDbHistory; history: RepoDbHistory[] } {
  const db = ini.get('db') ?? new Map<string, string>();
  const unq = (s: string | undefined) => (s ?? '').replace(/^"|"$/g, '');
  const current: RepoDbHistory = {
    dbId: Number(db.get('db-id') ?? 0),
    systemId: db.get('db-system-id') ?? '',
    version: unq(db.get('db-version')),
  };
  const history: RepoDbHistory[] = [];
  for (const [id, v] of ini.get('db:history') ?? new Map<string, string>()) {
    const j = parseJsonBig(v);
    history.push({ dbId: Number(id), systemId: String(j['db-system-id'] ?? ''), version: String(j['db-version'] ?? '') });
  }
  history.sort((a, b) => a.dbId - b.dbId);
  return { current, history };
}

export interface ArchiveInfo {
  readonly current: RepoDbHistory;
  readonly history: RepoDbHistory[];
}

export function parseArchiveInfo(text: string): ArchiveInfo {
  const ini = parsePgbackrestIni(text);
  // archive.info's [db] has db-id, db-system-id, db-version
  return parseDbSections(ini);
}

function repoKey(repoPath: string, ...parts: string[]): string {
  return [repoPath.replace(/^\/+|\/+$/g, ''), ...parts].filter((p) => p.length).join('/');
}

const backupInfoKey = (repoPath: string, stanza: string): string => repoKey(repoPath, 'backup', stanza, 'backup.info');

/** Reads `<repoPath>/backup/<stanza>/backup.info` through the S3 API. */
export async function readBackupInfo(t: S3Target, repoPath: string, stanza: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<{ info: BackupInfo }>> {
  const key = backupInfoKey(repoPath, stanza);
  const r = await getObjectText(t, key, o);
  if (!r.ok) return r;
  try {
    return { ok: true, info: parseBackupInfo(r.text) };
  } catch (err) {
    return { ok: false, reason: `s3://${t.bucket}/${key} is not a readable pgBackRest backup.info: ${(err as Error).message}` };
  }
}

/**
 * Does the repo hold `<repoPath>/backup/<stanza>/backup.info`? One HEAD request: listing the stanza's
 * folder instead walks every file of every backup (hundreds of ms on a filesystem-backed endpoint).
 */
export async function hasBackupInfo(t: S3Target, repoPath: string, stanza: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<{ exists: boolean }>> {
  const key = backupInfoKey(repoPath, stanza);
  const client = o.client ?? makeS3Client(t);
  try {
    await client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: o.signal });
    return { ok: true, exists: true };
  } catch (err) {
    if (httpStatus(err) === 404) return { ok: true, exists: false };
    return { ok: false, reason: describeS3Error(err, t, `checking s3://${t.bucket}/${key}`) };
  } finally {
    if (!o.client) client.destroy();
  }
}

/** Reads `<repoPath>/archive/<stanza>/archive.info` through the S3 API (db-system-id of the repo). */
export async function readArchiveInfo(t: S3Target, repoPath: string, stanza: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<{ info: ArchiveInfo }>> {
  const key = repoKey(repoPath, 'archive', stanza, 'archive.info');
  const r = await getObjectText(t, key, o);
  if (!r.ok) return r;
  try {
    return { ok: true, info: parseArchiveInfo(r.text) };
  } catch (err) {
    return { ok: false, reason: `s3://${t.bucket}/${key} is not a readable pgBackRest archive.info: ${(err as Error).message}` };
  }
}
