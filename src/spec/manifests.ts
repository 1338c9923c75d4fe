import { isAbsolute, resolve } from 'node:path';
import type { CastleSpec } from './types.js';

/**
 * Every manifest the castle applies, as absolute paths (files or directories): what its steps'
 * kinds declare, and the manifests of its `local:` block. `castle validate` with no paths and the
 * preflight of up/rebirth check these.
 */
export function castleManifestPaths(spec: CastleSpec): string[] {
  const paths: string[] = [];
  const steps = [...spec.layers.flatMap((l) => l.apply), ...spec.gate, ...spec.proof];
  for (const step of steps) for (const p of step.kind.manifests?.(step.config) ?? []) paths.push(resolve(spec.dir, p));
  const local = spec.targets['local'] as { manifests?: readonly string[] } | undefined;
  for (const p of local?.manifests ?? []) paths.push(isAbsolute(p) ? p : resolve(spec.dir, p));
  return [...new Set(paths)];
}
