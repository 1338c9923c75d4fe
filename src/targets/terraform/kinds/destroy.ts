import type { StepContext, StepResult } from '../../../core/step.js';
import type { DestroyConfig } from '../config.js';
import { probeCluster } from '../kube.js';
import { dropOutputs, writePending } from '../records.js';
import type { TfSession } from '../session.js';
import { initIfNeeded, moduleOf, runLocking } from './common.js';

export async function run(c: DestroyConfig, ctx: StepContext, s: TfSession): Promise<StepResult> {
  const mod = moduleOf(c, ctx, s);
  if (!mod.ok) return mod;
  const m = mod.value;
  if (c.kubernetes) {
    const cluster = await probeCluster(c.kubernetes, ctx.castleDir, ctx.signal);
    if (cluster.state === 'gone') {
      // its objects went with the cluster: a destroy would only hang on an API server that is not there
      writePending(ctx.stateDir, m.key, { runId: ctx.runId, at: new Date().toISOString(), reason: `its cluster is gone (${cluster.why})` });
      dropOutputs(ctx.stateDir, m.layer);
      s.outputs.delete(m.layer);
      ctx.note(`destroy skipped: the cluster is gone (${cluster.why}); its resources leave the state before the next apply`);
      return { ok: true, summary: 'skipped: cluster gone' };
    }
    if (cluster.state === 'unknown') ctx.note(`cluster not checked (${cluster.why}): destroying`);
  }
  const init = await initIfNeeded(m, ctx);
  if (!init.ok) return init;
  const d = await runLocking(m, ctx, { op: 'destroy' }, 'destroy');
  if (!d.result.ok) return d.result;
  dropOutputs(ctx.stateDir, m.layer);
  s.outputs.delete(m.layer);
  const r = d.run?.report.result;
  return { ok: true, summary: r ? `${r.remove} destroyed` : 'destroyed' };
}
