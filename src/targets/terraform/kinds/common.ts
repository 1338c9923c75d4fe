import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { StepContext, StepResult } from '../../../core/step.js';
import { fail, ok, type Result } from '../../../core/result.js';
import { describeLock } from '../lock-info.js';
import { judgeLock, lockOf } from '../locks.js';
import { moduleKey } from '../records.js';
import { outputsOf, type TfSession } from '../session.js';
import { commandLine, logLine, runTool, type TfCommand, type ToolEnv, type ToolRun } from '../tool.js';
import { formatDiagnostic } from '../ui-stream.js';

export interface Module {
  readonly cwd: string;
  readonly key: string;
  /** the module folder as castle.yaml names it, for messages and diagnostics' file names */
  readonly rel: string;
  readonly layer: string;
  readonly tool: ToolEnv;
}

/** Step ids are `up/<layer>/<i>` and `down/<layer>/<i>`. */
export const layerOf = (stepId: string): string => stepId.split('/')[1] ?? stepId;

/** The module of a step, with the environment its commands get (secrets, the outputs of `outputsFrom`). */
export function moduleOf(cfg: { cwd: string; outputsFrom?: readonly string[] }, ctx: StepContext, s: TfSession): Result<Module> {
  for (const v of s.secrets) ctx.secret(v);
  const cwd = resolve(ctx.castleDir, cfg.cwd);
  if (!existsSync(cwd)) return fail(`module folder ${cwd} does not exist (cwd: ${cfg.cwd})`, { retryable: false });
  const env: Record<string, string> = { ...s.tool.env };
  for (const from of cfg.outputsFrom ?? []) {
    const o = outputsOf(s, ctx.stateDir, from);
    if (!o) return fail(`layer ${from} has no recorded outputs: it must be applied before ${layerOf(ctx.stepId)} (outputsFrom)`, { retryable: false });
    for (const [name, v] of Object.entries(o.outputs)) {
      if (v.value === undefined) continue;
      const value = typeof v.value === 'string' ? v.value : JSON.stringify(v.value);
      if (v.sensitive) ctx.secret(value);
      if (env[`TF_VAR_${name}`] !== undefined && !s.tool.env[`TF_VAR_${name}`]) ctx.note(`TF_VAR_${name}: ${from}'s output replaces an earlier layer's`);
      env[`TF_VAR_${name}`] = value;
    }
  }
  return ok({ cwd, key: moduleKey(ctx.castleDir, cfg.cwd), rel: relative(ctx.castleDir, cwd) || '.', layer: layerOf(ctx.stepId), tool: { ...s.tool, env } });
}

/** `init` when the module was never initialised (Terragrunt initialises by itself). */
export async function initIfNeeded(m: Module, ctx: StepContext, force = false): Promise<StepResult> {
  if (m.tool.flavor === 'terragrunt') return { ok: true };
  if (!force && existsSync(join(m.cwd, '.terraform'))) return { ok: true };
  ctx.note(`${m.tool.binary} init`);
  const r = await runTool(m.tool, ctx, m.cwd, m.key, { op: 'init' });
  return r.exec.code === 0 ? { ok: true } : failureOf(r, m, 'init');
}

const INIT_NEEDED =
  /terraform init|tofu init|please run "?init|Backend initialization required|Module not installed|Required plugins are not installed|missing or corrupted provider plugins/i;

function needsInit(r: ToolRun): boolean {
  return r.report.errors().some((d) => INIT_NEEDED.test(`${d.summary} ${d.detail ?? ''}`)) || INIT_NEEDED.test(r.text);
}

/** Why a command failed, in one line: its first error diagnostic with file:line:col, else its last line. */
export function failureOf(r: ToolRun, m: Module, what: string): StepResult {
  if (r.exec.spawnError) return { ok: false, reason: `${what}: ${r.exec.spawnError}`, retryable: false };
  if (r.exec.aborted) return { ok: false, reason: `${what}: cancelled` };
  if (r.exec.timedOut) return { ok: false, reason: `${what}: timed out` };
  const errors = r.report.errors();
  const first = errors[0];
  if (first)
    return {
      ok: false,
      reason: `${what} failed: ${formatDiagnostic(first, m.rel)}${errors.length > 1 ? ` (and ${errors.length - 1} more in the step log)` : ''}`,
    };
  const last = `${r.text}\n${r.exec.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  return { ok: false, reason: `${what} failed (exit ${r.exec.code ?? r.exec.signal})${last ? `: ${last}` : ''}` };
}

/**
 * Runs a locking command: with `init` once when the module needs it, and, during a wipe, once more after
 * force-unlocking a lock whose holder is proven gone. Any other lock fails the step with its holder and
 * the exact command that would release it.
 */
export async function runLocking(m: Module, ctx: StepContext, c: TfCommand, what: string): Promise<{ result: StepResult; run?: ToolRun }> {
  let inited = false;
  let unlocked = false;
  // plan -detailed-exitcode: 2 means it succeeded and found changes
  const success = (code: number | null): boolean => code === 0 || (c.op === 'plan' && code === 2);
  for (;;) {
    const r = await runTool(m.tool, ctx, m.cwd, m.key, c);
    if (success(r.exec.code)) return { result: { ok: true }, run: r };
    for (const d of r.report.errors()) ctx.note(formatDiagnostic(d, m.rel));
    const lock = lockOf(r);
    if (lock) {
      ctx.note(describeLock(lock));
      const verdict = judgeLock(lock, ctx, m.key, m.cwd);
      const unlockCmd = `cd ${m.cwd} && ${commandLine(m.tool.binary, m.tool.flavor, { op: 'force-unlock', id: lock.id })}`;
      if (!verdict.release || unlocked) {
        return {
          result: {
            ok: false,
            reason: `${what} refused: ${describeLock(lock)}; not released by Castle: ${unlocked ? 'it was taken again after Castle released it' : verdict.why}. Once no terraform runs there, release it with: ${unlockCmd}`,
            retryable: false,
          },
          run: r,
        };
      }
      logLine(ctx, `releasing the stale lock ${lock.id}: ${verdict.why}`);
      const u = await runTool(m.tool, ctx, m.cwd, m.key, { op: 'force-unlock', id: lock.id });
      if (u.exec.code !== 0)
        return {
          result: {
            ok: false,
            reason: `force-unlock ${lock.id} failed (exit ${u.exec.code}): ${(u.text || u.exec.stderr).trim().split('\n').pop() ?? ''}. By hand: ${unlockCmd}`,
            retryable: false,
          },
          run: u,
        };
      ctx.note(`released stale lock ${lock.id} of a dead Castle run: ${verdict.why}`);
      unlocked = true;
      continue;
    }
    if (!inited && needsInit(r)) {
      inited = true;
      const i = await initIfNeeded(m, ctx, true);
      if (!i.ok) return { result: i };
      continue;
    }
    return { result: failureOf(r, m, what), run: r };
  }
}
