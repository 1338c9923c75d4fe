import type { Plan } from '../plan/plan.js';

/** What `--resume` carries from the run it continues. */
export interface ResumeFrom {
  readonly runId: string;
  /** steps done in that run or the runs it resumed */
  readonly succeeded: readonly string[];
  /** that run's step hashes (absent in summaries written before castle recorded them) */
  readonly hashes?: Readonly<Record<string, string>>;
  /** the runs it resumed in turn, newest first (their gates still count) */
  readonly chain?: readonly string[];
}

export interface ResumeDecision {
  /** steps done before and unchanged since: they are skipped */
  readonly skip: ReadonlySet<string>;
  /** steps done before that run again, and why */
  readonly changed: readonly { readonly stepId: string; readonly why: string }[];
}

/** A step done in the resumed run is skipped only if castle.yaml still asks for the same step at the same place. */
export function resumeDecision(plan: Plan, hashes: ReadonlyMap<string, string>, from: ResumeFrom): ResumeDecision {
  const skip = new Set<string>();
  const changed: { stepId: string; why: string }[] = [];
  for (const id of from.succeeded) {
    const now = hashes.get(id);
    if (now === undefined) continue; // no longer in the plan
    const then = from.hashes?.[id];
    if (then === now) skip.add(id);
    else if (then === undefined)
      changed.push({ stepId: id, why: `run ${from.runId} recorded no hash of it (an older castle wrote it), so castle cannot tell it is unchanged` });
    else changed.push({ stepId: id, why: `castle.yaml changed it, or a step before it, since run ${from.runId}` });
  }
  // report in plan order
  const order = new Map(plan.steps.map((s, i) => [s.id, i]));
  changed.sort((a, b) => order.get(a.stepId)! - order.get(b.stepId)!);
  return { skip, changed };
}
