import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StepKind } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { DotenvSource } from '../../../secrets/dotenv.js';
import { applyDoc } from '../apply.js';
import type { SecretConfig } from '../config.js';
import type { KubeTargetSession } from '../session.js';

/**
 * A Secret whose values come from the operator's environment (or a dotenv file beside castle.yaml),
 * server-side applied as field manager castle: how a credential that must never be in a manifest, such
 * as the Infisical machine identity External Secrets reads everything else with, reaches the cluster.
 * The values are masked in every log and never leave the process except in the request body.
 */
export const run: StepKind<SecretConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const k = session.kube();
  if (!k.ok) return k;
  const file = c.dotenv ? resolve(ctx.castleDir, c.dotenv) : undefined;
  const dotenv = file && existsSync(file) ? await DotenvSource.open(file) : undefined;
  if (dotenv && !dotenv.ok) return fail(`secret ${c.namespace}/${c.name}: ${dotenv.reason}`, { retryable: false });
  const data: Record<string, string> = {};
  const missing: string[] = [];
  for (const [key, variable] of Object.entries(c.fromEnv)) {
    const value = process.env[variable] ?? (dotenv?.ok ? await dotenv.value.get(variable) : undefined);
    if (value === undefined || value === '') {
      missing.push(variable);
      continue;
    }
    ctx.secret(value);
    data[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  if (missing.length)
    return fail(
      `Secret ${c.namespace}/${c.name}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in the environment${file ? ` nor in ${file}` : ''}: export ${missing.length === 1 ? 'it' : 'them'} before running castle`,
      { retryable: false },
    );
  const object = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: c.name, namespace: c.namespace }, data };
  const r = await applyDoc(k.value, { object, where: `secret step ${c.namespace}/${c.name}` }, c.force === true);
  if (!r.ok) return r;
  return { ok: true, summary: `Secret ${c.namespace}/${c.name}: ${Object.keys(data).join(', ')} from ${Object.values(c.fromEnv).join(', ')}` };
};
