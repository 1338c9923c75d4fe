import { randomBytes } from 'node:crypto';
import type { Redactor } from './redactor.js';
import type { Result } from '../core/result.js';
import type { SecretSource } from './source.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// PGO's `password.type: ASCII` draws from printable ASCII; quotes, backslash and space are left out
// here because these values travel through INI files, libpq strings and dotenv lines.
const ASCII = ALNUM + '!#%&()*+,-./:;<=>?@[]^_{|}~';

/** A random password drawn uniformly (rejection sampling) from the alphabet of `kind`. */
export function generatePassword(length = 32, kind: 'AlphaNumeric' | 'ASCII' = 'AlphaNumeric'): string {
  const alphabet = kind === 'ASCII' ? ASCII : ALNUM;
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < limit) out += alphabet[b % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * The value of `key` in `source`, generating and storing one first when absent (the password of a
 * PostgresCluster user survives rebirths because it lives in the source, not in the castle).
 */
export async function ensureSecret(
  source: SecretSource,
  key: string,
  opts: { length?: number; kind?: 'AlphaNumeric' | 'ASCII'; redactor?: Redactor } = {},
): Promise<Result<{ value: string; generated: boolean }>> {
  const existing = await source.get(key);
  if (existing !== undefined && existing !== '') {
    opts.redactor?.add(existing);
    return { ok: true, value: { value: existing, generated: false } };
  }
  if (!source.set) {
    return { ok: false, reason: `${source.description} has no '${key}' and cannot store generated values: add ${key} there` };
  }
  const value = generatePassword(opts.length ?? 32, opts.kind ?? 'AlphaNumeric');
  opts.redactor?.add(value);
  await source.set(key, value);
  return { ok: true, value: { value, generated: true } };
}
