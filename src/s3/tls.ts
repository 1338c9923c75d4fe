// A private CA and a server certificate for the local S3 endpoint, made with openssl on first use.
// SAN DNS:localhost,IP:127.0.0.1 (pgBackRest 2.45 ignores IP SANs: it must use `localhost`).

import { existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fail, ok, type Result } from '../core/result.js';
import { describeFailure, exec, type OpOptions } from '../os/exec.js';

export interface TlsFiles {
  readonly caCert: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

export function tlsFiles(dir: string): TlsFiles {
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
  };
}

/** Creates the CA and server certificate in `dir` unless they already exist. */
export async function ensureTls(dir: string, o: OpOptions = {}): Promise<Result<{ files: TlsFiles; created: boolean }>> {
  const f = tlsFiles(dir);
  if (existsSync(f.caCert) && existsSync(f.cert) && existsSync(f.key)) return ok({ files: f, created: false });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ext = join(dir, 'server.ext');
  writeFileSync(
    ext,
    [
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  const steps: [string, string[]][] = [
    [
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        f.caKey,
        '-out',
        f.caCert,
        '-days',
        '3650',
        '-subj',
        '/CN=Castle local S3 CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
    ],
    [
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        f.key,
        '-out',
        join(dir, 'server.csr'),
        '-subj',
        '/CN=localhost',
      ],
    ],
    [
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        join(dir, 'server.csr'),
        '-CA',
        f.caCert,
        '-CAkey',
        f.caKey,
        '-CAcreateserial',
        '-out',
        f.cert,
        '-days',
        '825',
        '-sha256',
        '-extfile',
        ext,
      ],
    ],
  ];
  for (const [cmd, args] of steps) {
    const r = await exec(cmd, args, { ...o, logPrefix: '[openssl] ', cwd: dir });
    if (r.code !== 0) return fail(describeFailure('generating the S3 endpoint certificate with openssl', r));
  }
  chmodSync(f.caKey, 0o600);
  chmodSync(f.key, 0o600);
  chmodSync(f.caCert, 0o644);
  chmodSync(f.cert, 0o644);
  return ok({ files: f, created: true });
}
