// Entry point of the local S3 endpoint daemon (started by server.ts as a detached process with
// `node --openssl-legacy-provider`). Usage: daemon.js --dir DIR --port N [--address 127.0.0.1] [--bucket NAME]
// Reads DIR/credentials.json and DIR/tls/{server.crt,server.key}; stores objects under DIR/data.

import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

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
  const server = new S3rver({
    address,
    port,
    directory: dataDir,
    silent: true,
    key: readFileSync(join(dir, 'tls', 'server.key')),
    cert: readFileSync(join(dir, 'tls', 'server.crt')),
    vhostBuckets: false,
    configureBuckets: bucket ? [{ name: bucket, configs: [] }] : [],
  });
  const info = await server.run();
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
      try {
        process.kill(owner, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') shutdown(`owner ${owner} gone`);
      }
    }, 1000).unref();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
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
