import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetLine, formatSummary } from '../../src/sinks/summary.js';
import { RunBuilder, plan, rebirthRun } from './fixture.js';

const PHASES = [
  'phase     start  duration',
  'gate        0ms      4.2s',
  'down/app   4.2s      4.8s',
  'down/db    9.0s      7.2s',
  'up/db     16.2s     13.8s',
  'up/app    30.0s     20.0s',
  'proof     50.0s     12.3s',
];
const PATH = 'critical path gate/db/0 -> down/app/0 -> down/db/0 -> up/db/0 -> up/app/0 -> proof/db/0 (1m02.3s)';

test('summary of a run within budget: phases, total, critical path, proof', () => {
  assert.equal(
    formatSummary(rebirthRun()),
    ['rebirth demo: succeeded', '', ...PHASES, '', 'total 1m02.3s of budget 12m (8.7%)', PATH, '', 'proof:', '  ✔ row count: 1200 rows'].join('\n'),
  );
});

test('summary of a run over budget says by how much', () => {
  const text = formatSummary(rebirthRun({ budgetMs: 60_000 }));
  assert.equal(text.split('\n')[PHASES.length + 3], 'total 1m02.3s of budget 1m: OVER BUDGET by 2.3s');
});

test('summary without a budget says so', () => {
  const text = formatSummary(rebirthRun({ budgetMs: null }));
  assert.match(text, /^total 1m02\.3s \(no budget\)$/m);
});

test('summary lists failed steps and failed checks, one line each', () => {
  const events = new RunBuilder()
    .start([plan('up/db/0', 'create db'), plan('proof/db/0', 'rows')], { operation: 'up', budgetMs: 100_000 })
    .step('up/db/0', 0, 1500, 'timed-out', 'no answer\nafter 1.5s')
    .step('proof/db/0', 1500, 2000, 'failed')
    .at(1900, { type: 'check', stepId: 'proof/db/0', name: 'rows', ok: false, detail: '0 of 1200' })
    .at(1950, { type: 'warning', message: 'disk almost full' })
    .finish(
      2000,
      [
        { phase: 'up/db', startMs: 0, durationMs: 1500 },
        { phase: 'proof', startMs: 1500, durationMs: 500 },
      ],
      ['up/db/0', 'proof/db/0'],
      {
        budgetMs: 100_000,
        status: 'failed',
        reason: 'step up/db/0 timed out',
      },
    )
    .build();
  assert.equal(
    formatSummary(events),
    [
      'up demo: failed: step up/db/0 timed out',
      '',
      'phase  start  duration',
      'up/db    0ms      1.5s',
      'proof   1.5s     500ms',
      '',
      'total 2.0s of budget 1m40s (2.0%)',
      'critical path up/db/0 -> proof/db/0 (2.0s)',
      '',
      'not done:',
      '  ✖ up/db/0 timed-out: no answer after 1.5s',
      '  ✖ proof/db/0 failed',
      '',
      'proof:',
      '  ✖ rows: 0 of 1200',
      '',
      'warnings:',
      '  ! disk almost full',
    ].join('\n'),
  );
});

test('a log cut off before run-finished still gets phases from the step times', () => {
  const events = rebirthRun().filter((e) => e.type !== 'run-finished' && Date.parse(e.ts) - Date.parse(rebirthRun()[0]!.ts) <= 40_000);
  const lines = formatSummary(events).split('\n');
  assert.equal(lines[0], 'rebirth demo: unfinished (the log has no run-finished)');
  // up/app started at 30s and has not finished: it runs to the last event, the note at 40s
  assert.deepEqual(lines.slice(2, 8), [
    'phase     start  duration',
    'gate        0ms      4.2s',
    'down/app   4.2s      4.8s',
    'down/db    9.0s      7.2s',
    'up/db     16.2s     13.8s',
    'up/app    30.0s     10.0s',
  ]);
  assert.equal(lines[9], 'total 40.0s of budget 12m (5.6%)');
});

test('budgetLine rounds the percentage and never hides an overrun', () => {
  assert.equal(budgetLine(62_300, 720_000), 'total 1m02.3s of budget 12m (8.7%)');
  assert.equal(budgetLine(720_000, 720_000), 'total 12m00.0s of budget 12m (100.0%)');
  assert.equal(budgetLine(732_000, 720_000), 'total 12m12.0s of budget 12m: OVER BUDGET by 12.0s');
  assert.equal(budgetLine(1_000, 0), 'total 1.0s (no budget)');
});
