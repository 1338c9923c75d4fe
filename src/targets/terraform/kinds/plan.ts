import type { StepContext, StepResult } from '../../../core/step.js';
import type { PlanConfig } from '../config.js';
import type { TfSession } from '../session.js';
import { initIfNeeded, moduleOf, runLocking } from './common.js';

/** A plan: what an apply would change; with `expectNoChanges`, a check that the module has no drift (a proof after a rebirth). */
export async function run(c: PlanConfig, ctx: StepContext, s: TfSession): Promise<StepResult> {
  const mod = moduleOf(c, ctx, s);
  if (!mod.ok) return mod;
  const m = mod.value;
  const init = await initIfNeeded(m, ctx);
  if (!init.ok) return init;
  const p = await runLocking(m, ctx, { op: 'plan' }, 'plan');
  if (!p.result.ok) return p.result;
  const counts = p.run?.report.plan;
  const changed = p.run?.exec.code === 2;
  const detail = counts ? `${counts.add} to add, ${counts.change} to change, ${counts.remove} to destroy` : changed ? 'changes' : 'no changes';
  if (c.expectNoChanges) {
    ctx.check(`no drift in ${m.rel}`, !changed, detail);
    if (changed) return { ok: false, reason: `plan of ${m.rel} has changes: ${detail}`, retryable: false };
  }
  return { ok: true, summary: detail };
}
