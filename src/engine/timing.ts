import type { EventEnvelope, PhaseTiming } from '../events.js';
import { buildTimeline, type RunTimeline } from '../core/timeline.js';

// The run's times come from the one derivation the summary and the report use (core/timeline.ts),
// so run-finished's phases and critical path agree with what they show.

function phasesOf(t: RunTimeline): PhaseTiming[] {
  return t.phases.map((p) => ({ ...p, startMs: Math.round(p.startMs), durationMs: Math.round(p.durationMs) }));
}

/** Phases in the order they started: gate, down/<layer>..., up/<layer>..., proof. */
export function phaseTimings(events: readonly EventEnvelope[]): PhaseTiming[] {
  return phasesOf(buildTimeline(events.filter((e) => e.type !== 'run-finished')));
}

/** What run-finished reports, from one pass over the run's events (taken before run-finished). */
export function finishTimings(
  events: readonly EventEnvelope[],
  deps: ReadonlyMap<string, readonly string[]>,
): { phases: PhaseTiming[]; criticalPath: string[] } {
  const t = buildTimeline(events);
  return { phases: phasesOf(t), criticalPath: criticalPathOf(t, deps) };
}

/** The chain of steps that decided the run's length: from the last to finish, back through the dependency that finished last. */
function criticalPathOf(t: RunTimeline, deps: ReadonlyMap<string, readonly string[]>): string[] {
  const ends = new Map<string, number>();
  for (const s of t.steps) if (s.attempts > 0 && s.endMs !== undefined) ends.set(s.step.id, s.endMs);
  let at: string | undefined;
  for (const [id, end] of ends) if (at === undefined || end > ends.get(at)!) at = id;
  const path: string[] = [];
  while (at !== undefined) {
    path.unshift(at);
    let next: string | undefined;
    for (const d of deps.get(at) ?? []) if (ends.has(d) && (next === undefined || ends.get(d)! > ends.get(next)!)) next = d;
    at = next;
  }
  return path;
}
