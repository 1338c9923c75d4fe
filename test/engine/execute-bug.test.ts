// Library level: what the CLI cannot provoke. A failure outside any step kind (here: a view of the events
// throwing) is a bug; the run must end with it at once, its running steps stopped, not wait for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executePlan } from '../../src/engine/execute.js';
import { Redactor } from '../../src/engine/redact.js';
import { StepLogs } from '../../src/engine/step-log.js';
import { buildPlan } from '../../src/plan/plan.js';
import { analyzeCastle } from '../../src/spec/load.js';
import { defaultRegistry } from '../../src/targets/registry.js';

test('a bug outside the step kinds stops the running steps and ends the run with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castle-test-'));
  try {
    const pidFile = join(dir, 'sleeper.pid');
    const yaml = `name: bug
layers:
  - name: slow
    apply: [{run: "echo $$ > ${pidFile}; exec sleep 30"}]
  - name: quick
    apply: [{run: "sleep 0.3"}]
`;
    const file = join(dir, 'castle.yaml');
    writeFileSync(file, yaml);
    const spec = analyzeCastle(file, yaml, defaultRegistry());
    assert.ok(spec.ok);
    const plan = buildPlan(spec.value, { operation: 'up' });
    assert.ok(plan.ok);
    const redactor = new Redactor();
    const t0 = Date.now();
    await assert.rejects(
      executePlan(plan.value, {
        runId: 'r1',
        runDir: join(dir, 'run'),
        concurrency: 4,
        failFast: false,
        signal: new AbortController().signal,
        redactor,
        logs: new StepLogs(join(dir, 'run'), redactor),
        resumes: [],
        emit: (ev) => {
          if (ev.type === 'step-finished' && ev.stepId === 'up/quick/0') throw new Error('a view broke');
        },
      }),
      /a view broke/,
    );
    assert.ok(Date.now() - t0 < 10_000, `ended after ${Date.now() - t0} ms, not after the 30 s step`);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      alive = existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
      if (alive) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(alive, false, `the running step's process ${pid} was stopped`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
