import { InfisicalSDK } from '@infisical/sdk';
import { Redactor } from './redactor.js';
import type { Result } from '../core/result.js';
import type { SecretSource } from './source.js';

export interface InfisicalOptions {
  /** e.g. https://app.infisical.com or a self-hosted URL (the SDK appends /api/...) */
  readonly siteUrl?: string;
  /** universal-auth machine identity */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly projectId: string;
  /** environment slug, e.g. `prod` */
  readonly environment: string;
  /** folder, default `/` */
  readonly secretPath?: string;
  /** values (and the client secret and token) are registered here as they are seen */
  readonly redactor?: Redactor;
}

/**
 * Infisical through the official SDK (universal-auth login, then the secrets of one
 * project/environment/path). `connect` logs in and loads the list once; `get`/`list` serve that
 * snapshot (a castle run wants one consistent view); `set` creates or updates the secret remotely.
 */
export class InfisicalSource implements SecretSource {
  readonly description: string;
  readonly #sdk: InfisicalSDK;
  readonly #opts: InfisicalOptions;
  readonly #values: Map<string, string>;
  readonly #redactor: Redactor;

  private constructor(sdk: InfisicalSDK, opts: InfisicalOptions, values: Map<string, string>, redactor: Redactor) {
    this.#sdk = sdk;
    this.#opts = opts;
    this.#values = values;
    this.#redactor = redactor;
    this.description = InfisicalSource.describe(opts);
  }

  static describe(opts: Pick<InfisicalOptions, 'siteUrl' | 'projectId' | 'environment' | 'secretPath'>): string {
    return `Infisical ${opts.siteUrl ?? 'https://app.infisical.com'} project ${opts.projectId} env ${opts.environment} path ${opts.secretPath ?? '/'}`;
  }

  static async connect(opts: InfisicalOptions): Promise<Result<InfisicalSource>> {
    const redactor = opts.redactor ?? new Redactor();
    redactor.add(opts.clientSecret);
    const where = InfisicalSource.describe(opts);
    const sdk = new InfisicalSDK(opts.siteUrl ? { siteUrl: opts.siteUrl } : {});
    try {
      await sdk.auth().universalAuth.login({ clientId: opts.clientId, clientSecret: opts.clientSecret });
    } catch (e) {
      return { ok: false, reason: `login (universal auth) to ${where} failed: ${redactor.redactError(e)}; check the client id/secret and the site URL` };
    }
    const token = sdk.auth().getAccessToken();
    if (token) redactor.add(token);
    let values: Map<string, string>;
    try {
      values = await InfisicalSource.#fetch(sdk, opts);
    } catch (e) {
      return {
        ok: false,
        reason: `listing secrets of ${where} failed: ${redactor.redactError(e)}; check the project id, environment and the identity's access`,
      };
    }
    for (const v of values.values()) redactor.add(v);
    return { ok: true, value: new InfisicalSource(sdk, opts, values, redactor) };
  }

  static async #fetch(sdk: InfisicalSDK, opts: InfisicalOptions): Promise<Map<string, string>> {
    const res = await sdk.secrets().listSecrets({
      projectId: opts.projectId,
      environment: opts.environment,
      secretPath: opts.secretPath ?? '/',
      expandSecretReferences: true,
      viewSecretValue: true,
    });
    const m = new Map<string, string>();
    for (const s of res.secrets ?? []) {
      if (typeof s.secretKey === 'string' && typeof s.secretValue === 'string') m.set(s.secretKey, s.secretValue);
    }
    return m;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#values.get(key);
  }

  async list(): Promise<string[]> {
    return [...this.#values.keys()];
  }

  async set(key: string, value: string): Promise<void> {
    this.#redactor.add(value);
    const base = { projectId: this.#opts.projectId, environment: this.#opts.environment, secretPath: this.#opts.secretPath ?? '/' };
    try {
      if (this.#values.has(key)) await this.#sdk.secrets().updateSecret(key, { ...base, secretValue: value });
      else await this.#sdk.secrets().createSecret(key, { ...base, secretValue: value });
    } catch (e) {
      // A write that fails is an environment problem the caller reports; the message is redacted.
      throw new Error(`storing '${key}' in ${this.description} failed: ${this.#redactor.redactError(e)}`);
    }
    this.#values.set(key, value);
  }
}
