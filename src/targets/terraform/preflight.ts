import { access, constants } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import type { Diagnostic } from '../../diag/diagnostic.js';
import type { PreflightContext } from '../../core/target.js';
import type { TerraformBlock } from './config.js';

async function executable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The tool must be there before the first layer starts (a wipe half done for a missing binary is the worst case). */
export async function preflight(block: TerraformBlock | undefined, ctx: PreflightContext): Promise<Diagnostic[]> {
  const raw = block?.binary ?? 'terraform';
  if (raw.includes('/')) {
    const p = resolve(ctx.castleDir, raw);
    return (await executable(p))
      ? []
      : [
          {
            severity: 'error',
            rule: 'terraform/binary',
            message: `terraform.binary ${p} is not an executable file`,
            hint: 'install it or fix the path in castle.yaml',
          },
        ];
  }
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)) if (await executable(join(dir, raw))) return [];
  return [{ severity: 'error', rule: 'terraform/binary', message: `${raw} is not on PATH`, hint: `install ${raw}, or set terraform.binary to its path` }];
}
