import { createHash } from 'node:crypto';
import type { Plan, PlannedStep } from './plan.js';

/** JSON with object keys sorted, so that reordering keys in castle.yaml does not change a hash. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What a step does and where it sits: its kind (qualified: `postgres` and `local.postgres` are one), its config, its id (section, layer, position) and the
 * hashes of the steps it waits for, so that a change before a step changes the step's hash too. Timeouts
 * and retries are left out: they change how a step is tried, not what it does.
 */
function stepHash(step: PlannedStep, depHashes: readonly string[]): string {
  const h = createHash('sha256');
  h.update(canonical({ id: step.id, kind: step.spec.qualified, config: step.spec.config, deps: step.deps, after: depHashes }));
  return h.digest('hex').slice(0, 32);
}

/** Each step's hash, by id: `--resume` skips a step only when it is the same as in the run it resumes. */
export function stepHashes(plan: Plan): Map<string, string> {
  const out = new Map<string, string>();
  // plan.steps is in a topological order: a step's dependencies are hashed before it
  for (const s of plan.steps)
    out.set(
      s.id,
      stepHash(
        s,
        s.deps.map((d) => out.get(d) ?? ''),
      ),
    );
  return out;
}
