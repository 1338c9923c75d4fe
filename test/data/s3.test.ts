// Local S3 endpoint (real s3rver daemon over TLS), the S3 client, pgBackRest info parsing, the s3rver patch.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startS3Server, stopS3Server, s3ServerStatus, runningS3Pid } from '../../src/s3/server.js';
import { makeS3Client, probeS3, listObjects, objectExists, s3Bucket } from '../../src/s3/client.js';
import { backupInfoKey, parseBackupInfo } from '../../src/data/backup-info.js';
import { pidAlive, processGone } from '../../src/os/pid.js';
import { resolvePgBin, installedPgMajors } from '../../src/data/postgres.js';
import { freePort, tempDir, rmDir, collector } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) {
    await stopS3Server(d);
    rmDir(d);
  }
});

test('s3 endpoint: TLS start, bucket, reuse, wrong credentials, stop by pid, restart keeps data', async () => {
  const dir = tempDir('s3');
  dirs.push(dir);
  const port = await freePort();
  const { log, lines } = collector();
  const s = await startS3Server({ dir, port, bucket: 'pgbackrest', log, ownerPid: process.pid });
  assert.ok(s.ok, !s.ok ? s.reason : '');
  assert.equal(s.value.reused, false);
  assert.equal(s.value.target.endpoint, `https://localhost:${port}`);
  assert.ok(pidAlive(s.value.pid));
  // CA + cert with the SANs pgBackRest needs
  const text = execFileSync('openssl', ['x509', '-in', join(dir, 'tls', 'server.crt'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
  assert.match(text, /DNS:localhost/);
  assert.match(text, /IP Address:127\.0\.0\.1/);
  execFileSync('openssl', ['verify', '-CAfile', join(dir, 'tls', 'ca.crt'), join(dir, 'tls', 'server.crt')]);
  assert.equal(statSync(join(dir, 'credentials.json')).mode & 0o777, 0o600);
  // the daemon is its own process group leader with pid and log files
  assert.equal(Number(readFileSync(join(dir, 's3.pid'), 'utf8')), s.value.pid);
  const pgid = Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(s.value.pid)], { encoding: 'utf8' }).trim());
  assert.equal(pgid, s.value.pid);
  assert.ok(existsSync(join(dir, 's3.log')));

  // the bucket exists and answers through TLS verified with our CA
  assert.deepEqual(await probeS3(s.value.target), { ok: true, value: undefined });
  // TLS is really verified: without our CA the client refuses
  const noCa = await probeS3({ ...s.value.target, caPem: undefined as unknown as string });
  assert.equal(noCa.ok, false);
  assert.match(!noCa.ok ? noCa.reason : '', /TLS verification/);

  // reuse
  const again = await startS3Server({ dir, port, bucket: 'pgbackrest', log, ownerPid: process.pid });
  assert.ok(again.ok && again.value.reused && again.value.pid === s.value.pid);

  // wrong access key
  const bad = await probeS3({ ...s.value.target, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.reason : '', /rejected the credentials \(HTTP 403 InvalidAccessKeyId\)/);

  // listing over 1000 keys (continuation tokens: needs --openssl-legacy-provider)
  const client = makeS3Client(s.value.target);
  const keys = Array.from({ length: 1005 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
  for (let i = 0; i < keys.length; i += 50)
    await Promise.all(keys.slice(i, i + 50).map((k) => client.send(new PutObjectCommand({ Bucket: 'pgbackrest', Key: k, Body: 'x' }))));
  const listed = await listObjects(s.value.target, 'many/', { client });
  assert.ok(listed.ok, !listed.ok ? listed.reason : '');
  assert.equal(listed.value.length, 1005);
  // patched s3rver: a delimiter listing reports a common prefix holding only deep objects
  await client.send(new PutObjectCommand({ Bucket: 'pgbackrest', Key: 'deep/a/b/c.txt', Body: 'x' }));
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const l = await client.send(new ListObjectsV2Command({ Bucket: 'pgbackrest', Prefix: 'deep/', Delimiter: '/' }));
  assert.deepEqual(
    (l.CommonPrefixes ?? []).map((p) => p.Prefix),
    ['deep/a/'],
  );
  client.destroy();

  // stop by pid, then the probe says what is wrong
  const st = await stopS3Server(dir);
  assert.ok(st.ok && st.value.pid === s.value.pid);
  assert.ok(processGone(s.value.pid));
  assert.equal(runningS3Pid(dir), null);
  const down = await probeS3(s.value.target);
  assert.match(!down.ok ? down.reason : '', /refused the connection: is it running\?/);
  assert.equal((await s3ServerStatus(dir)).running, false);

  // restart in the same dir: same CA and credentials, data kept
  const r = await startS3Server({ dir, port, bucket: 'pgbackrest', log, ownerPid: process.pid });
  assert.ok(r.ok && !r.value.reused, !r.ok ? r.reason : '');
  assert.equal(r.value.target.caPem, s.value.target.caPem);
  assert.equal(r.value.target.secretAccessKey, s.value.target.secretAccessKey);
  const kept = await listObjects(r.value.target, 'many/');
  assert.ok(kept.ok && kept.value.length === 1005);
  // secrets never logged
  assert.ok(!lines.some((x) => x.includes(s.value.target.secretAccessKey)));
});

test('s3 endpoint verifies SigV4: a wrong secret is 403 SignatureDoesNotMatch, skew, presigned URLs, no anonymous access', async () => {
  const dir = tempDir('s3sig');
  dirs.push(dir);
  const s = await startS3Server({ dir, port: await freePort(), bucket: 'sig', ownerPid: process.pid });
  assert.ok(s.ok, !s.ok ? s.reason : '');
  const t = s.value.target;
  assert.deepEqual(await probeS3(t), { ok: true, value: undefined });
  // right key id, wrong secret: refused like AWS / MinIO (s3rver alone accepted it)
  const wrong = { ...t, secretAccessKey: t.secretAccessKey.slice(0, -1) + (t.secretAccessKey.endsWith('A') ? 'B' : 'A') };
  const bad = await probeS3(wrong);
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.reason : '', /rejected the credentials \(HTTP 403 SignatureDoesNotMatch\)/);
  const badList = await listObjects(wrong, '');
  assert.match(!badList.ok ? badList.reason : '', /HTTP 403 SignatureDoesNotMatch/);
  // an upload with the wrong secret stores nothing, small or large (the SDK may send Expect: 100-continue)
  const wc = makeS3Client(wrong, { maxAttempts: 1 });
  for (const body of ['x', Buffer.alloc(6 * 1024 * 1024, 1)]) {
    await assert.rejects(
      wc.send(new PutObjectCommand({ Bucket: 'sig', Key: 'nope', Body: body })),
      (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e.name === 'SignatureDoesNotMatch' && e.$metadata?.httpStatusCode === 403,
    );
  }
  wc.destroy();
  const rc = makeS3Client(t);
  await rc.send(new PutObjectCommand({ Bucket: 'sig', Key: 'big', Body: Buffer.alloc(6 * 1024 * 1024, 2) }));
  await rc.send(new PutObjectCommand({ Bucket: 'sig', Key: 'dir/a b+c(ü).txt', Body: 'hello' }));
  const listed = await listObjects(t, '');
  assert.ok(listed.ok, !listed.ok ? listed.reason : '');
  assert.deepEqual(listed.value.map((o) => o.Key).sort(), ['big', 'dir/a b+c(ü).txt']);
  // a stanza's backup.info, found with one HEAD request: present, absent, and refused credentials are three answers
  await rc.send(new PutObjectCommand({ Bucket: 'sig', Key: 'repo/backup/db/backup.info', Body: '[backup:current]\n' }));
  assert.deepEqual(await objectExists(t, backupInfoKey('/repo', 'db')), { ok: true, value: true });
  assert.deepEqual(await objectExists(t, backupInfoKey('/repo', 'other')), { ok: true, value: false });
  const refused = await objectExists(wrong, backupInfoKey('/repo', 'db'));
  assert.equal(refused.ok, false);
  assert.match(!refused.ok ? refused.reason : '', /403/);
  rc.destroy();

  // raw requests: the S3 XML error body, clock skew, anonymous access, presigned URLs
  const { request } = await import('node:https');
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Hash } = await import('@smithy/hash-node');
  const port = Number(new URL(t.endpoint).port);
  const raw = (method: string, path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', servername: 'localhost', port, method, path, headers, ca: t.caPem }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      r.on('error', reject);
      r.end();
    });
  const signer = (secret: string) =>
    new SignatureV4({
      service: 's3',
      region: t.region,
      credentials: { accessKeyId: t.accessKeyId, secretAccessKey: secret },
      sha256: Hash.bind(null, 'sha256'),
      uriEscapePath: false,
    });
  const base = {
    method: 'GET',
    protocol: 'https:',
    hostname: 'localhost',
    port,
    path: '/sig/dir/a%20b%2Bc%28%C3%BC%29.txt',
    query: {},
    headers: { host: `localhost:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  };
  const good = await signer(t.secretAccessKey).sign(base);
  assert.deepEqual(await raw('GET', base.path, good.headers), { status: 200, body: 'hello' });
  const forged = await signer(wrong.secretAccessKey).sign(base);
  const f = await raw('GET', base.path, forged.headers);
  assert.equal(f.status, 403);
  assert.match(
    f.body,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>SignatureDoesNotMatch<\/Code><Message>The request signature we calculated does not match the signature you provided\. Check your key and signing method\.<\/Message>/,
  );
  assert.ok(!f.body.includes(t.secretAccessKey) && !f.body.includes(wrong.secretAccessKey));
  const skewed = await signer(t.secretAccessKey).sign(base, { signingDate: new Date(Date.now() - 20 * 60 * 1000) });
  const sk = await raw('GET', base.path, skewed.headers);
  assert.equal(sk.status, 403);
  assert.match(sk.body, /<Code>RequestTimeTooSkewed<\/Code>/);
  const anon = await raw('GET', '/sig?list-type=2', { host: `localhost:${port}` });
  assert.equal(anon.status, 403);
  assert.match(anon.body, /<Code>AccessDenied<\/Code>/);
  const pre = await signer(t.secretAccessKey).presign(
    { ...base, headers: { host: `localhost:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { expiresIn: 300 },
  );
  const qs = Object.entries(pre.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  assert.deepEqual(await raw('GET', `${base.path}?${qs}`, { host: `localhost:${port}` }), { status: 200, body: 'hello' });
  const preBad = await raw('GET', `${base.path}?${qs.replace(/X-Amz-Expires=300/, 'X-Amz-Expires=301')}`, { host: `localhost:${port}` });
  assert.equal(preBad.status, 403);
  assert.match(preBad.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  // refusals are logged (the key id masked as consoles show it, never a secret)
  const logText = readFileSync(join(dir, 's3.log'), 'utf8');
  assert.match(logText, /refused GET \/sig\/?: 403 SignatureDoesNotMatch \(key id CAST\.\.\.[0-9A-F]{4}\)/);
  assert.ok(!logText.includes(t.secretAccessKey) && !logText.includes(wrong.secretAccessKey) && !logText.includes(t.accessKeyId));
});

test('s3 endpoint: a busy port is a clear failure', async () => {
  const dir = tempDir('s3busy');
  dirs.push(dir);
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const port = (srv.address() as { port: number }).port;
  try {
    const s = await startS3Server({ dir, port, readyTimeoutMs: 8000, ownerPid: process.pid });
    assert.equal(s.ok, false);
    assert.match(!s.ok ? s.reason : '', new RegExp(`port ${port} on 127.0.0.1 is already in use`));
  } finally {
    srv.close();
  }
});

test('backup.info parsing keeps 64-bit system ids exact; text that is not one is an error with its line', () => {
  const text = `[backrest]
backrest-format=5
backrest-version="2.45"

[backup:current]
20261126-061821F={"backrest-format":5,"backrest-version":"2.45","backup-archive-start":"000000010000000000000003","backup-archive-stop":"000000010000000000000004","backup-info-repo-size":9722777,"backup-info-repo-size-delta":9722777,"backup-info-size":32143281,"backup-info-size-delta":32143281,"backup-timestamp-start":1795673901,"backup-timestamp-stop":1795673905,"backup-type":"full","db-id":1,"option-archive-check":true}
20261126-061821F_20261126-061907I={"backup-info-repo-size":9893257,"backup-info-repo-size-delta":5477271,"backup-info-size":32806833,"backup-info-size-delta":1,"backup-prior":"20261126-061821F","backup-timestamp-start":1795673947,"backup-timestamp-stop":1795673948,"backup-type":"incr","db-id":1}

[db]
db-catalog-version=202209061
db-control-version=1300
db-id=2
db-system-id=7712360838990192932
db-version="15"

[db:history]
1={"db-catalog-version":202209061,"db-control-version":1300,"db-system-id":7712360670005000240,"db-version":"15"}
2={"db-catalog-version":202209061,"db-control-version":1300,"db-system-id":7712360838990192932,"db-version":"15"}
`;
  const b = parseBackupInfo(text);
  assert.equal(b.backups.length, 2);
  assert.equal(b.backups[1]!.type, 'incr');
  assert.equal(b.backups[1]!.prior, '20261126-061821F');
  assert.equal(b.backups[0]!.size, 32143281);
  assert.equal(b.backups[0]!.stopTime.getTime(), 1795673905000);
  assert.equal(b.current.systemId, '7712360838990192932');
  assert.equal(b.current.version, '15');
  assert.deepEqual(
    b.history.map((h) => h.systemId),
    ['7712360670005000240', '7712360838990192932'],
  );
  assert.throws(() => parseBackupInfo('db-id=1\n'), /line 1: option 'db-id' appears before any \[section\]/);
});

test('a missing backup.info read through the bucket is a value, not an exception', async () => {
  const dir = tempDir('s3info');
  dirs.push(dir);
  const s = await startS3Server({ dir, port: await freePort(), bucket: 'b', ownerPid: process.pid });
  assert.ok(s.ok, !s.ok ? s.reason : '');
  const r = await s3Bucket(s.value.target).readText(backupInfoKey('/pgbackrest', 'nope'));
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', /not found in bucket 'b'/);
});

test('postgres majors: a version not installed names the installed ones', () => {
  const majors = installedPgMajors();
  assert.ok(majors.length > 0, 'a PostgreSQL server must be installed (scripts/install-deps.sh)');
  const ok = resolvePgBin(majors[0]);
  assert.ok(ok.ok);
  const r = resolvePgBin(99);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', new RegExp(`PostgreSQL 99 is not installed on this machine; installed: ${majors.join(', ')}`));
});

test('s3rver patch: applied (postinstall) and idempotent', () => {
  const out = execFileSync(process.execPath, ['scripts/s3rver-patch.mjs', '--check'], { encoding: 'utf8' });
  assert.match(out, /already patched \(2 hunks\)/);
  const again = execFileSync(process.execPath, ['scripts/s3rver-patch.mjs'], { encoding: 'utf8' });
  assert.match(again, /already patched/);
});
