import type { StepContext } from '../../core/step.js';
import { fail, ok, type Result } from '../../core/result.js';
import { addGhosts } from './records.js';
import { logLine, runTool, type ToolEnv } from './tool.js';

/** `module.a["x.y"].aws_instance.web[0]` -> {type: aws_instance, data: false}; index keys may hold dots. */
export function addressType(address: string): { type: string; data: boolean } | undefined {
  let plain = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < address.length; i++) {
    const ch = address[i]!;
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"' && depth > 0) quoted = true;
    else if (ch === '[') depth++;
    else if (ch === ']') depth--;
    else if (depth === 0) plain += ch;
  }
  const segs = plain.split('.').filter(Boolean);
  while (segs[0] === 'module' && segs.length > 2) segs.splice(0, 2);
  if (segs[0] === 'data') return segs[1] ? { type: segs[1], data: true } : undefined;
  return segs[0] && segs[1] ? { type: segs[0], data: false } : undefined;
}

/** Which of a state's addresses are ghosts: managed resources, of `types` when a list is given. */
export function selectGhosts(addresses: readonly string[], types: true | readonly string[]): string[] {
  return addresses.filter((a) => {
    const t = addressType(a);
    return t !== undefined && !t.data && (types === true || types.includes(t.type));
  });
}

/**
 * Removes the ghosts from the module's state (`state list`, then one `state rm`), recorded for this run
 * so that a resumed run does not remove what it may have re-created since.
 */
export async function removeGhosts(
  tool: ToolEnv,
  ctx: StepContext,
  cwd: string,
  key: string,
  types: true | readonly string[],
  why: string,
): Promise<Result<string[]>> {
  const list = await runTool(tool, ctx, cwd, key, { op: 'state-list' }, { quiet: true });
  if (list.exec.code !== 0)
    return fail(
      `state list failed before removing ghosts (${why}): ${list.exec.spawnError ?? (list.exec.stderr.trim().split('\n').pop() || `exit ${list.exec.code}`)}`,
    );
  const all = list.exec.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const ghosts = selectGhosts(all, types);
  logLine(ctx, `ghost state (${why}): ${all.length} in state, ${ghosts.length} to remove${types === true ? '' : ` (types ${types.join(', ')})`}`);
  if (ghosts.length === 0) {
    addGhosts(ctx.stateDir, ctx.runId, key, []);
    return ok([]);
  }
  const rm = await runTool(tool, ctx, cwd, key, { op: 'state-rm', addresses: ghosts });
  if (rm.exec.code !== 0)
    return fail(
      `state rm of ${ghosts.length} ghost resources failed: ${rm.report.errors()[0]?.summary ?? (rm.text.trim().split('\n').pop() || `exit ${rm.exec.code}`)}`,
    );
  addGhosts(ctx.stateDir, ctx.runId, key, ghosts);
  for (const g of ghosts) logLine(ctx, `removed from state: ${g}`);
  ctx.note(`ghost state: removed ${ghosts.length} (${ghosts.join(', ')})`);
  return ok(ghosts);
}
