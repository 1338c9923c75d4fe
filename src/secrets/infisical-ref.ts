import { fail, type Result } from '../core/result.js';
import type { Redactor } from './redactor.js';
import type { SecretSource } from './source.js';

/** An Infisical project/environment in a castle block; the machine identity comes from the environment variables named here. */
export interface InfisicalRef {
  readonly siteUrl?: string;
  readonly projectId: string;
  readonly environment: string;
  readonly secretPath?: string;
  /** names of environment variables holding the machine identity (never the values themselves) */
  readonly clientIdEnv?: string;
  readonly clientSecretEnv?: string;
}

/** JSON Schema of an InfisicalRef, for the targets' blocks */
export const infisicalRefSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['projectId', 'environment'],
  properties: {
    siteUrl: { type: 'string', pattern: '^https?://' },
    projectId: { type: 'string', minLength: 1 },
    environment: { type: 'string', minLength: 1 },
    secretPath: { type: 'string' },
    clientIdEnv: { type: 'string' },
    clientSecretEnv: { type: 'string' },
  },
} as const;

/**
 * Connects to the Infisical project a block names, with the machine identity read from the environment.
 * The SDK is loaded here, by the castles that use it only (it is large).
 */
export async function connectInfisical(
  ref: InfisicalRef,
  opts: { redactor?: Redactor; onSecret?: (value: string) => void } = {},
): Promise<Result<SecretSource>> {
  const { redactor, onSecret } = opts;
  const idVar = ref.clientIdEnv ?? 'INFISICAL_CLIENT_ID';
  const secretVar = ref.clientSecretEnv ?? 'INFISICAL_CLIENT_SECRET';
  const clientId = process.env[idVar];
  const clientSecret = process.env[secretVar];
  if (!clientId || !clientSecret) return fail(`the Infisical secret source needs ${idVar} and ${secretVar} in the environment`, { retryable: false });
  redactor?.add(clientSecret);
  onSecret?.(clientSecret);
  const { InfisicalSource } = await import('./infisical.js');
  return InfisicalSource.connect({
    clientId,
    clientSecret,
    projectId: ref.projectId,
    environment: ref.environment,
    ...(ref.siteUrl ? { siteUrl: ref.siteUrl } : {}),
    ...(ref.secretPath ? { secretPath: ref.secretPath } : {}),
    ...(redactor ? { redactor } : {}),
  });
}
