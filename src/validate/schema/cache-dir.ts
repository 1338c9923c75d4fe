import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where compiled schemas are kept: `$XDG_CACHE_HOME/castle/schemas` (apart so the CLI can name it without loading the validator). */
export function defaultCacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'castle', 'schemas');
}
