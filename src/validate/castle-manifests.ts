import { resolve } from 'node:path';
import type { Diagnostic } from '../diag/diagnostic.js';

/**
 * The manifests a castle applies: every step of castle.yaml (layers' apply steps, gate, proof) whose
 * kind declares `manifests()`, resolved against castle.yaml's directory. What `castle validate`
 * checks when given no paths. The spec loader and kind registry are loaded lazily: validating files
 * does not need them.
 */
export async function castleManifests(file: string): Promise<{ ok: true; paths: string[] } | { ok: false; diagnostics: readonly Diagnostic[] }> {
  const [{ loadCastle }, { defaultRegistry }] = await Promise.all([import('../spec/load.js'), import('../targets/registry.js')]);
  const loaded = await loadCastle(file, defaultRegistry());
  if (!loaded.ok) return { ok: false, diagnostics: loaded.diagnostics };
  const spec = loaded.value;
  const steps = [...spec.layers.flatMap((l) => l.apply), ...spec.gate, ...spec.proof];
  const paths: string[] = [];
  for (const step of steps) for (const p of step.kind.manifests?.(step.config) ?? []) paths.push(resolve(spec.dir, p));
  return { ok: true, paths: [...new Set(paths)] };
}
