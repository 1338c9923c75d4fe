import { hostname } from 'node:os';
import type { StepContext } from '../../core/step.js';
import { processGone } from '../../data/proc.js';
import { parseGoTime, parseLockError, type StateLock } from './lock-info.js';
import { ledgerRead } from './records.js';
import { runLiveness } from './run-state.js';
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

// a lock's Created and the ledger's clock are the same host's, but Terraform takes the lock a moment after it starts
const SLACK_MS = 2000;

/**
 * Whether Castle may force-unlock `lock`: only during a wipe, and only when the lock was taken by a
 * terraform command that a run of this castle started on this host, whose process is gone, in a run
 * that is no longer alive. Anything less is not proof, and the lock is left to a human.
 */
export function judgeLock(lock: StateLock, ctx: StepContext, key: string): LockVerdict {
  if (ctx.section !== 'down') return { release: false, why: 'Castle releases a stale lock only while it wipes (down)' };
  const host = lock.who.includes('@') ? lock.who.slice(lock.who.lastIndexOf('@') + 1) : '';
  if (host !== hostname()) return { release: false, why: `it was taken on ${host || 'an unknown host'}, not on this host (${hostname()}): its process cannot be checked from here` };
  const created = parseGoTime(lock.created);
  if (Number.isNaN(created)) return { release: false, why: `its creation time "${lock.created}" cannot be read` };
  const match = ledgerRead(ctx.stateDir, key).find((e) => {
    const from = Date.parse(e.startedAt) - SLACK_MS;
    const to = e.endedAt ? Date.parse(e.endedAt) + SLACK_MS : Number.POSITIVE_INFINITY;
    return e.host === hostname() && created >= from && created <= to;
  });
  if (!match) return { release: false, why: 'no terraform command started by a run of this castle was running when it was taken' };
  if (match.runId === ctx.runId) return { release: false, why: `this run (${ctx.runId}) took it with \`${match.command}\`` };
  if (!match.toolPid) return { release: false, why: `run ${match.runId} started \`${match.command}\` then, but its process id was not recorded` };
  if (!processGone(match.toolPid)) return { release: false, why: `the terraform process ${match.toolPid} of run ${match.runId} is still running: it releases the lock when it ends` };
  const run = runLiveness(ctx.stateDir, match.runId);
  if (run.state !== 'gone') return { release: false, why: run.why };
  return { release: true, why: `taken by \`${match.command}\` of run ${match.runId}, started ${match.startedAt}; its terraform process ${match.toolPid} is gone and ${run.why}` };
}
