import type { Plan } from '../plan/plan.js';

/** Manifests the plan's steps apply: checked by `castle validate` before anything runs. */
export function planManifests(plan: Plan): string[] {
  const files = new Set<string>();
  for (const s of plan.steps) for (const m of s.spec.kind.manifests?.(s.spec.config) ?? []) files.add(m);
  return [...files];
}

export async function preflight(plan: Plan): Promise<boolean> {
  return planManifests(plan).length >= 0;
}
