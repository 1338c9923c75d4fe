// Entry point of the local S3 endpoint daemon (started by server.ts as a detached process with
// `node --openssl-legacy-provider`). Usage: daemon.js --dir DIR --port N [--address 127.0.0.1] [--bucket NAME]
// Reads DIR/credentials.json and DIR/tls/{server.crt,server.key}; stores objects under DIR/data.
// s3rver does not verify Signature Version 4 (it accepts any secret for a known key id): the HTTPS server
// is ours, and its handler verifies the signature (./sigv4.ts) before s3rver's Koa app sees the request;
// a refused request gets the S3 XML error AWS would send (403 SignatureDoesNotMatch, RequestTimeTooSkewed...).

import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { processGone } from '../os/pid.js';
import { verifySigV4, s3ErrorXml, type HeaderValue } from './sigv4.js';

const require = createRequire(import.meta.url);

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    console.error(`s3 daemon: missing --${name}`);
    process.exit(2);
  }
  return v;
}

/** A key id as consoles show one (AKIA...WXYZ): enough to tell keys apart in the log, not a credential to copy. */
function maskKeyId(id: string): string {
  return id.length > 8 ? `${id.slice(0, 4)}...${id.slice(-4)}` : '...';
}

async function main(): Promise<void> {
  const dir = arg('dir');
  const port = Number(arg('port'));
  const address = arg('address', '127.0.0.1');
  const bucket = arg('bucket', '');
  if (!/^127\.\d+\.\d+\.\d+$/.test(address) && address !== 'localhost') {
    console.error(`s3 daemon: refusing to listen on ${address}: loopback only`);
    process.exit(2);
  }
  const creds = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as {
    accessKeyId: string;
    secretAccessKey: string;
  };
  const S3rver = require('s3rver');
  const AWSAccount = require('s3rver/lib/models/account');
  // only our generated key pair is accepted (the built-in S3RVER/S3RVER pair is revoked)
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(creds.accessKeyId, creds.secretAccessKey);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const key = readFileSync(join(dir, 'tls', 'server.key'));
  const cert = readFileSync(join(dir, 'tls', 'server.crt'));
  const server = new S3rver({
    address,
    port,
    directory: dataDir,
    silent: true,
    key,
    cert,
    vhostBuckets: false,
    configureBuckets: bucket ? [{ name: bucket, configs: [] }] : [],
  });
  // what S3rver#run does, with our own HTTPS server in front of the Koa app
  await server.configureBuckets();
  const app = server.callback() as (req: IncomingMessage, res: ServerResponse) => void;
  const lookupSecret = (id: string) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined);
  const https = createServer({ key, cert });
  // Expect: 100-continue is answered by node (100, then 'request'): a client that sends its body without
  // waiting (the SDK with its own agent does) and one that waits both reach a refusal below in order
  https.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (admit(req, res, lookupSecret)) app(req, res);
  });
  https.on('close', () => {
    server.logger?.exceptions?.unhandle();
    server.logger?.close();
  });
  await new Promise<void>((resolve, reject) => {
    https.once('error', reject);
    https.listen(port, address, () => {
      https.off('error', reject);
      resolve();
    });
  });
  server.httpServer = https; // S3rver#close closes it
  const info = https.address() as { address: string; port: number };
  console.log(`${new Date().toISOString()} s3 daemon pid ${process.pid} listening on https://${info.address}:${info.port} (data ${dataDir})`);
  let closing = false;
  const shutdown = (sig: string) => {
    if (closing) return;
    closing = true;
    console.log(`${new Date().toISOString()} s3 daemon: ${sig}, closing`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
    setTimeout(() => process.exit(0), 2000).unref();
  };
  // --owner-pid: exit when that process is gone (tests: no orphan endpoint when a test run is killed)
  const owner = Number(arg('owner-pid', '0'));
  if (owner > 0) {
    setInterval(() => {
      if (processGone(owner)) shutdown(`owner ${owner} gone`);
    }, 1000).unref();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** Verifies the request's signature; answers the S3 error itself and returns false when it is refused. */
function admit(req: IncomingMessage, res: ServerResponse, lookupSecret: (id: string) => string | undefined): boolean {
  let r: ReturnType<typeof verifySigV4>;
  try {
    r = verifySigV4(
      { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headersDistinct as Record<string, HeaderValue> },
      lookupSecret,
      new Date(),
    );
  } catch (err) {
    r = { ok: false, code: 'InternalError', status: 500, message: 'We encountered an internal error. Please try again.' };
    console.error(`${new Date().toISOString()} s3 daemon: signature check failed: ${(err as Error).message}`);
  }
  if (r.ok) {
    // s3rver accepts anonymous requests: AWS answers them AccessDenied on a private bucket (CORS preflights aside)
    if (r.auth !== 'none' || req.method === 'OPTIONS') return true;
    r = { ok: false, code: 'AccessDenied', status: 403, message: 'Access Denied' };
  }
  const refusal = r;
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const body = s3ErrorXml(refusal, requestId);
  const path = (req.url ?? '/').split('?')[0];
  console.log(
    `${new Date().toISOString()} s3 daemon: refused ${req.method} ${path}: ${refusal.status} ${refusal.code}${refusal.accessKeyId ? ` (key id ${maskKeyId(refusal.accessKeyId)})` : ''}`,
  );
  const respond = () => {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string | number> = { 'content-type': 'application/xml', 'x-amz-request-id': requestId };
    if (req.method === 'HEAD') {
      res.writeHead(refusal.status, headers);
      res.end();
    } else {
      headers['content-length'] = Buffer.byteLength(body);
      res.writeHead(refusal.status, headers);
      res.end(body);
    }
  };
  // a body being uploaded is read to its end first: answering while the client still writes would make it see
  // EPIPE/ECONNRESET instead of the 403 (loopback: reading and dropping it costs little)
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.complete) {
    req.on('error', () => {});
    req.on('end', respond);
    req.resume();
  } else respond();
  return false;
}

process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
  console.error(`${new Date().toISOString()} s3 daemon failed: ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});

main().catch((err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  console.error(`${new Date().toISOString()} s3 daemon failed: ${e.code ?? ''} ${e.message ?? String(err)}`);
  process.exit(1);
});
