// Verification of AWS Signature Version 4 (AWS4-HMAC-SHA256) for the local S3 endpoint. s3rver 3.7.1
// accepts any SigV4 request whose access key id exists; AWS S3 and MinIO recompute the signature and
// answer 403 SignatureDoesNotMatch. This module recomputes it, written from the documented algorithm:
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
//   https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
//   https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
// Pure: no I/O, no clock (the caller passes `now`), no state.
//
// Canonical request = METHOD \n canonical URI \n canonical query \n canonical headers \n \n signed headers \n payload hash
//   canonical URI: the path percent-decoded then encoded once (S3 does not double-encode, does not normalize)
//   canonical query: every parameter (but X-Amz-Signature), name and value encoded, sorted by name then value
//   canonical headers: `name:value` for each SignedHeaders name (lowercase), values trimmed, inner
//     whitespace runs collapsed to one space, repeated headers joined with ','
//   payload hash: x-amz-content-sha256 as sent (hex sha256, UNSIGNED-PAYLOAD or STREAMING-*; for aws-chunked
//     uploads only the seed signature of the headers is verified here, not the chunk signatures)
// String to sign = AWS4-HMAC-SHA256 \n <x-amz-date> \n <date>/<region>/<service>/aws4_request \n hex(sha256(canonical request))
// Signing key = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type HeaderValue = string | readonly string[] | undefined;

export interface SigV4Request {
  readonly method: string;
  /** the raw request target as received: path (percent-encoded) and query, e.g. `/bucket/a%20b?list-type=2` */
  readonly path: string;
  /** header names in any case; a repeated header as an array (in arrival order) */
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** payload hash when the request carries no x-amz-content-sha256 (generic, non-S3 services: the test suite) */
  readonly payloadHash?: string;
}

export interface SigV4Options {
  /** the service in the credential scope (default `s3`) */
  readonly service?: string;
  /** largest accepted difference between the request time and `now` (default 15 minutes, as AWS) */
  readonly maxSkewMs?: number;
}

export type SigV4Auth = 'sigv4-header' | 'sigv4-query' | 'sigv2' | 'none';

export type SigV4Result =
  | { readonly ok: true; readonly auth: SigV4Auth; readonly accessKeyId?: string }
  | {
      readonly ok: false;
      /** the S3 error code, e.g. SignatureDoesNotMatch */
      readonly code: string;
      readonly message: string;
      /** HTTP status */
      readonly status: number;
      readonly accessKeyId?: string;
      /** extra elements of the XML error body (no secrets: what AWS returns too) */
      readonly details?: Readonly<Record<string, string>>;
    };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_PRESIGN_EXPIRES = 604800; // one week
const PAYLOAD_HASH_RE =
  /^(?:[0-9a-fA-F]{64}|UNSIGNED-PAYLOAD|STREAMING-AWS4-HMAC-SHA256-PAYLOAD|STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER|STREAMING-UNSIGNED-PAYLOAD-TRAILER)$/;

export const SIGNATURE_MISMATCH_MESSAGE = 'The request signature we calculated does not match the signature you provided. Check your key and signing method.';

function fail(code: string, status: number, message: string, extra: { accessKeyId?: string; details?: Record<string, string> } = {}): SigV4Result {
  return { ok: false, code, status, message, ...extra };
}

const sha256Hex = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** The SigV4 signing key for a secret and a credential scope. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-decodes to bytes (malformed escapes stay literal), then encodes every byte but the unreserved
 * ones as %XX (uppercase); `/` is kept when `keepSlash` (paths). Idempotent on correctly encoded input. */
export function uriEncodeCanonical(raw: string, keepSlash: boolean): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '%' && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c === '%' ? c : String.fromCodePoint(raw.codePointAt(i)!), 'utf8')) bytes.push(b);
      if ((raw.codePointAt(i) ?? 0) > 0xffff) i++; // surrogate pair
    }
  }
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (b < 0x80 && (UNRESERVED.test(ch) || (keepSlash && ch === '/'))) out += ch;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** Query parameters decoded (for reading X-Amz-* values); `+` is kept literally, as SigV4 clients encode spaces as %20. */
function parseQuery(query: string): Array<{ rawName: string; rawValue: string; name: string; value: string }> {
  const out: Array<{ rawName: string; rawValue: string; name: string; value: string }> = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    out.push({ rawName, rawValue, name: safeDecode(rawName), value: safeDecode(rawValue) });
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Header values by lowercase name, repeated headers (and arrays) joined with ',', each value trimmed. */
function normalizeHeaders(headers: Readonly<Record<string, HeaderValue>>): Map<string, string> {
  const out = new Map<string, string[]>();
  for (const [name, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const key = name.toLowerCase();
    const list = out.get(key) ?? [];
    for (const one of typeof v === 'string' ? [v] : v) list.push(one.trim().replace(/\s+/g, ' '));
    out.set(key, list);
  }
  return new Map([...out].map(([k, v]) => [k, v.join(',')]));
}

export interface CanonicalParts {
  readonly canonicalRequest: string;
  readonly stringToSign: string;
}

/** The canonical request and the string to sign (exported for tests and for the error body). */
export function canonicalize(
  method: string,
  target: string,
  headers: ReadonlyMap<string, string>,
  signedHeaders: readonly string[],
  payloadHash: string,
  amzDate: string,
  scope: string,
  dropQueryParam?: string,
): CanonicalParts {
  const { path, query } = splitTarget(target);
  const canonicalUri = path === '' ? '/' : uriEncodeCanonical(path, true);
  const params = parseQuery(query)
    .filter((p) => p.name !== dropQueryParam)
    .map((p) => [uriEncodeCanonical(p.rawName, false), uriEncodeCanonical(p.rawValue, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const canonicalQuery = params.map(([n, v]) => `${n}=${v}`).join('&');
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${headers.get(h) ?? ''}\n`).join('');
  const canonicalRequest = [method.toUpperCase(), canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), payloadHash].join('\n');
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  return { canonicalRequest, stringToSign };
}

/** `20150830T123600Z` → Date (NaN date when malformed). */
function parseAmzDate(s: string | undefined): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? '');
  if (!m) return new Date(NaN);
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  // reject 20150231 and the like
  return t.getUTCDate() === d && t.getUTCMonth() === mo - 1 ? t : new Date(NaN);
}

interface Parsed {
  readonly auth: 'sigv4-header' | 'sigv4-query';
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  readonly signedHeaders: string[];
  readonly signature: string;
  readonly amzDate: string;
  readonly payloadHash: string;
  readonly dropQueryParam?: string;
  readonly expires?: number;
}

function parseCredential(credential: string): { accessKeyId: string; scopeDate: string; region: string; service: string; terminator: string } | null {
  const parts = credential.split('/');
  if (parts.length < 5) return null;
  const [scopeDate, region, service, terminator] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!accessKeyId) return null;
  return { accessKeyId, scopeDate, region, service, terminator };
}

/**
 * Verifies the SigV4 signature of a request the way AWS S3 does. Requests signed with Signature
 * Version 2 are reported as `sigv2` (s3rver verifies those itself); requests without any signature as
 * `none` (the caller decides: the local endpoint refuses them).
 */
export function verifySigV4(req: SigV4Request, lookupSecret: (accessKeyId: string) => string | undefined, now: Date, opts: SigV4Options = {}): SigV4Result {
  const expectedService = opts.service ?? 's3';
  const maxSkew = opts.maxSkewMs ?? 15 * 60 * 1000;
  const headers = normalizeHeaders(req.headers);
  const { query } = splitTarget(req.path);
  const qp = parseQuery(query);
  const qget = (name: string): string | undefined => qp.find((p) => p.name === name)?.value;
  const authorization = headers.get('authorization');
  const hasQueryV4 = qget('X-Amz-Algorithm') !== undefined;
  const hasQueryV2 = qget('Signature') !== undefined;

  const mechanisms = [authorization !== undefined, hasQueryV4, hasQueryV2].filter(Boolean).length;
  if (mechanisms === 0) return { ok: true, auth: 'none' };
  if (mechanisms > 1)
    return fail(
      'InvalidArgument',
      400,
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  if (hasQueryV2 || /^AWS /.test(authorization ?? '')) return { ok: true, auth: 'sigv2' };

  let p: Parsed;
  if (authorization !== undefined) {
    const sp = authorization.indexOf(' ');
    const algorithm = sp < 0 ? authorization : authorization.slice(0, sp);
    if (algorithm !== ALGORITHM) return fail('InvalidArgument', 400, 'Unsupported Authorization Type');
    const fields = new Map<string, string>();
    for (const part of authorization.slice(sp + 1).split(',')) {
      const t = part.trim();
      const eq = t.indexOf('=');
      if (eq > 0) fields.set(t.slice(0, eq), t.slice(eq + 1));
    }
    for (const f of ['Credential', 'SignedHeaders', 'Signature'])
      if (!fields.get(f))
        return fail(
          'AuthorizationHeaderMalformed',
          400,
          `The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature (missing ${f}).`,
        );
    const cred = parseCredential(fields.get('Credential')!);
    if (!cred)
      return fail(
        'AuthorizationHeaderMalformed',
        400,
        `The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
      );
    const amzDate = headers.get('x-amz-date') ?? headers.get('date');
    const payload = headers.get('x-amz-content-sha256') ?? req.payloadHash;
    if (payload === undefined)
      return fail('InvalidRequest', 400, 'Missing required header for this request: x-amz-content-sha256', { accessKeyId: cred.accessKeyId });
    if (!PAYLOAD_HASH_RE.test(payload) && req.payloadHash === undefined)
      return fail(
        'InvalidArgument',
        400,
        'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
        { accessKeyId: cred.accessKeyId },
      );
    p = {
      auth: 'sigv4-header',
      ...cred,
      signedHeaders: fields.get('SignedHeaders')!.split(';'),
      signature: fields.get('Signature')!,
      amzDate: amzDate ?? '',
      payloadHash: payload,
    };
  } else {
    const algorithm = qget('X-Amz-Algorithm');
    if (algorithm !== ALGORITHM) return fail('AuthorizationQueryParametersError', 400, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const need = ['X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'];
    if (need.some((n) => !qget(n)))
      return fail(
        'AuthorizationQueryParametersError',
        400,
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    const cred = parseCredential(qget('X-Amz-Credential')!);
    if (!cred)
      return fail(
        'AuthorizationQueryParametersError',
        400,
        'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
      );
    const expiresText = qget('X-Amz-Expires')!;
    const expires = /^\d+$/.test(expiresText) ? Number(expiresText) : NaN;
    if (!Number.isFinite(expires) || expires < 1 || expires > MAX_PRESIGN_EXPIRES)
      return fail('AuthorizationQueryParametersError', 400, 'X-Amz-Expires must be a number of seconds between 1 and 604800 (one week).', {
        accessKeyId: cred.accessKeyId,
      });
    p = {
      auth: 'sigv4-query',
      ...cred,
      signedHeaders: qget('X-Amz-SignedHeaders')!.split(';'),
      signature: qget('X-Amz-Signature')!,
      amzDate: qget('X-Amz-Date')!,
      payloadHash: qget('X-Amz-Content-Sha256') ?? headers.get('x-amz-content-sha256') ?? req.payloadHash ?? 'UNSIGNED-PAYLOAD',
      dropQueryParam: 'X-Amz-Signature',
      expires,
    };
  }

  const who = { accessKeyId: p.accessKeyId };
  const malformed = p.auth === 'sigv4-header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError';
  const requestTime = parseAmzDate(p.amzDate);
  if (Number.isNaN(requestTime.getTime()))
    return p.auth === 'sigv4-header'
      ? fail('AccessDenied', 403, 'AWS authentication requires a valid Date or x-amz-date header', who)
      : fail('AuthorizationQueryParametersError', 400, `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`, who);
  if (p.scopeDate !== p.amzDate.slice(0, 8))
    return fail(malformed, 400, `Invalid credential date "${p.scopeDate}". This date is not the same as X-Amz-Date: "${p.amzDate.slice(0, 8)}".`, who);
  if (p.service !== expectedService)
    return fail(malformed, 400, `The authorization header is malformed; incorrect service "${p.service}". This endpoint belongs to "${expectedService}".`, who);
  if (p.terminator !== 'aws4_request')
    return fail(malformed, 400, `The authorization header is malformed; incorrect terminal "${p.terminator}". This endpoint uses "aws4_request".`, who);
  if (!p.signedHeaders.includes('host')) return fail(malformed, 400, 'The host header must be signed (SignedHeaders does not include host).', who);
  if (p.signedHeaders.some((h) => h === '' || h !== h.toLowerCase()))
    return fail(malformed, 400, 'SignedHeaders must be a list of lowercase header names separated by semicolons.', who);
  if (!/^[0-9a-f]{64}$/.test(p.signature)) return fail('SignatureDoesNotMatch', 403, SIGNATURE_MISMATCH_MESSAGE, who);

  // time: AWS refuses header-signed requests more than 15 minutes off, presigned ones once expired
  const skew = now.getTime() - requestTime.getTime();
  const serverTime = now.toISOString().replace(/\.\d+Z$/, 'Z');
  if (p.auth === 'sigv4-header') {
    if (Math.abs(skew) > maxSkew)
      return fail('RequestTimeTooSkewed', 403, 'The difference between the request time and the current time is too large.', {
        ...who,
        details: { RequestTime: p.amzDate, ServerTime: serverTime, MaxAllowedSkewMilliseconds: String(maxSkew) },
      });
  } else {
    if (skew > p.expires! * 1000)
      return fail('AccessDenied', 403, 'Request has expired', {
        ...who,
        details: {
          'X-Amz-Expires': String(p.expires),
          Expires: new Date(requestTime.getTime() + p.expires! * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
          ServerTime: serverTime,
        },
      });
    if (-skew > maxSkew) return fail('AccessDenied', 403, 'Request is not valid yet', { ...who, details: { 'X-Amz-Date': p.amzDate, ServerTime: serverTime } });
  }

  const secret = lookupSecret(p.accessKeyId);
  if (secret === undefined)
    return fail('InvalidAccessKeyId', 403, 'The AWS Access Key Id you provided does not exist in our records.', {
      ...who,
      details: { AWSAccessKeyId: p.accessKeyId },
    });

  // every x-amz-* header sent must be signed (AWS: AccessDenied "There were headers present in the request which were not signed")
  if (p.auth === 'sigv4-header') {
    const unsigned = [...headers.keys()].filter((h) => h.startsWith('x-amz-') && !p.signedHeaders.includes(h)).sort();
    if (unsigned.length)
      return fail('AccessDenied', 403, 'There were headers present in the request which were not signed', {
        ...who,
        details: { HeadersNotSigned: unsigned.join(', ') },
      });
  }

  const scope = `${p.scopeDate}/${p.region}/${p.service}/${p.terminator}`;
  const parts = canonicalize(req.method, req.path, headers, p.signedHeaders, p.payloadHash, p.amzDate, scope, p.dropQueryParam);
  const expected = createHmac('sha256', signingKey(secret, p.scopeDate, p.region, p.service))
    .update(parts.stringToSign, 'utf8')
    .digest();
  const provided = Buffer.from(p.signature, 'hex');
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected))
    return fail('SignatureDoesNotMatch', 403, SIGNATURE_MISMATCH_MESSAGE, {
      ...who,
      details: {
        AWSAccessKeyId: p.accessKeyId,
        StringToSign: parts.stringToSign,
        SignatureProvided: p.signature,
        StringToSignBytes: hexBytes(parts.stringToSign),
        CanonicalRequest: parts.canonicalRequest,
        CanonicalRequestBytes: hexBytes(parts.canonicalRequest),
      },
    });
  return { ok: true, auth: p.auth, accessKeyId: p.accessKeyId };
}

function hexBytes(s: string): string {
  return (Buffer.from(s, 'utf8').toString('hex').match(/../g) ?? []).join(' ');
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The S3 XML error body of a failed verification. */
export function s3ErrorXml(r: { code: string; message: string; details?: Readonly<Record<string, string>> }, requestId: string): string {
  const extra = Object.entries(r.details ?? {})
    .filter(([k]) => /^[A-Za-z][A-Za-z0-9-]*$/.test(k))
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(r.code)}</Code><Message>${xmlEscape(r.message)}</Message>${extra}<RequestId>${xmlEscape(requestId)}</RequestId></Error>`;
}
