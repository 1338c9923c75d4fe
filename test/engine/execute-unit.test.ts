import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CastleEvent } from '../../src/events.js';
import { castleRunState } from '../../src/engine/run-state.js';
import { executePlan, type ExecuteOptions, type ExecuteResult } from '../../src/engine/execute.js';
import { Redactor } from '../../src/engine/redact.js';
import { stepLogFile } from '../../src/engine/run-dir.js';
import { StepLogs } from '../../src/engine/step-log.js';
import { buildPlan, type Plan } from '../../src/plan/plan.js';
import { deferred, FakeWorld, mustCastle } from '../helpers/fake-target.js';

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function planOf(yaml: string, world: FakeWorld): Plan {
  const r = buildPlan(mustCastle(yaml, world), { operation: 'up' });
  assert.ok(r.ok);
  return r.value;
}

interface Run {
  readonly result: ExecuteResult;
  readonly events: CastleEvent[];
  readonly runDir: string;
}

/** `observe` sees each event as it is emitted. */
async function execute(plan: Plan, opts: Partial<ExecuteOptions> = {}, observe: (ev: CastleEvent) => void = () => {}): Promise<Run> {
  const events: CastleEvent[] = [];
  const runDir = mkdtempSync(join(tmpdir(), 'castle-exec-'));
  dirs.push(runDir);
  const redactor = new Redactor();
  const logs = new StepLogs(runDir, redactor);
  try {
    const result = await executePlan(plan, {
      runId: 'run-1',
      runDir,
      runs: castleRunState(runDir),
      concurrency: 4,
      failFast: false,
      signal: new AbortController().signal,
      emit: (ev) => {
        events.push(ev);
        observe(ev);
      },
      redactor,
      logs,
      resumes: [],
      ...opts,
    });
    return { result, events, runDir };
  } finally {
    await logs.close();
  }
}

const statuses = (r: Run): Record<string, string> => Object.fromEntries([...r.result.steps].map(([id, s]) => [id, s.status]));
const finished = (r: Run, id: string) =>
  r.events.find((e) => e.type === 'step-finished' && e.stepId === id) as Extract<CastleEvent, { type: 'step-finished' }> | undefined;

const DIAMOND = `name: diamond
layers:
  - name: base
    apply: [{step: base}]
  - name: left
    dependsOn: [base]
    apply: [{step: left}]
  - name: right
    dependsOn: [base]
    apply: [{step: right}]
  - name: top
    dependsOn: [left, right]
    apply: [{step: top}]
`;

test('a step starts after every step it depends on; independent steps run side by side', async () => {
  const w = new FakeWorld();
  // left finishes only once right has started, and right only once left has: run one after the other, they would never end
  const leftStarted = deferred();
  const rightStarted = deferred();
  w.scripts.set('left', async () => {
    leftStarted.resolve();
    await rightStarted.promise;
    return { ok: true };
  });
  w.scripts.set('right', async () => {
    rightStarted.resolve();
    await leftStarted.promise;
    return { ok: true, summary: 'right done' };
  });
  const r = await execute(planOf(DIAMOND, w));
  assert.equal(r.result.status, 'succeeded');
  assert.equal(w.trace[0], 'start base');
  assert.equal(w.trace[1], 'end base');
  assert.deepEqual(new Set(w.trace.slice(2, 4)), new Set(['start left', 'start right']));
  assert.deepEqual(w.trace.slice(-2), ['start top', 'end top'], 'top after both');
  assert.equal(w.maxRunning, 2);
  assert.equal(finished(r, 'up/right/0')?.summary, 'right done');
});

test('concurrency 1 runs one step at a time, in a topological order', async () => {
  const w = new FakeWorld();
  const r = await execute(planOf(DIAMOND, w), { concurrency: 1 });
  assert.equal(r.result.status, 'succeeded');
  assert.equal(w.maxRunning, 1);
  const order = w.trace.filter((t) => t.startsWith('start')).map((t) => t.slice(6));
  assert.equal(order[0], 'base');
  assert.equal(order[3], 'top');
});

test('a failing step: its dependents are not started, independent steps finish, the run fails naming it', async () => {
  const w = new FakeWorld();
  const rightGo = deferred();
  w.scripts.set('left', async () => {
    rightGo.resolve();
    return { ok: false, reason: 'left broke' };
  });
  w.scripts.set('right', async () => {
    await rightGo.promise;
    return { ok: true };
  });
  const r = await execute(planOf(DIAMOND, w));
  assert.equal(r.result.status, 'failed');
  assert.equal(r.result.reason, 'up/left/0 failed: left broke');
  assert.deepEqual(statuses(r), { 'up/base/0': 'succeeded', 'up/left/0': 'failed', 'up/right/0': 'succeeded', 'up/top/0': 'skipped' });
  assert.equal(finished(r, 'up/top/0')?.reason, 'not started: up/left/0 did not succeed');
  assert.ok(!w.started('top'));
});

test('--fail-fast cancels the steps still running when one fails', async () => {
  const w = new FakeWorld();
  const rightRunning = deferred();
  w.scripts.set('left', async () => {
    await rightRunning.promise;
    return { ok: false, reason: 'left broke' };
  });
  w.scripts.set('right', (ctx) => {
    rightRunning.resolve();
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve({ ok: false, reason: `stopped: ${String(ctx.signal.reason)}` })));
  });
  const r = await execute(planOf(DIAMOND, w), { failFast: true });
  assert.equal(r.result.status, 'failed');
  assert.equal(statuses(r)['up/right/0'], 'cancelled');
  assert.equal(finished(r, 'up/right/0')?.reason, 'cancelled (fail-fast)');
});

const RETRY = (fields: string): string => `name: retry
layers:
  - name: only
    apply: [{step: flaky, ${fields}}]
`;

test('retries with exponential backoff: each retry is announced with its delay, the log says why', async () => {
  const w = new FakeWorld();
  w.scripts.set('flaky', async (ctx, attempt) => {
    ctx.log(`attempt ${attempt} output\n`);
    return attempt < 4 ? { ok: false, reason: `connection refused (${attempt})` } : { ok: true };
  });
  const r = await execute(planOf(RETRY('retries: 3, backoff: 5ms'), w));
  assert.equal(r.result.status, 'succeeded');
  assert.equal(r.result.steps.get('up/only/0')?.attempts, 4);
  const retries = r.events.filter((e) => e.type === 'step-retrying');
  assert.deepEqual(
    retries.map((e) => e.type === 'step-retrying' && [e.attempt, e.delayMs, e.reason]),
    [
      [1, 5, 'connection refused (1)'],
      [2, 10, 'connection refused (2)'],
      [3, 20, 'connection refused (3)'],
    ],
  );
  const starts = r.events.filter((e) => e.type === 'step-started').map((e) => e.type === 'step-started' && e.attempt);
  assert.deepEqual(starts, [1, 2, 3, 4]);
  const log = readFileSync(stepLogFile(r.runDir, 'up/only/0'), 'utf8');
  assert.match(log, /attempt 1 output\n\n\[castle\] attempt 1 failed \(connection refused \(1\)\); retrying in 5 ms\n/);
});

test('retries run out: the step fails with its last reason and the number of attempts', async () => {
  const w = new FakeWorld();
  w.scripts.set('flaky', async (_ctx, attempt) => ({ ok: false, reason: `no (${attempt})` }));
  const r = await execute(planOf(RETRY('retries: 2, backoff: 1ms'), w));
  assert.equal(r.result.status, 'failed');
  assert.deepEqual(r.result.steps.get('up/only/0'), {
    status: 'failed',
    attempts: 3,
    durationMs: r.result.steps.get('up/only/0')!.durationMs,
    reason: 'no (3)',
  });
});

test('no retry when the kind says a retry cannot help, when retryOn does not match, or on a bug', async () => {
  const w = new FakeWorld();
  w.scripts.set('flaky', async () => ({ ok: false, reason: 'bad credentials', retryable: false }));
  let r = await execute(planOf(RETRY('retries: 5, backoff: 1ms'), w));
  assert.equal(r.result.steps.get('up/only/0')?.attempts, 1);

  const w2 = new FakeWorld();
  w2.scripts.set('flaky', async (ctx, attempt) => {
    ctx.log(attempt === 1 ? 'server said: try again later\n' : 'disk full\n');
    return { ok: false, reason: 'exit 1' };
  });
  r = await execute(planOf(RETRY('retries: 5, backoff: 1ms, retryOn: ["TRY AGAIN"]'), w2));
  assert.equal(r.result.steps.get('up/only/0')?.attempts, 2, 'retryOn matches the output tail, case-insensitively: once, not twice');

  const w3 = new FakeWorld();
  w3.scripts.set('flaky', async () => {
    throw new TypeError('undefined is not a function');
  });
  r = await execute(planOf(RETRY('retries: 5, backoff: 1ms'), w3));
  const fin = finished(r, 'up/only/0');
  assert.equal(fin?.attempts, 1);
  assert.equal(fin?.bug, true);
  assert.equal(fin?.reason, "bug in step kind 'fake.step': undefined is not a function");
  assert.match(readFileSync(stepLogFile(r.runDir, 'up/only/0'), 'utf8'), /TypeError: undefined is not a function\n\s+at /);
});

test('a timeout aborts the attempt: timed-out, or retried when retryOn names timeout', async () => {
  const w = new FakeWorld();
  const waitForAbort = (ctx: { signal: AbortSignal }) =>
    new Promise<{ ok: false; reason: string }>((resolve) => ctx.signal.addEventListener('abort', () => resolve({ ok: false, reason: 'aborted' })));
  w.scripts.set('flaky', async (ctx) => waitForAbort(ctx));
  let r = await execute(planOf(RETRY('timeout: 20ms'), w));
  assert.deepEqual(statuses(r), { 'up/only/0': 'timed-out' });
  assert.equal(r.result.reason, 'up/only/0 timed-out: timed out after 20 ms');

  const w2 = new FakeWorld();
  w2.scripts.set('flaky', async (ctx, attempt) => (attempt === 1 ? waitForAbort(ctx) : { ok: true }));
  r = await execute(planOf(RETRY('timeout: 20ms, retries: 1, backoff: 1ms, retryOn: [timeout]'), w2));
  assert.equal(r.result.status, 'succeeded');
  assert.equal(r.result.steps.get('up/only/0')?.attempts, 2);

  const w3 = new FakeWorld();
  w3.scripts.set('flaky', async (ctx) => waitForAbort(ctx));
  r = await execute(planOf(RETRY('timeout: 20ms, retries: 1, backoff: 1ms, retryOn: [refused]'), w3));
  assert.deepEqual(statuses(r), { 'up/only/0': 'timed-out' }, 'a timeout is retried only if retryOn names it');
  assert.equal(r.result.steps.get('up/only/0')?.attempts, 1);
});

test('abort (SIGINT): running steps see their signal, the run is interrupted, the rest is not started', async () => {
  const w = new FakeWorld();
  const ac = new AbortController();
  w.scripts.set('base', (ctx) => {
    queueMicrotask(() => ac.abort('SIGINT'));
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve({ ok: false, reason: 'killed' })));
  });
  const r = await execute(planOf(DIAMOND, w), { signal: ac.signal });
  assert.equal(r.result.status, 'interrupted');
  assert.equal(r.result.reason, 'SIGINT');
  assert.deepEqual(statuses(r), { 'up/base/0': 'cancelled', 'up/left/0': 'skipped', 'up/right/0': 'skipped', 'up/top/0': 'skipped' });
  assert.equal(finished(r, 'up/base/0')?.reason, 'cancelled (SIGINT)');
  assert.equal(finished(r, 'up/top/0')?.reason, 'not started: run interrupted');
  assert.deepEqual(w.trace, ['start base', 'end base']);
});

test("abort during a retry's backoff stops the step at once, cancelled", { timeout: 20_000 }, async () => {
  const w = new FakeWorld();
  const ac = new AbortController();
  w.scripts.set('flaky', async () => ({ ok: false, reason: 'refused' }));
  // the backoff of an hour is cut short by the abort, or this test would not end
  const r = await execute(planOf(RETRY('retries: 3, backoff: 1h'), w), { signal: ac.signal }, (ev) => {
    if (ev.type === 'step-retrying') ac.abort('SIGTERM');
  });
  assert.equal(r.result.status, 'interrupted');
  assert.equal(w.attempts.get('flaky'), 1);
  assert.equal(statuses(r)['up/only/0'], 'cancelled');
});

test('resume: steps done in the resumed run are skipped, saying so, and what depends on them runs', async () => {
  const w = new FakeWorld();
  const r = await execute(planOf(DIAMOND, w), { alreadySucceeded: new Set(['up/base/0', 'up/left/0']), resumeOf: 'run-0', resumes: ['run-0'] });
  assert.equal(r.result.status, 'succeeded');
  assert.deepEqual(statuses(r), { 'up/base/0': 'skipped', 'up/left/0': 'skipped', 'up/right/0': 'succeeded', 'up/top/0': 'succeeded' });
  assert.equal(finished(r, 'up/left/0')?.reason, 'succeeded in run run-0');
  assert.deepEqual(w.trace, ['start right', 'end right', 'start top', 'end top']);
});

test("a target's session is opened once, by its first step, shared by its steps, and closed at the end; a failed opening fails that step", async () => {
  const w = new FakeWorld();
  const seen: number[] = [];
  for (const n of ['base', 'left', 'right', 'top'])
    w.scripts.set(n, async (ctx, _attempt, session) => {
      assert.equal(ctx.resumes.length, 0);
      seen.push(session.id);
      return { ok: true };
    });
  const r = await execute(planOf(DIAMOND, w));
  assert.equal(r.result.status, 'succeeded');
  assert.deepEqual(seen, [1, 1, 1, 1]);
  assert.equal(w.sessions.length, 1);
  assert.equal(w.sessions[0]!.closed, true);

  const w2 = new FakeWorld();
  w2.failNextOpen = 'cannot reach the fake API';
  const r2 = await execute(planOf(RETRY('retries: 1, backoff: 1ms'), w2));
  assert.equal(r2.result.status, 'succeeded', 'the retry opens the session again');
  assert.equal(r2.result.steps.get('up/only/0')?.attempts, 2);
  const retry = r2.events.find((e) => e.type === 'step-retrying');
  assert.ok(retry?.type === 'step-retrying' && retry.reason === 'cannot reach the fake API');
  assert.equal(w2.sessions.length, 1);
});

test("--fail-fast cuts short another step's backoff: it ends cancelled without a further attempt", { timeout: 20_000 }, async () => {
  const w = new FakeWorld();
  const retrying = deferred();
  w.scripts.set('left', async () => {
    await retrying.promise;
    return { ok: false, reason: 'left broke' };
  });
  w.scripts.set('right', async () => ({ ok: false, reason: 'refused' }));
  const yaml = DIAMOND.replace('{step: right}', '{step: right, retries: 3, backoff: 1h}');
  const r = await execute(planOf(yaml, w), { failFast: true }, (ev) => {
    if (ev.type === 'step-retrying') retrying.resolve();
  });
  assert.equal(r.result.status, 'failed');
  assert.equal(r.result.reason, 'up/left/0 failed: left broke');
  assert.equal(w.attempts.get('right'), 1);
  assert.equal(statuses(r)['up/right/0'], 'cancelled');
});

test('the kinds of later steps load while the first steps run, not between steps', async () => {
  const w = new FakeWorld();
  // the first step ends only once the second step's kind is loaded: without the preload it would wait for its timeout
  w.scripts.set('base', async (ctx) => {
    await Promise.race([w.lazyLoaded.promise, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))]);
    return { ok: true };
  });
  const yaml = `name: lazy
layers:
  - name: base
    apply: [{step: base, timeout: 30s}]
  - name: top
    dependsOn: [base]
    apply: [{lazy: top}]
`;
  const r = await execute(planOf(yaml, w));
  assert.deepEqual(statuses(r), { 'up/base/0': 'succeeded', 'up/top/0': 'succeeded' });
  assert.ok(w.trace.indexOf('load lazy') < w.trace.indexOf('end base'), `the lazy kind loaded before the first step ended: ${w.trace.join(', ')}`);
  assert.deepEqual(
    w.trace.filter((e) => e !== 'load lazy'),
    ['start base', 'end base', 'start top', 'end top'],
  );
});
