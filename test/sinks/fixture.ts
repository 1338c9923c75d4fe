// Builds event logs the way the engine would write them, from offsets in ms, so tests read as timelines.
import type { CastleEvent, EventEnvelope, PlannedStepInfo, Section, StepStatus } from '../../src/events.js';

export const T0 = Date.parse('2026-11-26T06:30:00.000Z');

/** `section/layer/n` ids, as the planner makes them. */
export function plan(id: string, label: string, deps: string[] = []): PlannedStepInfo {
  const [section, layer] = id.split('/') as [Section, string];
  return { id, layer, section, label, kind: 'shell', deps };
}

export class RunBuilder {
  private readonly timed: { ms: number; ev: CastleEvent }[] = [];

  constructor(
    readonly runId = 'run-1',
    readonly t0 = T0,
  ) {}

  at(ms: number, ev: CastleEvent): this {
    this.timed.push({ ms, ev });
    return this;
  }

  start(steps: PlannedStepInfo[], opts: { castle?: string; operation?: 'up' | 'down' | 'rebirth'; budgetMs?: number | null } = {}): this {
    return this.at(0, {
      type: 'run-started',
      castle: opts.castle ?? 'demo',
      file: 'castle.yaml',
      operation: opts.operation ?? 'rebirth',
      budgetMs: opts.budgetMs === undefined ? 12 * 60_000 : opts.budgetMs,
      pid: 4242,
      host: 'ci-1',
      resumeOf: null,
      concurrency: 4,
      steps,
    });
  }

  /** one attempt from `from` to `to` */
  step(id: string, from: number, to: number, status: StepStatus = 'succeeded', reason?: string): this {
    this.at(from, { type: 'step-started', stepId: id, attempt: 1 });
    return this.at(to, { type: 'step-finished', stepId: id, status, attempts: 1, durationMs: to - from, ...(reason ? { reason } : {}) });
  }

  finish(
    ms: number,
    phases: { phase: string; startMs: number; durationMs: number }[],
    criticalPath: string[],
    opts: { budgetMs?: number | null; status?: 'succeeded' | 'failed' | 'interrupted'; reason?: string } = {},
  ): this {
    return this.at(ms, {
      type: 'run-finished',
      status: opts.status ?? 'succeeded',
      durationMs: ms,
      budgetMs: opts.budgetMs === undefined ? 12 * 60_000 : opts.budgetMs,
      phases,
      criticalPath,
      ...(opts.reason ? { reason: opts.reason } : {}),
    });
  }

  /** in time order (stable for equal times), numbered like the engine's log */
  build(): EventEnvelope[] {
    return this.timed
      .map((t, i) => ({ ...t, i }))
      .sort((a, b) => a.ms - b.ms || a.i - b.i)
      .map(({ ms, ev }, i) => ({ ...ev, v: 1, seq: i + 1, ts: new Date(this.t0 + ms).toISOString(), runId: this.runId }) as EventEnvelope);
  }
}

/** A rebirth with a gate, two down layers, two up layers (one with two parallel steps) and a proof. */
export function rebirthRun(opts: { budgetMs?: number | null; upLabel?: string } = {}): EventEnvelope[] {
  const steps = [
    plan('gate/db/0', 'pg backup'),
    plan('down/app/0', 'destroy app', ['gate/db/0']),
    plan('down/db/0', 'destroy db', ['down/app/0']),
    plan('up/db/0', 'create db', ['down/db/0']),
    plan('up/app/0', opts.upLabel ?? 'deploy api', ['up/db/0']),
    plan('up/app/1', 'deploy worker', ['up/db/0']),
    plan('proof/db/0', 'row count', ['up/app/0', 'up/app/1']),
  ];
  const budget = { budgetMs: opts.budgetMs === undefined ? 12 * 60_000 : opts.budgetMs };
  return new RunBuilder()
    .start(steps, budget)
    .step('gate/db/0', 0, 4200)
    .step('down/app/0', 4200, 9000)
    .step('down/db/0', 9000, 16200)
    .step('up/db/0', 16200, 30000)
    .step('up/app/0', 30000, 50000)
    .step('up/app/1', 30000, 41000)
    .at(40000, { type: 'step-note', stepId: 'up/app/0', message: 'waiting for rollout' })
    .step('proof/db/0', 50000, 62300)
    .at(62000, { type: 'check', stepId: 'proof/db/0', name: 'row count', ok: true, detail: '1200 rows' })
    .finish(
      62300,
      [
        { phase: 'gate', startMs: 0, durationMs: 4200 },
        { phase: 'down/app', startMs: 4200, durationMs: 4800 },
        { phase: 'down/db', startMs: 9000, durationMs: 7200 },
        { phase: 'up/db', startMs: 16200, durationMs: 13800 },
        { phase: 'up/app', startMs: 30000, durationMs: 20000 },
        { phase: 'proof', startMs: 50000, durationMs: 12300 },
      ],
      ['gate/db/0', 'down/app/0', 'down/db/0', 'up/db/0', 'up/app/0', 'proof/db/0'],
      budget,
    )
    .build();
}
