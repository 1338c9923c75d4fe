import type { EventEnvelope, PhaseTiming } from '../events.js';

interface Span {
  readonly start: number;
  readonly end: number;
}

/** Start and end offsets (ms from run start) of every step that actually ran. */
export function stepSpans(events: readonly EventEnvelope[]): Map<string, Span> {
  let t0: number | undefined;
  const starts = new Map<string, number>();
  const spans = new Map<string, Span>();
  for (const ev of events) {
    const t = Date.parse(ev.ts);
    if (ev.type === 'run-started') t0 = t;
    if (t0 === undefined) continue;
    if (ev.type === 'step-started' && !starts.has(ev.stepId)) starts.set(ev.stepId, t - t0);
    if (ev.type === 'step-finished' && ev.attempts > 0) {
      const s = starts.get(ev.stepId) ?? t - t0;
      spans.set(ev.stepId, { start: s, end: t - t0 });
    }
  }
  return spans;
}

export function phaseOf(stepId: string): string {
  const parts = stepId.split('/');
  return parts[0] === 'gate' || parts[0] === 'proof' ? parts[0] : `${parts[0]}/${parts[1]}`;
}

/** Phases in the order they started: gate, down/<layer>..., up/<layer>..., proof. */
export function phaseTimings(events: readonly EventEnvelope[]): PhaseTiming[] {
  const acc = new Map<string, { start: number; end: number }>();
  for (const [id, span] of stepSpans(events)) {
    const p = phaseOf(id);
    const cur = acc.get(p);
    if (!cur) acc.set(p, { ...span });
    else {
      cur.start = Math.min(cur.start, span.start);
      cur.end = Math.max(cur.end, span.end);
    }
  }
  return [...acc]
    .map(([phase, s]) => ({ phase, startMs: Math.round(s.start), durationMs: Math.round(s.end - s.start) }))
    .sort((a, b) => a.startMs - b.startMs || a.phase.localeCompare(b.phase));
}

/** The chain of steps that decided the run's length: from the last to finish, back through the dependency that finished last. */
export function actualCriticalPath(events: readonly EventEnvelope[], deps: ReadonlyMap<string, readonly string[]>): string[] {
  const spans = stepSpans(events);
  let at: string | undefined;
  for (const [id, s] of spans) if (at === undefined || s.end > spans.get(at)!.end) at = id;
  const path: string[] = [];
  while (at !== undefined) {
    path.unshift(at);
    let next: string | undefined;
    for (const d of deps.get(at) ?? []) {
      const s = spans.get(d);
      if (s && (next === undefined || s.end > spans.get(next)!.end)) next = d;
    }
    at = next;
  }
  return path;
}
