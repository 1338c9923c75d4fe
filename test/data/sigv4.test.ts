// SigV4 verification (src/s3/sigv4.ts) against the published AWS vectors: the aws-sig-v4-test-suite
// (AKIDEXAMPLE, service `service`, 20150830T123600Z) and the S3 examples of "Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk", "... in Multiple Chunks" (seed
// signature) and "Authenticating Requests: Using Query Parameters" (AKIAIOSFODNN7EXAMPLE, 20130524T000000Z).
// Each vector must verify with the right secret and fail with SignatureDoesNotMatch with another one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  verifySigV4,
  canonicalize,
  uriEncodeCanonical,
  s3ErrorXml,
  SIGNATURE_MISMATCH_MESSAGE,
  type SigV4Request,
  type HeaderValue,
} from '../../src/s3/sigv4.js';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const EMPTY = sha('');

// ---- aws-sig-v4-test-suite
const SUITE_KEY = 'AKIDEXAMPLE';
const SUITE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SUITE_NOW = new Date('2015-08-30T12:36:00Z');
const SUITE_SCOPE = '20150830/us-east-1/service/aws4_request';
const suiteLookup = (id: string) => (id === SUITE_KEY ? SUITE_SECRET : undefined);
const wrongLookup = (id: string) => (id === SUITE_KEY ? SUITE_SECRET.replace('K7', 'K8') : undefined);

interface Vector {
  name: string;
  method: string;
  path: string;
  headers: Record<string, HeaderValue>;
  body?: string;
  signedHeaders: string;
  signature: string;
  /** canonical request line 2/3 (URI, query) when the vector documents them */
  uri?: string;
  query?: string;
  creqHash?: string;
}

const host = 'example.amazonaws.com';
const date = '20150830T123600Z';
const suite: Vector[] = [
  {
    name: 'get-vanilla',
    method: 'GET',
    path: '/',
    headers: { Host: host, 'X-Amz-Date': date },
    signedHeaders: 'host;x-amz-date',
    signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: 'get-vanilla-query-order-key-case',
    method: 'GET',
    path: '/?Param2=value2&Param1=value1',
    headers: { Host: host, 'X-Amz-Date': date },
    signedHeaders: 'host;x-amz-date',
    signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    query: 'Param1=value1&Param2=value2',
    creqHash: '816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0',
  },
  {
    name: 'post-x-www-form-urlencoded',
    method: 'POST',
    path: '/',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Host: host, 'X-Amz-Date': date },
    body: 'Param1=value1',
    signedHeaders: 'content-type;host;x-amz-date',
    signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a',
  },
  {
    name: 'get-header-key-duplicate',
    method: 'GET',
    path: '/',
    headers: { Host: host, 'My-Header1': ['value2', 'value2', 'value1'], 'X-Amz-Date': date },
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
  },
  {
    name: 'get-utf8',
    method: 'GET',
    path: '/%E1%88%B4',
    headers: { Host: host, 'X-Amz-Date': date },
    signedHeaders: 'host;x-amz-date',
    signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85',
    uri: '/%E1%88%B4',
    creqHash: '2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102',
  },
];

function authHeader(key: string, scope: string, signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${key}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

for (const v of suite) {
  test(`sigv4 suite vector ${v.name}: verifies, and a wrong secret or signature does not`, () => {
    const req: SigV4Request = {
      method: v.method,
      path: v.path,
      headers: { ...v.headers, Authorization: authHeader(SUITE_KEY, SUITE_SCOPE, v.signedHeaders, v.signature) },
      payloadHash: sha(v.body ?? ''),
    };
    const ok = verifySigV4(req, suiteLookup, SUITE_NOW, { service: 'service' });
    assert.deepEqual(ok, { ok: true, auth: 'sigv4-header', accessKeyId: SUITE_KEY });
    const bad = verifySigV4(req, wrongLookup, SUITE_NOW, { service: 'service' });
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.code, 'SignatureDoesNotMatch');
    assert.equal(!bad.ok && bad.status, 403);
    assert.equal(!bad.ok && bad.message, SIGNATURE_MISMATCH_MESSAGE);
    if (!bad.ok) {
      const creq = bad.details!['CanonicalRequest']!;
      if (v.uri) assert.equal(creq.split('\n')[1], v.uri);
      if (v.query !== undefined) assert.equal(creq.split('\n')[2], v.query);
      if (v.creqHash) assert.equal(sha(creq), v.creqHash);
      assert.equal(bad.details!['StringToSign'], `AWS4-HMAC-SHA256\n${date}\n${SUITE_SCOPE}\n${sha(creq)}`);
      assert.ok(!JSON.stringify(bad).includes(SUITE_SECRET.slice(5, 20)), 'no secret in the error');
    }
    const flipped = v.signature.slice(0, -1) + (v.signature.endsWith('0') ? '1' : '0');
    const tampered = verifySigV4(
      { ...req, headers: { ...req.headers, Authorization: authHeader(SUITE_KEY, SUITE_SCOPE, v.signedHeaders, flipped) } },
      suiteLookup,
      SUITE_NOW,
      { service: 'service' },
    );
    assert.equal(!tampered.ok && tampered.code, 'SignatureDoesNotMatch');
  });
}

test('sigv4 suite get-vanilla-query-order-key-case: the canonical request line by line', () => {
  const headers = new Map([
    ['host', host],
    ['x-amz-date', date],
  ]);
  const c = canonicalize('GET', '/?Param2=value2&Param1=value1', headers, ['host', 'x-amz-date'], EMPTY, date, SUITE_SCOPE);
  assert.equal(
    c.canonicalRequest,
    ['GET', '/', 'Param1=value1&Param2=value2', 'host:example.amazonaws.com', 'x-amz-date:20150830T123600Z', '', 'host;x-amz-date', EMPTY].join('\n'),
  );
  assert.equal(c.stringToSign, `AWS4-HMAC-SHA256\n${date}\n${SUITE_SCOPE}\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0`);
});

test('canonical encoding: once, uppercase hex, unreserved kept, S3 paths not normalized', () => {
  assert.equal(uriEncodeCanonical('/ሴ', true), '/%E1%88%B4');
  assert.equal(uriEncodeCanonical('/%e1%88%b4', true), '/%E1%88%B4');
  assert.equal(uriEncodeCanonical('/a b/c+d/$x', true), '/a%20b/c%2Bd/%24x');
  assert.equal(uriEncodeCanonical('/a%2Fb//./../c', true), '/a/b//./../c');
  assert.equal(uriEncodeCanonical('-._~AZaz09', false), '-._~AZaz09');
  assert.equal(uriEncodeCanonical('a/b=c&d', false), 'a%2Fb%3Dc%26d');
  assert.equal(uriEncodeCanonical('100%', false), '100%25');
  assert.equal(uriEncodeCanonical('😀', false), '%F0%9F%98%80');
});

// ---- the S3 documentation examples
const S3_KEY = 'AKIAIOSFODNN7EXAMPLE';
const S3_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const S3_NOW = new Date('2013-05-24T00:00:00Z');
const S3_SCOPE = '20130524/us-east-1/s3/aws4_request';
const s3Lookup = (id: string) => (id === S3_KEY ? S3_SECRET : undefined);
const s3Wrong = (id: string) => (id === S3_KEY ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEz' : undefined);
const bucketHost = 'examplebucket.s3.amazonaws.com';

const s3Examples: Vector[] = [
  {
    name: 'GET Object /test.txt with Range',
    method: 'GET',
    path: '/test.txt',
    headers: { Host: bucketHost, Range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z' },
    signedHeaders: 'host;range;x-amz-content-sha256;x-amz-date',
    signature: 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  },
  {
    name: 'PUT Object /test$file.text (raw $)',
    method: 'PUT',
    path: '/test$file.text',
    headers: {
      Host: bucketHost,
      Date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': sha('Welcome to Amazon S3.'),
    },
    signedHeaders: 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
    signature: '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    uri: '/test%24file.text',
  },
  {
    name: 'PUT Object /test%24file.text (encoded by the client)',
    method: 'PUT',
    path: '/test%24file.text',
    headers: {
      Host: bucketHost,
      Date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
    },
    signedHeaders: 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
    signature: '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
  },
  {
    name: 'GET Bucket Lifecycle /?lifecycle',
    method: 'GET',
    path: '/?lifecycle',
    headers: { Host: bucketHost, 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': EMPTY },
    signedHeaders: 'host;x-amz-content-sha256;x-amz-date',
    signature: 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
    query: 'lifecycle=',
  },
  {
    name: 'GET Bucket (list objects) /?max-keys=2&prefix=J',
    method: 'GET',
    path: '/?max-keys=2&prefix=J',
    headers: { Host: bucketHost, 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': EMPTY },
    signedHeaders: 'host;x-amz-content-sha256;x-amz-date',
    signature: '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
  },
  {
    name: 'PUT chunked upload: seed signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)',
    method: 'PUT',
    path: '/examplebucket/chunkObject.txt',
    headers: {
      Host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'Content-Encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'Content-Length': '66824',
    },
    signedHeaders: 'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
    signature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  },
];

for (const v of s3Examples) {
  test(`sigv4 S3 example ${v.name}: verifies, a wrong secret is SignatureDoesNotMatch`, () => {
    const req: SigV4Request = {
      method: v.method,
      path: v.path,
      headers: { ...v.headers, Authorization: authHeader(S3_KEY, S3_SCOPE, v.signedHeaders, v.signature) },
    };
    assert.deepEqual(verifySigV4(req, s3Lookup, S3_NOW), { ok: true, auth: 'sigv4-header', accessKeyId: S3_KEY });
    const bad = verifySigV4(req, s3Wrong, S3_NOW);
    assert.equal(!bad.ok && `${bad.status} ${bad.code}`, '403 SignatureDoesNotMatch');
    if (!bad.ok) {
      if (v.uri) assert.equal(bad.details!['CanonicalRequest']!.split('\n')[1], v.uri);
      if (v.query !== undefined) assert.equal(bad.details!['CanonicalRequest']!.split('\n')[2], v.query);
    }
    // a changed signed header breaks the signature
    const changed = verifySigV4({ ...req, headers: { ...req.headers, Host: 'other.s3.amazonaws.com' } }, s3Lookup, S3_NOW);
    assert.equal(!changed.ok && changed.code, 'SignatureDoesNotMatch');
  });
}

const PRESIGNED =
  '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

test('sigv4 S3 example presigned URL (query auth): verifies, wrong secret, expiry, tampering', () => {
  const req = { method: 'GET', path: PRESIGNED, headers: { host: bucketHost } };
  assert.deepEqual(verifySigV4(req, s3Lookup, new Date('2013-05-24T10:00:00Z')), { ok: true, auth: 'sigv4-query', accessKeyId: S3_KEY });
  const bad = verifySigV4(req, s3Wrong, S3_NOW);
  assert.equal(!bad.ok && `${bad.status} ${bad.code}`, '403 SignatureDoesNotMatch');
  const expired = verifySigV4(req, s3Lookup, new Date('2013-05-25T00:00:01Z'));
  assert.equal(!expired.ok && `${expired.status} ${expired.code} ${expired.message}`, '403 AccessDenied Request has expired');
  const early = verifySigV4(req, s3Lookup, new Date('2013-05-23T23:00:00Z'));
  assert.equal(!early.ok && early.code, 'AccessDenied');
  const otherKey = verifySigV4({ ...req, path: PRESIGNED.replace('/test.txt?', '/test2.txt?') }, s3Lookup, S3_NOW);
  assert.equal(!otherKey.ok && otherKey.code, 'SignatureDoesNotMatch');
  const longer = verifySigV4({ ...req, path: PRESIGNED.replace('X-Amz-Expires=86400', 'X-Amz-Expires=86401') }, s3Lookup, S3_NOW);
  assert.equal(!longer.ok && longer.code, 'SignatureDoesNotMatch');
  const week = verifySigV4({ ...req, path: PRESIGNED.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604801') }, s3Lookup, S3_NOW);
  assert.equal(!week.ok && `${week.status} ${week.code}`, '400 AuthorizationQueryParametersError');
  const both = verifySigV4({ ...req, headers: { ...req.headers, authorization: authHeader(S3_KEY, S3_SCOPE, 'host', '0'.repeat(64)) } }, s3Lookup, S3_NOW);
  assert.equal(!both.ok && `${both.status} ${both.code}`, '400 InvalidArgument');
});

// ---- the rules around the signature
const GET_TXT = s3Examples[0]!;
const getTxt = (
  headers: Record<string, HeaderValue> = {},
  signature = GET_TXT.signature,
  signed = GET_TXT.signedHeaders,
  key = S3_KEY,
  scope = S3_SCOPE,
): SigV4Request => ({
  method: 'GET',
  path: '/test.txt',
  headers: { ...GET_TXT.headers, ...headers, Authorization: authHeader(key, scope, signed, signature) },
});

test('sigv4 request time: RequestTimeTooSkewed beyond 15 minutes either way, like AWS', () => {
  assert.equal(verifySigV4(getTxt(), s3Lookup, new Date('2013-05-24T00:14:59Z')).ok, true);
  assert.equal(verifySigV4(getTxt(), s3Lookup, new Date('2013-05-23T23:45:01Z')).ok, true);
  for (const now of ['2013-05-24T00:15:01Z', '2013-05-23T23:44:59Z', '2026-11-26T00:00:00Z']) {
    const r = verifySigV4(getTxt(), s3Lookup, new Date(now));
    assert.equal(!r.ok && `${r.status} ${r.code}`, '403 RequestTimeTooSkewed', now);
    assert.equal(!r.ok && r.details!['RequestTime'], '20130524T000000Z');
  }
  const noDate = verifySigV4({ ...getTxt(), headers: { ...getTxt().headers, 'x-amz-date': undefined } }, s3Lookup, S3_NOW);
  assert.equal(!noDate.ok && `${noDate.status} ${noDate.code}`, '403 AccessDenied');
  const badDate = verifySigV4(getTxt({ 'x-amz-date': '20130231T000000Z' }), s3Lookup, S3_NOW);
  assert.equal(!badDate.ok && badDate.code, 'AccessDenied');
});

test('sigv4 rules: unknown key id, scope, unsigned x-amz headers, payload hash, other auth kinds', () => {
  const unknown = verifySigV4(getTxt({}, GET_TXT.signature, GET_TXT.signedHeaders, 'AKIDNOPE'), s3Lookup, S3_NOW);
  assert.equal(!unknown.ok && `${unknown.status} ${unknown.code}`, '403 InvalidAccessKeyId');
  const dateScope = verifySigV4(getTxt({}, GET_TXT.signature, GET_TXT.signedHeaders, S3_KEY, '20130523/us-east-1/s3/aws4_request'), s3Lookup, S3_NOW);
  assert.equal(!dateScope.ok && `${dateScope.status} ${dateScope.code}`, '400 AuthorizationHeaderMalformed');
  const service = verifySigV4(getTxt({}, GET_TXT.signature, GET_TXT.signedHeaders, S3_KEY, '20130524/us-east-1/ec2/aws4_request'), s3Lookup, S3_NOW);
  assert.equal(!service.ok && service.code, 'AuthorizationHeaderMalformed');
  // another region is another signature (the scope is part of the string to sign)
  const region = verifySigV4(getTxt({}, GET_TXT.signature, GET_TXT.signedHeaders, S3_KEY, '20130524/eu-west-1/s3/aws4_request'), s3Lookup, S3_NOW);
  assert.equal(!region.ok && region.code, 'SignatureDoesNotMatch');
  const noHost = verifySigV4(getTxt({}, GET_TXT.signature, 'range;x-amz-content-sha256;x-amz-date'), s3Lookup, S3_NOW);
  assert.equal(!noHost.ok && noHost.code, 'AuthorizationHeaderMalformed');
  const unsignedAmz = verifySigV4(getTxt({ 'x-amz-meta-evil': '1' }), s3Lookup, S3_NOW);
  assert.equal(!unsignedAmz.ok && `${unsignedAmz.status} ${unsignedAmz.code}`, '403 AccessDenied');
  assert.equal(!unsignedAmz.ok && unsignedAmz.details!['HeadersNotSigned'], 'x-amz-meta-evil');
  // an unsigned ordinary header is fine (user-agent, accept-encoding...)
  assert.equal(verifySigV4(getTxt({ 'User-Agent': 'x' }), s3Lookup, S3_NOW).ok, true);
  const noPayload = verifySigV4({ ...getTxt(), headers: { ...getTxt().headers, 'x-amz-content-sha256': undefined } }, s3Lookup, S3_NOW);
  assert.equal(!noPayload.ok && `${noPayload.status} ${noPayload.code}`, '400 InvalidRequest');
  const weirdPayload = verifySigV4(getTxt({ 'x-amz-content-sha256': 'nope' }), s3Lookup, S3_NOW);
  assert.equal(!weirdPayload.ok && `${weirdPayload.status} ${weirdPayload.code}`, '400 InvalidArgument');
  const malformed = verifySigV4({ method: 'GET', path: '/', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=x' } }, s3Lookup, S3_NOW);
  assert.equal(!malformed.ok && malformed.code, 'AuthorizationHeaderMalformed');
  const sigv4a = verifySigV4({ method: 'GET', path: '/', headers: { authorization: 'AWS4-ECDSA-P256-SHA256 Credential=x' } }, s3Lookup, S3_NOW);
  assert.equal(!sigv4a.ok && `${sigv4a.status} ${sigv4a.code}`, '400 InvalidArgument');
  assert.deepEqual(verifySigV4({ method: 'GET', path: '/b', headers: { host: 'h' } }, s3Lookup, S3_NOW), { ok: true, auth: 'none' });
  assert.deepEqual(verifySigV4({ method: 'GET', path: '/b', headers: { authorization: 'AWS AKID:c2ln' } }, s3Lookup, S3_NOW), { ok: true, auth: 'sigv2' });
});

test('s3ErrorXml: the standard S3 error body, escaped', () => {
  const xml = s3ErrorXml({ code: 'SignatureDoesNotMatch', message: SIGNATURE_MISMATCH_MESSAGE, details: { StringToSign: 'a<b&c' } }, 'REQ1');
  assert.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><StringToSign>a&lt;b&amp;c</StringToSign><RequestId>REQ1</RequestId></Error>',
  );
});

// ---- cross-check with the AWS SDK's own signer (what @aws-sdk/client-s3 uses), on awkward S3 keys
test('sigv4: requests signed by @smithy/signature-v4 verify (header and presigned), awkward keys and queries', async () => {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Hash } = await import('@smithy/hash-node');
  const secret = 'castle+secret/with=chars';
  const lookup = (id: string) => (id === 'CASTLEKEY' ? secret : undefined);
  const signer = new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: { accessKeyId: 'CASTLEKEY', secretAccessKey: secret },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false, // S3: the path is encoded once, by the client
    applyChecksum: true,
  });
  const now = new Date();
  const enc = (k: string) =>
    k
      .split('/')
      .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()))
      .join('/');
  const keys = [
    'b/plain.txt',
    "b/a b+c/(x)!*'~.txt",
    'b/ünï/😀',
    'b/pgbackrest/archive/main/15-1/000000010000000000000001-abc.gz',
    'b/dir//double',
    'b/$&=,;:@',
  ];
  for (const key of keys)
    for (const query of [{}, { 'list-type': '2', prefix: 'a b/ü', delimiter: '/', 'continuation-token': 'x+y/z==' }, { uploads: '' }]) {
      const request = {
        method: 'PUT',
        protocol: 'https:',
        hostname: 'localhost',
        port: 9443,
        path: '/' + enc(key),
        query: query as Record<string, string>,
        headers: { host: 'localhost:9443', 'x-amz-content-sha256': sha('body'), 'content-type': 'text/plain', 'x-amz-meta-who': '  a   b  ' },
        body: 'body',
      };
      const qs = Object.entries(query)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join('&');
      const target = request.path + (qs ? '?' + qs : '');
      const signed = await signer.sign(request, { signingDate: now });
      const r = verifySigV4({ method: 'PUT', path: target, headers: signed.headers }, lookup, now);
      assert.deepEqual(r, { ok: true, auth: 'sigv4-header', accessKeyId: 'CASTLEKEY' }, `${key} ${qs}: ${JSON.stringify(r)}`);
      const wrong = verifySigV4({ method: 'PUT', path: target, headers: signed.headers }, (id) => (lookup(id) ? 'other' : undefined), now);
      assert.equal(!wrong.ok && wrong.code, 'SignatureDoesNotMatch');
      // presigned GET of the same key (as @aws-sdk/s3-request-presigner: the payload is UNSIGNED-PAYLOAD)
      const pre = await signer.presign(
        { ...request, method: 'GET', headers: { host: 'localhost:9443', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, body: undefined },
        { signingDate: now, expiresIn: 600 },
      );
      const preQs = Object.entries(pre.query ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join('&');
      const rp = verifySigV4({ method: 'GET', path: `${pre.path}?${preQs}`, headers: pre.headers }, lookup, now);
      assert.deepEqual(rp, { ok: true, auth: 'sigv4-query', accessKeyId: 'CASTLEKEY' }, `presigned ${key}: ${JSON.stringify(rp)}`);
    }
});
