import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * CRDs shipped with Castle (schemas/crds: CrunchyData PGO 5.8.9, External Secrets 0.16.2): what the
 * local target's manifests use, known without `castle schemas add`. CRDs among the inputs or imported
 * later take precedence.
 */
export function builtinCrdFiles(): string[] {
  const dir = fileURLToPath(new URL('../../../../schemas/crds', import.meta.url));
  return existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f)) : [];
}
