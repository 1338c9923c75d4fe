// S3 access: a client for any S3-compatible endpoint (path-style, custom CA), a probe that turns failures
// into sentences, and the bucket the data layer reads pgBackRest's repo1 through (s3Bucket).

import { Agent } from 'node:https';
import { S3Client, GetObjectCommand, ListObjectsV2Command, CreateBucketCommand, HeadObjectCommand, type _Object } from '@aws-sdk/client-s3';
import { fail, ok, type Result } from '../core/result.js';

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
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'RequestTimeout') return `S3 endpoint ${t.endpoint} did not answer in time (${what})`;
  const msg = (e.message ?? String(err)).split('\n')[0];
  return `${what} to ${t.endpoint} failed: ${status ? `HTTP ${status} ` : ''}${name && name !== 'Error' ? name + ': ' : ''}${msg}`;
}

/** Checks endpoint, TLS, credentials and bucket with one listing (fast, clear reasons). */
export async function probeS3(t: S3Target, o: { signal?: AbortSignal; client?: S3Client; timeoutMs?: number } = {}): Promise<Result> {
  const client =
    o.client ?? makeS3Client(t, { maxAttempts: 1, requestTimeoutMs: o.timeoutMs ?? 10000, connectionTimeoutMs: Math.min(o.timeoutMs ?? 3000, 3000) });
  try {
    await client.send(new ListObjectsV2Command({ Bucket: t.bucket, MaxKeys: 1 }), { abortSignal: o.signal });
    return ok(undefined);
  } catch (err) {
    return fail(describeS3Error(err, t, 'bucket listing'));
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
      return ok({ created: false });
    } catch (err) {
      if (httpStatus(err) !== 404) return fail(describeS3Error(err, t, 'bucket check'));
    }
    await client.send(new CreateBucketCommand({ Bucket: t.bucket }), { abortSignal: o.signal });
    return ok({ created: true });
  } catch (err) {
    return fail(describeS3Error(err, t, 'bucket creation'));
  } finally {
    client.destroy();
  }
}

export async function getObjectText(t: S3Target, key: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<string>> {
  const client = o.client ?? makeS3Client(t);
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: o.signal });
    const text = (await r.Body?.transformToString('utf8')) ?? '';
    return ok(text);
  } catch (err) {
    return fail(describeS3Error(err, t, `reading s3://${t.bucket}/${key}`));
  } finally {
    if (!o.client) client.destroy();
  }
}

export async function listObjects(t: S3Target, prefix: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<_Object[]>> {
  const client = o.client ?? makeS3Client(t);
  const objects: _Object[] = [];
  try {
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: o.signal });
      objects.push(...(r.Contents ?? []));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return ok(objects);
  } catch (err) {
    return fail(describeS3Error(err, t, `listing s3://${t.bucket}/${prefix}`));
  } finally {
    if (!o.client) client.destroy();
  }
}

/** Whether the object `key` exists: one HEAD request (listing a folder walks every file below it). */
export async function objectExists(t: S3Target, key: string, o: { signal?: AbortSignal; client?: S3Client } = {}): Promise<Result<boolean>> {
  const client = o.client ?? makeS3Client(t);
  try {
    await client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: o.signal });
    return ok(true);
  } catch (err) {
    if (httpStatus(err) === 404) return ok(false);
    return fail(describeS3Error(err, t, `checking s3://${t.bucket}/${key}`));
  } finally {
    if (!o.client) client.destroy();
  }
}

/** A bucket as the data layer reads it (src/data RepoBucket): probe, an object's text, whether one exists. */
export function s3Bucket(t: S3Target): {
  readonly endpoint: string;
  probe(signal?: AbortSignal): Promise<Result>;
  readText(key: string, signal?: AbortSignal): Promise<Result<string>>;
  exists(key: string, signal?: AbortSignal): Promise<Result<boolean>>;
} {
  const so = (signal?: AbortSignal) => (signal ? { signal } : {});
  return {
    endpoint: t.endpoint,
    probe: (signal) => probeS3(t, so(signal)),
    readText: (key, signal) => getObjectText(t, key, so(signal)),
    exists: (key, signal) => objectExists(t, key, so(signal)),
  };
}
