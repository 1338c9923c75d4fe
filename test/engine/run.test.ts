import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, castle, castleDir, events, runIds, spans, summary } from '../helpers/cli.js';

const LAYERED = `name: layered
budget: 1m
layers:
  - name: secrets
    apply: [{run: "sleep 0.2"}]
    destroy: [{run: "sleep 0.1"}]
  - name: platform
    dependsOn: [secrets]
    apply: [{run: "sleep 0.2"}]
    destroy: [{run: "sleep 0.1"}]
  - name: networking
    dependsOn: [platform]
    apply: [{run: "sleep 0.6"}]
    destroy: [{run: "sleep 0.3"}]
  - name: storage
    dependsOn: [platform]
    apply: [{run: "sleep 0.6"}]
    destroy: [{run: "sleep 0.3"}]
`;

test('up applies layers in dependency order and runs independent layers side by side', () => {
  const dir = castleDir(LAYERED);
  const r = castle(dir, ['up']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const s = spans(events(dir));
  const [sec, plat, net, sto] = ['up/secrets/0', 'up/platform/0', 'up/networking/0', 'up/storage/0'].map((id) => s.get(id)!);
  assert.ok(sec!.end <= plat!.start, 'platform starts after secrets ends');
  assert.ok(plat!.end <= net!.start && plat!.end <= sto!.start, 'networking and storage start after platform');
  // overlap: each started before the other finished
  assert.ok(net!.start < sto!.end && sto!.start < net!.end, `networking ${JSON.stringify(net)} and storage ${JSON.stringify(sto)} overlap`);
  assert.match(r.stdout, /^up\/networking\s+\S+\s+\S+$/m);
  assert.match(r.stdout, /total .* of budget 1m/);
  assert.match(r.stdout, /critical path up\/secrets\/0 -> up\/platform\/0 -> up\/(networking|storage)\/0/);
});

test('down destroys a layer only after everything that depends on it', () => {
  const dir = castleDir(LAYERED);
  const r = castle(dir, ['down']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const s = spans(events(dir));
  const [sec, plat, net, sto] = ['down/secrets/0', 'down/platform/0', 'down/networking/0', 'down/storage/0'].map((id) => s.get(id)!);
  assert.ok(net!.end <= plat!.start && sto!.end <= plat!.start, 'platform destroyed after networking and storage');
  assert.ok(plat!.end <= sec!.start, 'secrets destroyed last');
  assert.ok(net!.start < sto!.end && sto!.start < net!.end, 'networking and storage destroyed in parallel');
});

test('rebirth is down then up in one run with one stopwatch', () => {
  const dir = castleDir(LAYERED);
  const r = castle(dir, ['rebirth']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const evs = events(dir);
  assert.equal(evs.filter((e) => e.type === 'run-started').length, 1);
  const s = spans(evs);
  assert.ok(s.get('down/secrets/0')!.end <= s.get('up/secrets/0')!.start, 'up starts after down finished');
  const fin = evs.find((e) => e.type === 'run-finished');
  assert.ok(fin && fin.type === 'run-finished');
  assert.deepEqual(
    fin.phases.map((p) => p.phase),
    ['down/networking', 'down/storage', 'down/platform', 'down/secrets', 'up/secrets', 'up/platform', 'up/networking', 'up/storage']
      .sort((a, b) => {
        const order = (x: string): number => (x.startsWith('down') ? 0 : 1);
        return order(a) - order(b);
      })
      .filter(() => true)
      .sort((a, b) => fin.phases.findIndex((p) => p.phase === a) - fin.phases.findIndex((p) => p.phase === b)),
  );
  assert.ok(
    fin.phases.every((p, i, a) => i === 0 || a[i - 1]!.startMs <= p.startMs),
    'phases listed by start',
  );
});

test('the event log is versioned JSONL with increasing seq and ISO timestamps', () => {
  const dir = castleDir(LAYERED);
  castle(dir, ['up', '--only', 'secrets']);
  const evs = events(dir);
  assert.equal(evs[0]!.type, 'run-started');
  assert.equal(evs[evs.length - 1]!.type, 'run-finished');
  evs.forEach((e, i) => {
    assert.equal(e.v, 1);
    assert.equal(e.seq, i + 1);
    assert.match(e.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
  const started = evs[0]!;
  assert.ok(started.type === 'run-started');
  assert.deepEqual(
    started.steps.map((s) => s.id),
    ['up/secrets/0'],
    '--only runs only that layer',
  );
});

test('a failing step is retried with backoff when its output matches retryOn, then succeeds', () => {
  const dir = castleDir(`name: retry
layers:
  - name: flaky
    apply:
      - run: |
          n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
          if [ $n -lt 3 ]; then echo "HTTP 429 Too Many Requests"; exit 1; fi
          echo "applied on attempt $n"
        retries: 2
        retryOn: ["429"]
        backoff: 50ms
`);
  const r = castle(dir, ['up']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const evs = events(dir);
  const retries = evs.filter((e) => e.type === 'step-retrying');
  assert.equal(retries.length, 2);
  assert.deepEqual(
    retries.map((e) => (e.type === 'step-retrying' ? e.delayMs : 0)),
    [50, 100],
    'backoff doubles',
  );
  const fin = evs.find((e) => e.type === 'step-finished');
  assert.ok(fin?.type === 'step-finished' && fin.status === 'succeeded' && fin.attempts === 3);
  const log = castle(dir, ['logs', '--step', 'up/flaky/0']);
  assert.match(log.stdout, /applied on attempt 3/);
  assert.match(log.stdout, /attempt 1 failed \(exited with code 1: HTTP 429 Too Many Requests\); retrying in 50 ms/);
});

test('a failure that does not match retryOn is not retried', () => {
  const dir = castleDir(`name: noretry
layers:
  - name: broken
    apply: [{run: "echo 'Error: invalid credentials'; exit 3", retries: 3, retryOn: ["timeout", "429"], backoff: 10ms}]
`);
  const r = castle(dir, ['up']);
  assert.equal(r.code, 1);
  const evs = events(dir);
  assert.equal(evs.filter((e) => e.type === 'step-retrying').length, 0);
  const fin = evs.find((e) => e.type === 'step-finished');
  assert.ok(fin?.type === 'step-finished');
  assert.equal(fin.status, 'failed');
  assert.equal(fin.reason, 'exited with code 3: Error: invalid credentials');
});

test('a step sees the caller environment, its own env over it, and the run and step ids', () => {
  const dir = castleDir(`name: envs
layers:
  - name: app
    apply:
      - {run: "echo \\"$GREETING $WHO $KEEP $CASTLE_STEP_ID\\" > out-0.txt", env: {GREETING: hello, WHO: castle}}
      - {run: "echo \\"$GREETING $WHO $KEEP $CASTLE_STEP_ID $CASTLE_RUN_ID\\" > out-1.txt"}
`);
  // the caller's CASTLE_RUN_ID (a castle started from a step of another castle) is replaced, not inherited
  const r = castle(dir, ['up'], { WHO: 'caller', KEEP: 'kept', CASTLE_RUN_ID: 'outer-run' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const [runId] = runIds(dir);
  assert.equal(readFileSync(join(dir, 'out-0.txt'), 'utf8'), 'hello castle kept up/app/0\n');
  assert.equal(readFileSync(join(dir, 'out-1.txt'), 'utf8'), ` caller kept up/app/1 ${runId}\n`);
});

test('a castle of run steps never loads the S3 or PostgreSQL clients: they come with the first step that needs them', () => {
  const dir = castleDir(`name: light
layers:
  - name: app
    apply: [{run: "true"}]
`);
  // a preload that lists, at exit, the packages the CLI process loaded through require
  const preload = join(dir, 'loaded.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'loaded.txt'))}, Object.keys(require.cache).join('\\n')));\n`,
  );
  const r = castle(dir, ['up'], { NODE_OPTIONS: `--require ${preload}` });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const loaded = readFileSync(join(dir, 'loaded.txt'), 'utf8');
  assert.match(loaded, /node_modules\/commander\//, 'the preload saw the CLI');
  for (const pkg of ['@aws-sdk', '@smithy', 'node_modules/pg/', 'pg-protocol']) assert.ok(!loaded.includes(pkg), `${pkg} loaded by castle up of run steps`);
});

test('a step whose cwd does not exist fails at once, naming the directory, without retries', () => {
  const dir = castleDir(`name: nocwd
layers:
  - name: app
    apply: [{run: "true", cwd: live/app, retries: 3, backoff: 10ms}]
`);
  const r = castle(dir, ['up']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const evs = events(dir);
  assert.equal(evs.filter((e) => e.type === 'step-retrying').length, 0);
  const fin = evs.find((e) => e.type === 'step-finished');
  assert.ok(fin?.type === 'step-finished');
  assert.equal(fin.status, 'failed');
  assert.equal(fin.reason, `working directory ${join(dir, 'live/app')} does not exist`);
});

test('a step over its timeout is killed with its whole process group and reported timed-out', async () => {
  const dir = castleDir(`name: slow
defaults: {killGrace: 500ms}
layers:
  - name: hang
    apply: [{run: "sleep 30 & echo $! > child.pid; wait", timeout: 400ms}]
`);
  const r = castle(dir, ['up']);
  assert.equal(r.code, 1);
  const fin = events(dir).find((e) => e.type === 'step-finished');
  assert.ok(fin?.type === 'step-finished');
  assert.equal(fin.status, 'timed-out');
  assert.equal(fin.reason, 'timed out after 400 ms');
  const pid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  await new Promise((r2) => setTimeout(r2, 100));
  assert.equal(alive(pid), false, 'the background grandchild was killed too');
});

test('exit codes: 0 success, 1 failed run, 2 invalid input', () => {
  assert.equal(castle(castleDir('name: ok\nlayers: [{name: a, apply: [{run: "true"}]}]\n'), ['up']).code, 0);
  assert.equal(castle(castleDir('name: bad\nlayers: [{name: a, apply: [{run: "false"}]}]\n'), ['up']).code, 1);
  assert.equal(castle(castleDir('name: bad\nlayers: [{name: a, aply: []}]\n'), ['up']).code, 2);
  assert.equal(castle(castleDir('name: ok\nlayers: [{name: a}]\n'), ['up', '--concurrency', 'zero']).code, 2);
});

test('a failed step stops new starts and lets running steps finish; --fail-fast stops them', () => {
  const yaml = `name: ff
layers:
  - {name: a, apply: [{run: "sleep 0.1; exit 1"}]}
  - {name: b, apply: [{run: "sleep 1; touch b.done"}]}
  - {name: c, dependsOn: [a], apply: [{run: "touch c.done"}]}
`;
  const dir = castleDir(yaml);
  assert.equal(castle(dir, ['up']).code, 1);
  assert.ok(existsSync(join(dir, 'b.done')), 'running step b finished');
  assert.ok(!existsSync(join(dir, 'c.done')), 'c was never started');
  const skipped = events(dir).find((e) => e.type === 'step-finished' && e.stepId === 'up/c/0');
  assert.ok(skipped?.type === 'step-finished' && skipped.status === 'skipped' && skipped.reason === 'not started: up/a/0 did not succeed');

  const dir2 = castleDir(yaml);
  assert.equal(castle(dir2, ['up', '--fail-fast']).code, 1);
  assert.ok(!existsSync(join(dir2, 'b.done')), 'b was stopped by --fail-fast');
  const b = events(dir2).find((e) => e.type === 'step-finished' && e.stepId === 'up/b/0');
  assert.ok(b?.type === 'step-finished' && b.status === 'cancelled');
  assert.equal(summary(dir2).status, 'failed');
});
