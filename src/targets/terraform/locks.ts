import { processesWorkingIn } from '../../os/processes.js';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { StepContext } from '../../core/step.js';
import { processGone } from '../../os/pid.js';
import { parseGoTime, parseLockError, type StateLock } from './lock-info.js';
import { ledgerRead } from './records.js';
import type { ToolRun } from './tool.js';

/** The state lock a failed command reported, from its JSON diagnostics or its text. */
export function lockOf(r: ToolRun): StateLock | undefined {
  for (const d of r.report.errors()) {
    const l = parseLockError(`${d.summary}\n${d.detail ?? ''}`);
    if (l) return l;
  }
  return parseLockError(`${r.text}\n${r.exec.stderr}`);
}

export type LockVerdict = { readonly release: true; readonly why: string } | { readonly release: false; readonly why: string };

/**
 * Whether Castle may force-unlock `lock`: only during a wipe, and only when the lock was taken by a
 * terraform command that a run of this castle started on this host, whose process is gone, in a run
 * that is no longer alive. Anything less is not proof, and the lock is left to a human.
 */
export function judgeLock(lock: StateLock, ctx: StepContext, key: string, cwd: string): LockVerdict {
  if (ctx.section !== 'down') return { release: false, why: 'Castle releases a stale lock only while it wipes (down)' };
  const host = lock.who.includes('@') ? lock.who.slice(lock.who.lastIndexOf('@') + 1) : '';
  if (host !== hostname())
    return { release: false, why: `it was taken on ${host || 'an unknown host'}, not on this host (${hostname()}): its process cannot be checked from here` };
  const created = parseGoTime(lock.created);
  if (Number.isNaN(created)) return { release: false, why: `its creation time "${lock.created}" cannot be read` };
  // same host, same clock: the command that took the lock started before it and ended (if it did) after it;
  // no slack, or a command that ran just before or after would take the blame
  const match = ledgerRead(ctx.stateDir, key).find((e) => {
    const to = e.endedAt ? Date.parse(e.endedAt) : Number.POSITIVE_INFINITY;
    return e.host === hostname() && created >= Date.parse(e.startedAt) && created <= to;
  });
  if (!match) return { release: false, why: 'no terraform command started by a run of this castle was running when it was taken' };
  if (match.runId === ctx.runId) return { release: false, why: `this run (${ctx.runId}) took it with \`${match.command}\`` };
  if (!match.toolPid) return { release: false, why: `run ${match.runId} started \`${match.command}\` then, but its process id was not recorded` };
  if (!processGone(match.toolPid))
    return { release: false, why: `the terraform process ${match.toolPid} of run ${match.runId} is still running: it releases the lock when it ends` };
  const run = ctx.runs.liveness(match.runId);
  if (run.state !== 'gone') return { release: false, why: run.why };
  // a dead run's command has an open-ended window: whoever took the lock since must not be running there now
  const busy = processesIn(cwd);
  if (busy.length) return { release: false, why: `process ${busy[0]!.pid} (${busy[0]!.cmd}) runs in the module now and may hold it` };
  return {
    release: true,
    why: `taken by \`${match.command}\` of run ${match.runId}, started ${match.startedAt}; its terraform process ${match.toolPid} is gone and ${run.why}`,
  };
}

/**
 * Live processes that may hold the module's state lock: those working in the module, and those whose folder
 * cannot be read (another user's) when they are a Terraform-family tool: unknown is not free.
 */
function processesIn(dir: string): { pid: number; cmd: string }[] {
  return processesWorkingIn(dir)
    .filter((p) => p.cwd !== undefined || TOOL_NAMES.test(p.cmdline))
    .map((p) => ({ pid: p.pid, cmd: p.cmdline.slice(0, 120) + (p.cwd === undefined ? ' (its folder cannot be read)' : '') }));
}

const TOOL_NAMES = /(^|\/)(terraform|tofu|terragrunt)( |$)/;
