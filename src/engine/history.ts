import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { EventEnvelope, Operation, RunStatus, StepStatus } from '../events.js';
import { readEvents } from './events-file.js';
import { runHoldsLock } from './lock.js';
import { runDir, runsDir, summaryFile } from './run-dir.js';

/** summary.json of a run: written when it starts (status running) and when it ends. */
export interface RunSummary {
  readonly version: 1;
  readonly runId: string;
  readonly castle: string;
  readonly operation: Operation;
  readonly status: RunStatus | 'running';
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly budgetMs: number | null;
  readonly pid: number;
  readonly host: string;
  readonly detached: boolean;
  readonly resumeOf: string | null;
  readonly argv: readonly string[];
  readonly reason?: string;
  readonly steps: Readonly<Record<string, { status: StepStatus; attempts: number; durationMs: number; reason?: string }>>;
  /** steps done in this run or in the runs it resumed: what a further --resume skips */
  readonly succeeded: readonly string[];
  /** each step's hash (kind, config, place in the plan): --resume skips a step only if it is unchanged; absent before castle recorded them */
  readonly hashes?: Readonly<Record<string, string>>;
}

function readSummaryFile(stateDir: string, runId: string): RunSummary | undefined {
  try {
    return JSON.parse(readFileSync(summaryFile(runDir(stateDir, runId)), 'utf8')) as RunSummary;
  } catch {
    return undefined;
  }
}

/**
 * A run's summary. One that still says `running` while its run no longer holds the lock belongs to a
 * run whose process ended without writing its last summary (SIGKILL, the OOM killer, a power cut):
 * it is read as interrupted, from its event log, so that `--resume` continues it like any other.
 */
export function readSummary(stateDir: string, runId: string): RunSummary | undefined {
  const s = readSummaryFile(stateDir, runId);
  if (s !== undefined && s.status !== 'running') return s;
  const live = runHoldsLock(stateDir, runId);
  if (s !== undefined && live) return s;
  const events = readEvents(runDir(stateDir, runId));
  // the first summary is written beside the first steps: a run killed before that has only its event log
  const begun = s ?? startedFromEvents(runId, events);
  return begun !== undefined && !live ? abandonedRun(stateDir, begun, events) : begun;
}

function startedFromEvents(runId: string, events: readonly EventEnvelope[]): RunSummary | undefined {
  const started = events.find((e) => e.type === 'run-started');
  if (started?.type !== 'run-started') return undefined;
  return {
    version: 1,
    runId,
    castle: started.castle,
    operation: started.operation,
    status: 'running',
    startedAt: started.ts,
    finishedAt: null,
    durationMs: null,
    budgetMs: started.budgetMs,
    pid: started.pid,
    host: started.host,
    detached: false,
    resumeOf: started.resumeOf,
    argv: [],
    steps: {},
    succeeded: [],
    hashes: Object.fromEntries(started.steps.flatMap((st) => (st.hash === undefined ? [] : [[st.id, st.hash]]))),
  };
}

/**
 * What a further `--resume` skips: the steps that succeeded, and the ones skipped because a run this
 * one resumed had done them (`resumed`: that run's own list).
 */
export function doneSteps(steps: Iterable<readonly [string, { readonly status: StepStatus }]>, resumed: ReadonlySet<string>): string[] {
  const done: string[] = [];
  for (const [id, r] of steps) if (r.status === 'succeeded' || (r.status === 'skipped' && resumed.has(id))) done.push(id);
  return done;
}

/** Every run of the castle, oldest first (run ids sort by time). */
export function listRuns(stateDir: string): RunSummary[] {
  const dir = runsDir(stateDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((id) => readSummary(stateDir, id))
    .filter((s): s is RunSummary => s !== undefined);
}

type StepSummary = RunSummary['steps'][string];

/** What the event log of a run that died says: the steps it finished, the ones it was running. */
function abandonedRun(stateDir: string, s: RunSummary, events: readonly EventEnvelope[]): RunSummary {
  const steps: Record<string, StepSummary> = {};
  const running = new Map<string, { readonly since: number; readonly attempt: number }>();
  for (const e of events) {
    if (e.type === 'step-started') {
      const prev = running.get(e.stepId);
      running.set(e.stepId, { since: prev?.since ?? Date.parse(e.ts), attempt: e.attempt });
    } else if (e.type === 'step-finished') {
      running.delete(e.stepId);
      steps[e.stepId] = { status: e.status, attempts: e.attempts, durationMs: e.durationMs, ...(e.reason ? { reason: e.reason } : {}) };
    }
  }
  const started = Date.parse(s.startedAt);
  const last = events.length > 0 ? Date.parse(events[events.length - 1]!.ts) : started;
  for (const [id, r] of running) {
    steps[id] = { status: 'cancelled', attempts: r.attempt, durationMs: Math.max(0, last - r.since), reason: "the run's process ended while this step ran" };
  }
  const resumed = new Set(s.resumeOf !== null ? (readSummary(stateDir, s.resumeOf)?.succeeded ?? []) : []);
  return {
    ...s,
    status: 'interrupted',
    finishedAt: new Date(last).toISOString(),
    durationMs: Math.max(0, last - started),
    steps,
    succeeded: doneSteps(Object.entries(steps), resumed),
    reason: `process ${s.pid} on ${s.host} ended without finishing the run (killed, or the machine stopped); its last event is at ${new Date(last).toISOString()}`,
  };
}

/** Expected duration per step id: the median of its last successful runs. */
export function expectedDurations(runs: readonly RunSummary[], window = 5): Map<string, number> {
  const samples = new Map<string, number[]>();
  for (const run of [...runs].reverse()) {
    for (const [id, rec] of Object.entries(run.steps)) {
      if (rec.status !== 'succeeded') continue;
      const list = samples.get(id) ?? samples.set(id, []).get(id)!;
      if (list.length < window) list.push(rec.durationMs);
    }
  }
  const out = new Map<string, number>();
  for (const [id, list] of samples) {
    const sorted = [...list].sort((a, b) => a - b);
    out.set(id, sorted[Math.floor(sorted.length / 2)]!);
  }
  return out;
}
