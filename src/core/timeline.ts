// The one place that turns an event list into times: the summary and the HTML report must agree on
// every offset, so neither computes its own.
import type { EventEnvelope, PhaseTiming, PlannedStepInfo, RunStatus, StepStatus } from '../events.js';
import { assertNever } from '../events.js';

type Of<T extends EventEnvelope['type']> = Extract<EventEnvelope, { type: T }>;

export interface StepTiming {
  readonly step: PlannedStepInfo;
  /** ms after run-started; undefined if the step never started */
  readonly startMs: number | undefined;
  /** ms after run-started; undefined while running or never started */
  readonly endMs: number | undefined;
  readonly status: StepStatus | 'running' | 'pending';
  readonly attempts: number;
  /** offsets of the retry decisions, for marking attempt boundaries */
  readonly retriesAtMs: readonly number[];
  readonly reason: string | undefined;
}

export interface CheckResult {
  readonly stepId: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface RunTimeline {
  readonly runId: string;
  readonly started: Of<'run-started'> | undefined;
  readonly finished: Of<'run-finished'> | undefined;
  readonly startedAt: string | undefined;
  /** from run-finished if there is one, else up to the last event seen */
  readonly totalMs: number;
  readonly budgetMs: number | null;
  readonly status: RunStatus | 'running';
  readonly steps: readonly StepTiming[];
  readonly phases: readonly PhaseTiming[];
  readonly criticalPath: readonly string[];
  readonly checks: readonly CheckResult[];
  readonly warnings: readonly string[];
}

interface MutableStep {
  step: PlannedStepInfo;
  startMs: number | undefined;
  endMs: number | undefined;
  status: StepTiming['status'];
  attempts: number;
  retriesAtMs: number[];
  reason: string | undefined;
}

export function buildTimeline(events: readonly EventEnvelope[]): RunTimeline {
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  let started: Of<'run-started'> | undefined;
  let finished: Of<'run-finished'> | undefined;
  const t0 = ordered.length > 0 ? Date.parse(ordered[0]!.ts) : 0;
  let lastMs = 0;
  const steps = new Map<string, MutableStep>();
  const checks: CheckResult[] = [];
  const warnings: string[] = [];

  // Unknown ids still get a row: a report that hides a step the plan forgot would hide the bug.
  const stepOf = (id: string): MutableStep => {
    let s = steps.get(id);
    if (!s) {
      const [section, layer] = id.split('/');
      const known = section === 'gate' || section === 'down' || section === 'up' || section === 'proof';
      const info: PlannedStepInfo = { id, layer: layer ?? id, section: known ? section : 'up', label: id, kind: '?', deps: [] };
      s = fresh(info);
      steps.set(id, s);
    }
    return s;
  };

  for (const ev of ordered) {
    const at = Date.parse(ev.ts) - (started ? Date.parse(started.ts) : t0);
    lastMs = Math.max(lastMs, at);
    switch (ev.type) {
      case 'run-started':
        started = ev;
        for (const info of ev.steps) steps.set(info.id, fresh(info));
        break;
      case 'step-started': {
        const s = stepOf(ev.stepId);
        if (s.startMs === undefined) s.startMs = at;
        s.status = 'running';
        s.attempts = Math.max(s.attempts, ev.attempt);
        break;
      }
      case 'step-retrying':
        stepOf(ev.stepId).retriesAtMs.push(at);
        break;
      case 'step-finished': {
        const s = stepOf(ev.stepId);
        s.status = ev.status;
        s.attempts = Math.max(s.attempts, ev.attempts);
        s.reason = ev.reason;
        // A skipped step never started: pin it at its decision time with no length.
        s.startMs ??= at;
        s.endMs = at;
        break;
      }
      case 'check':
        checks.push({ stepId: ev.stepId, name: ev.name, ok: ev.ok, detail: ev.detail });
        break;
      case 'warning':
        warnings.push(ev.message);
        break;
      case 'lock-taken-over':
        warnings.push(`lock taken over from pid ${ev.previous.pid}@${ev.previous.host} (run ${ev.previous.runId}): ${ev.reason}`);
        break;
      case 'run-finished':
        finished = ev;
        break;
      case 'step-note':
      case 'signal':
        break;
      default:
        assertNever(ev);
    }
  }

  const all = [...steps.values()].map((s): StepTiming => ({ ...s }));
  return {
    runId: started?.runId ?? ordered[0]?.runId ?? '',
    started,
    finished,
    startedAt: started?.ts ?? ordered[0]?.ts,
    totalMs: finished?.durationMs ?? lastMs,
    budgetMs: finished ? finished.budgetMs : (started?.budgetMs ?? null),
    status: finished?.status ?? 'running',
    steps: all,
    phases: finished?.phases ?? derivePhases(all, lastMs),
    criticalPath: finished?.criticalPath ?? [],
    checks,
    warnings,
  };
}

function fresh(step: PlannedStepInfo): MutableStep {
  return { step, startMs: undefined, endMs: undefined, status: 'pending', attempts: 0, retriesAtMs: [], reason: undefined };
}

/** Same naming as the engine (`gate`, `proof`, `<section>/<layer>`), for runs cut off before run-finished. */
export function phaseName(step: PlannedStepInfo): string {
  return step.section === 'gate' || step.section === 'proof' ? step.section : `${step.section}/${step.layer}`;
}

function derivePhases(steps: readonly StepTiming[], nowMs: number): PhaseTiming[] {
  const spans = new Map<string, { start: number; end: number }>();
  for (const s of steps) {
    // Like the engine: a step decided without an attempt (skipped) took no part in any phase.
    if (s.startMs === undefined || s.attempts === 0) continue;
    const name = phaseName(s.step);
    const end = s.endMs ?? nowMs;
    const span = spans.get(name);
    if (span) {
      span.start = Math.min(span.start, s.startMs);
      span.end = Math.max(span.end, end);
    } else spans.set(name, { start: s.startMs, end });
  }
  return [...spans.entries()].map(([phase, { start, end }]) => ({ phase, startMs: start, durationMs: end - start })).sort((a, b) => a.startMs - b.startMs);
}

/** Sum of the path's step lengths: the time the run could not have saved by running more in parallel. */
export function criticalPathMs(timeline: RunTimeline): number {
  const byId = new Map(timeline.steps.map((s) => [s.step.id, s]));
  let total = 0;
  for (const id of timeline.criticalPath) {
    const s = byId.get(id);
    if (s?.startMs !== undefined && s.endMs !== undefined) total += s.endMs - s.startMs;
  }
  return total;
}

export function isFailure(status: StepTiming['status']): boolean {
  return status === 'failed' || status === 'timed-out' || status === 'cancelled';
}
