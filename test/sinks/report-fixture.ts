// Runs and history shaped to exercise the report: retries, parallel lanes, skips, timeouts, hostile labels.
import type { EventEnvelope } from '../../src/events.js';
import type { HistoryEntry } from '../../src/sinks/report-html.js';
import { RunBuilder, plan } from './fixture.js';

export const HOSTILE = 'api <script>alert(1)</script> & "co"';

/** An `up` that retries, runs three app steps at once, times out, skips, and ends over its 40s budget. */
export function troubledRun(): EventEnvelope[] {
  return new RunBuilder('run-2')
    .start(
      [
        plan('up/net/0', 'create network'),
        plan('up/db/0', 'create db', ['up/net/0']),
        plan('up/app/0', HOSTILE, ['up/db/0']),
        plan('up/app/1', 'worker', ['up/db/0']),
        plan('up/app/2', 'cron', ['up/db/0']),
        plan('up/app/3', 'migrations', ['up/db/0']),
        plan('up/edge/0', 'cdn', ['up/app/3']),
        plan('proof/app/0', 'smoke', ['up/edge/0']),
      ],
      { operation: 'up', budgetMs: 40_000 },
    )
    .step('up/net/0', 0, 3000)
    .at(3000, { type: 'step-started', stepId: 'up/db/0', attempt: 1 })
    .at(6000, { type: 'step-retrying', stepId: 'up/db/0', attempt: 1, delayMs: 2000, reason: 'connection refused' })
    .at(8000, { type: 'step-started', stepId: 'up/db/0', attempt: 2 })
    .at(15_000, { type: 'step-finished', stepId: 'up/db/0', status: 'succeeded', attempts: 2, durationMs: 12_000 })
    .step('up/app/0', 15_000, 30_000)
    .step('up/app/1', 15_000, 22_000)
    .step('up/app/2', 18_000, 26_000)
    .step('up/app/3', 23_000, 45_000, 'timed-out', 'no answer in 22s <from> db & cache')
    .at(45_000, { type: 'step-finished', stepId: 'up/edge/0', status: 'skipped', attempts: 0, durationMs: 0, reason: 'dependency failed' })
    .at(45_200, { type: 'warning', message: 'lock file <stale> & replaced' })
    .finish(
      45_500,
      [
        { phase: 'up/net', startMs: 0, durationMs: 3000 },
        { phase: 'up/db', startMs: 3000, durationMs: 12_000 },
        { phase: 'up/app', startMs: 15_000, durationMs: 30_000 },
        { phase: 'up/edge', startMs: 45_000, durationMs: 0 },
      ],
      ['up/net/0', 'up/db/0', 'up/app/3'],
      { budgetMs: 40_000, status: 'failed', reason: 'up/app/3 timed out' },
    )
    .build();
}

export function history(operation: string, count: number, budgetMs: number): HistoryEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    runId: `h-${operation}-${i}`,
    operation,
    status: i % 5 === 4 ? 'failed' : 'succeeded',
    startedAt: new Date(Date.parse('2026-11-20T06:00:00.000Z') + i * 7 * 3600_000).toISOString(),
    durationMs: 30_000 + i * 1_000 + (i % 3) * 4_000,
    budgetMs,
  }));
}
