import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fail, ok, type Result } from '../../core/result.js';
import { DotenvSource } from '../../secrets/dotenv.js';
import { PveApi, type TlsTrust } from './api.js';
import { adoptedIds, tagOf, type ProxmoxConfig } from './config.js';
import { Journal } from './journal.js';
import { rootUnlocker, type Unlocker } from './unlock.js';
import { DEFAULT_POLLING, type TaskPolling } from './tasks.js';

/** What the proxmox kinds share in one run. */
export interface ProxmoxSession {
  readonly api: PveApi;
  readonly config: ProxmoxConfig;
  readonly tag: string;
  readonly adopt: ReadonlySet<number>;
  readonly polling: TaskPolling;
  readonly journal: Journal;
  /** set when the block configures `unlock:` */
  readonly unlocker?: Unlocker;
}

export const INSECURE_WARNING =
  'TLS verification is OFF for the Proxmox API (`tls: {insecure: true}`): anyone on the path can read the API token; set `tls.ca` or `tls.fingerprint`';

/** The token secret, from its environment variable or dotenv file; never logged. */
export async function tokenSecret(c: ProxmoxConfig, castleDir: string): Promise<Result<string>> {
  const t = c.token;
  if (t.secretEnv) {
    const v = process.env[t.secretEnv];
    return v ? ok(v) : fail(`the Proxmox token secret is read from the environment variable ${t.secretEnv}, which is not set`, { retryable: false });
  }
  if (t.dotenv && t.key) {
    const file = isAbsolute(t.dotenv) ? t.dotenv : resolve(castleDir, t.dotenv);
    const src = await DotenvSource.open(file, { create: false });
    if (!src.ok) return fail(src.reason, { retryable: false });
    const v = await src.value.get(t.key);
    return v ? ok(v) : fail(`${src.value.description} has no ${t.key} (the Proxmox token secret)`, { retryable: false });
  }
  return fail('the proxmox block names no token secret (token.secretEnv or token.dotenv + key)', { retryable: false });
}

export function tlsTrust(c: ProxmoxConfig, castleDir: string): Result<TlsTrust> {
  if (c.tls.ca) {
    const file = isAbsolute(c.tls.ca) ? c.tls.ca : resolve(castleDir, c.tls.ca);
    try {
      return ok({ kind: 'ca', caPem: readFileSync(file, 'utf8') });
    } catch (e) {
      return fail(`cannot read the Proxmox CA file ${file}: ${(e as Error).message}`, { retryable: false });
    }
  }
  if (c.tls.fingerprint) return ok({ kind: 'fingerprint', sha256: c.tls.fingerprint });
  if (c.tls.insecure) return ok({ kind: 'insecure' });
  return fail('the proxmox block sets no TLS trust (tls.ca, tls.fingerprint or tls.insecure)', { retryable: false });
}

export async function openApi(
  c: ProxmoxConfig,
  castleDir: string,
  opts: { secret?: (v: string) => void; log?: (l: string) => void } = {},
): Promise<Result<PveApi>> {
  const secret = await tokenSecret(c, castleDir);
  if (!secret.ok) return secret;
  opts.secret?.(secret.value);
  const trust = tlsTrust(c, castleDir);
  if (!trust.ok) return trust;
  return ok(new PveApi({ endpoint: c.endpoint, tokenId: c.token.id, tokenSecret: secret.value, trust: trust.value, ...(opts.log ? { log: opts.log } : {}) }));
}

/** root@pam's unlocker when the block asks for one; its password is registered as a secret */
export function openUnlocker(c: ProxmoxConfig, castleDir: string, secret?: (v: string) => void): Result<Unlocker | undefined> {
  if (!c.unlock) return ok(undefined);
  const password = process.env[c.unlock.passwordEnv];
  if (!password) return fail(`unlock: root@pam's password is read from ${c.unlock.passwordEnv}, which is not set`, { retryable: false });
  secret?.(password);
  const trust = tlsTrust(c, castleDir);
  if (!trust.ok) return trust;
  return ok(rootUnlocker(c.endpoint, trust.value, password));
}

export function openSession(c: ProxmoxConfig, api: PveApi, dirs: { stateDir: string; castleName: string }, unlocker?: Unlocker): ProxmoxSession {
  return {
    ...(unlocker ? { unlocker } : {}),
    api,
    config: c,
    tag: tagOf(c, dirs.castleName),
    adopt: adoptedIds(c),
    polling: { ...DEFAULT_POLLING, ...(c.polling?.firstMs ? { firstMs: c.polling.firstMs } : {}), ...(c.polling?.maxMs ? { maxMs: c.polling.maxMs } : {}) },
    journal: new Journal(join(dirs.stateDir, 'proxmox', 'journal.json')),
  };
}
