import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlainSink } from '../../src/sinks/plain.js';
import { RunBuilder, plan } from './fixture.js';

test('one timestamped line per event, every event type', () => {
  const events = new RunBuilder('r-7')
    .start([plan('up/platform/0', 'apply platform'), plan('proof/db/0', 'rows')], { operation: 'up', budgetMs: 720_000 })
    .at(5, {
      type: 'lock-taken-over',
      previous: { pid: 99, host: 'old', runId: 'r-6', since: '2026-11-26T05:00:00.000Z', operation: 'rebirth' },
      reason: 'pid 99 is gone',
    })
    .at(123, { type: 'step-started', stepId: 'up/platform/0', attempt: 1 })
    .at(500, { type: 'step-note', stepId: 'up/platform/0', message: 'applying\n3 resources' })
    .at(900, { type: 'step-retrying', stepId: 'up/platform/0', attempt: 1, delayMs: 2000, reason: 'connection refused' })
    .at(2900, { type: 'step-started', stepId: 'up/platform/0', attempt: 2 })
    .at(12_423, { type: 'step-finished', stepId: 'up/platform/0', status: 'succeeded', attempts: 2, durationMs: 12_300, summary: '3 created' })
    .at(12_500, { type: 'check', stepId: 'proof/db/0', name: 'rows', ok: false, detail: '0 of 1200' })
    .at(12_600, { type: 'step-finished', stepId: 'proof/db/0', status: 'failed', attempts: 1, durationMs: 100, reason: 'boom', bug: true })
    .at(12_700, { type: 'warning', message: 'disk almost full' })
    .at(12_800, { type: 'signal', signal: 'SIGINT', action: 'finishing running steps' })
    .finish(62_300, [], [], { status: 'failed', reason: 'proof failed' })
    .build();
  const lines: string[] = [];
  const sink = new PlainSink((l) => lines.push(l));
  for (const ev of events) sink.handle(ev);
  assert.deepEqual(lines, [
    '2026-11-26T06:30:00.000Z run r-7 started: up demo (castle.yaml, 2 steps, budget 12m, concurrency 4, pid 4242@ci-1)',
    '2026-11-26T06:30:00.005Z lock taken over from run r-6 (rebirth, pid 99@old, since 2026-11-26T05:00:00.000Z): pid 99 is gone',
    '2026-11-26T06:30:00.123Z up/platform/0 started (attempt 1)',
    '2026-11-26T06:30:00.500Z up/platform/0: applying\\n3 resources',
    '2026-11-26T06:30:00.900Z up/platform/0 attempt 1 failed, retrying in 2.0s: connection refused',
    '2026-11-26T06:30:02.900Z up/platform/0 started (attempt 2)',
    '2026-11-26T06:30:12.423Z up/platform/0 succeeded in 12.3s (2 attempts) -- 3 created',
    '2026-11-26T06:30:12.500Z proof/db/0 check rows FAILED: 0 of 1200',
    '2026-11-26T06:30:12.600Z proof/db/0 failed [bug] in 100ms (1 attempt): boom',
    '2026-11-26T06:30:12.700Z warning: disk almost full',
    '2026-11-26T06:30:12.800Z signal SIGINT: finishing running steps',
    '2026-11-26T06:31:02.300Z run r-7 failed: proof failed; total 1m02.3s of budget 12m (8.7%)',
  ]);
});

test('a run without budget, resuming another, says both', () => {
  const lines: string[] = [];
  const sink = new PlainSink((l) => lines.push(l));
  const [started] = new RunBuilder('r-8').start([], { budgetMs: null }).build();
  sink.handle({ ...started!, resumeOf: 'r-7' } as typeof started & { resumeOf: string });
  assert.deepEqual(lines, [
    '2026-11-26T06:30:00.000Z run r-8 started: rebirth demo (castle.yaml, 0 steps, no budget, concurrency 4, pid 4242@ci-1, resuming r-7)',
  ]);
});
