import type { StepContext, StepResult } from '../../../core/step.js';
import type { ApplyConfig } from '../config.js';
import { removeGhosts } from '../ghosts.js';
import { dropPending, readApplied, readGhosts, readPending, writeApplied, writeOutputs, type StoredOutputs } from '../records.js';
import { wipesOf } from '../run-state.js';
import type { TfSession } from '../session.js';
import { runTool } from '../tool.js';
import type { OutputValue } from '../ui-stream.js';
import { initIfNeeded, moduleOf, runLocking, type Module } from './common.js';

/** Why this apply must first remove ghosts from the state, or undefined. */
function ghostReason(c: ApplyConfig, ctx: StepContext, m: Module): { why: string; types: true | readonly string[] } | undefined {
  // a resumed run must not remove what the run it resumes may have re-created since its own removal
  if ([ctx.runId, ...ctx.resumes].some((r) => m.key in readGhosts(ctx.stateDir, r))) return undefined;
  const pending = readPending(ctx.stateDir, m.key);
  if (pending) return { why: `run ${pending.runId} skipped this layer's destroy: ${pending.reason}`, types: true };
  if (!c.ghostAfterWipe) return undefined;
  const types = c.ghostAfterWipe === true ? true : c.ghostAfterWipe;
  if (ctx.operation === 'rebirth') return { why: 'this rebirth wiped the layer', types };
  const wipes = wipesOf(ctx.runs, m.layer, readApplied(ctx.stateDir, m.key)?.at, ctx.runId);
  if (wipes.length) return { why: `run ${wipes[0]} wiped the layer after its last apply`, types };
  return undefined;
}

export async function run(c: ApplyConfig, ctx: StepContext, s: TfSession): Promise<StepResult> {
  const mod = moduleOf(c, ctx, s);
  if (!mod.ok) return mod;
  const m = mod.value;
  const init = await initIfNeeded(m, ctx);
  if (!init.ok) return init;
  const ghost = ghostReason(c, ctx, m);
  let ghosts: readonly string[] = [];
  if (ghost) {
    const g = await removeGhosts(m.tool, ctx, m.cwd, m.key, ghost.types, ghost.why);
    if (!g.ok) return g;
    ghosts = g.value;
  }
  const applied = await runLocking(m, ctx, { op: 'apply' }, 'apply');
  if (!applied.result.ok) return applied.result;
  dropPending(ctx.stateDir, m.key);
  writeApplied(ctx.stateDir, m.key, { runId: ctx.runId, at: new Date().toISOString() });
  // the values themselves (the `outputs` message carries no sensitive value)
  const out = await runTool(m.tool, ctx, m.cwd, m.key, { op: 'output' }, { quiet: true });
  if (out.exec.code !== 0)
    return { ok: false, reason: `applied, but \`output -json\` failed (exit ${out.exec.code}): ${out.exec.stderr.trim().split('\n').pop() ?? ''}` };
  let outputs: Record<string, OutputValue>;
  try {
    outputs = JSON.parse(out.exec.stdout || '{}') as Record<string, OutputValue>;
  } catch {
    return { ok: false, reason: 'applied, but `output -json` printed no JSON' };
  }
  for (const o of Object.values(outputs)) if (o.sensitive && o.value !== undefined) ctx.secret(typeof o.value === 'string' ? o.value : JSON.stringify(o.value));
  const stored: StoredOutputs = { layer: m.layer, module: m.rel, runId: ctx.runId, at: new Date().toISOString(), outputs };
  writeOutputs(ctx.stateDir, stored);
  s.outputs.set(m.layer, stored);
  const names = Object.keys(outputs);
  if (names.length) ctx.note(`outputs: ${names.map((n) => (outputs[n]!.sensitive ? `${n} (sensitive)` : n)).join(', ')}`);
  const r = applied.run?.report.result;
  const counts = r ? `${r.add} added, ${r.change} changed, ${r.remove} destroyed` : 'applied';
  return { ok: true, summary: ghosts.length ? `${ghosts.length} ghosts removed from state (${ghosts.join(', ')}); ${counts}` : counts };
}
