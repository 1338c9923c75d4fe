import { resolve } from 'node:path';
import type { CastleSpec } from './types.js';

/**
 * Every manifest the castle applies, as absolute paths (files or directories): what its steps'
 * kinds declare, and what each target it uses applies from its block. `castle validate` with no
 * paths and the preflight of up/rebirth check these.
 */
export function castleManifestPaths(spec: CastleSpec): string[] {
  const paths: string[] = [];
  const steps = [...spec.layers.flatMap((l) => [...l.apply, ...l.destroy]), ...spec.gate, ...spec.proof];
  for (const step of steps) for (const p of step.kind.manifests?.(step.config) ?? []) paths.push(resolve(spec.dir, p));
  for (const t of spec.uses) paths.push(...(t.manifests?.(spec.targets[t.name], spec.dir) ?? []));
  return [...new Set(paths)];
}
