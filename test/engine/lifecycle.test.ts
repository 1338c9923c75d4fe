import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { alive, castle, castleAsync, castleDir, CLI, events, runIds, summary, waitFor } from '../helpers/cli.js';

test('SIGINT stops running steps (whole process group), records the run as interrupted and releases the lock', async () => {
  const dir = castleDir(`name: interrupt
defaults: {killGrace: 1s}
layers:
  - name: long
    apply: [{run: "sleep 60 & echo $! > grandchild.pid; wait"}]
  - name: after
    dependsOn: [long]
    apply: [{run: "touch after.done"}]
`);
  const { child, done } = castleAsync(dir, ['up']);
  await waitFor(() => existsSync(join(dir, 'grandchild.pid')), 20_000, 'the step to start');
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const s = summary(dir);
  assert.equal(s.status, 'interrupted');
  const evs = events(dir);
  const sig = evs.find((e) => e.type === 'signal');
  assert.ok(sig?.type === 'signal' && sig.signal === 'SIGINT');
  const fin = evs.find((e) => e.type === 'step-finished' && e.stepId === 'up/long/0');
  assert.ok(fin?.type === 'step-finished' && fin.status === 'cancelled', JSON.stringify(fin));
  const skipped = evs.find((e) => e.type === 'step-finished' && e.stepId === 'up/after/0');
  assert.ok(skipped?.type === 'step-finished' && skipped.reason === 'not started: run interrupted');
  assert.ok(!existsSync(join(dir, '.castle', 'lock.json')), 'lock released');
  const gc = Number(readFileSync(join(dir, 'grandchild.pid'), 'utf8'));
  await waitFor(() => !alive(gc), 3000, 'the grandchild to die');
  assert.match(r.stdout, /continue: castle up --resume/);
});

test('up --resume continues the last failed run, skipping the steps that succeeded', () => {
  const dir = castleDir(`name: resume
layers:
  - name: one
    apply: [{run: "echo x >> one.count"}]
  - name: two
    dependsOn: [one]
    apply: [{run: "test -f fixed && echo x >> two.count"}]
  - name: three
    dependsOn: [two]
    apply: [{run: "echo x >> three.count"}]
`);
  assert.equal(castle(dir, ['up']).code, 1);
  const first = runIds(dir)[0]!;
  writeFileSync(join(dir, 'fixed'), '');
  const r = castle(dir, ['up', '--resume']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(readFileSync(join(dir, 'one.count'), 'utf8'), 'x\n', 'step one ran once in all');
  assert.equal(readFileSync(join(dir, 'two.count'), 'utf8'), 'x\n');
  assert.equal(readFileSync(join(dir, 'three.count'), 'utf8'), 'x\n');
  const evs = events(dir);
  const started = evs[0]!;
  assert.ok(started.type === 'run-started' && started.resumeOf === first);
  const one = evs.find((e) => e.type === 'step-finished' && e.stepId === 'up/one/0');
  assert.ok(one?.type === 'step-finished' && one.status === 'skipped' && one.reason === `succeeded in run ${first}`);
  assert.deepEqual([...summary(dir).succeeded].sort(), ['up/one/0', 'up/three/0', 'up/two/0']);
  const again = castle(dir, ['up', '--resume']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /nothing to resume: the last up run \(.*\) succeeded/);
});

test('a run whose process was killed (SIGKILL) reads as interrupted and --resume continues it', async () => {
  const dir = castleDir(`name: killed
layers:
  - name: one
    apply: [{run: "echo x >> one.count"}]
  - name: two
    dependsOn: [one]
    apply: [{run: "test -f go || { echo $$ > two.pid; exec sleep 60; }"}]
  - name: three
    dependsOn: [two]
    apply: [{run: "echo x >> three.count"}]
`);
  const { child, done } = castleAsync(dir, ['up']);
  const first = (): string => runIds(dir)[0]!;
  const summaryFile = (): string => join(dir, '.castle', 'runs', first(), 'summary.json');
  await waitFor(
    // the run folder is made beside the first steps: it may not be listed yet when step two starts
    () => existsSync(join(dir, 'two.pid')) && readFileSync(join(dir, 'two.pid'), 'utf8').endsWith('\n') && runIds(dir).length > 0 && existsSync(summaryFile()),
    20_000,
    'step two to start',
  );
  const stepPid = Number(readFileSync(join(dir, 'two.pid'), 'utf8'));
  child.kill('SIGKILL'); // no handler runs: no last summary, the lock stays behind
  await done;
  process.kill(stepPid, 'SIGKILL'); // the step's sleep outlives the killed castle
  assert.equal(summary(dir, first()).status, 'running', 'what the killed run left on disk');

  const readBack = (): Record<string, unknown> => {
    const listed = castle(dir, ['runs', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const runs = JSON.parse(listed.stdout) as Record<string, unknown>[];
    assert.equal(runs.length, 1);
    return runs[0]!;
  };
  const run = readBack();
  assert.equal(run.runId, first());
  assert.equal(run.status, 'interrupted');
  assert.match(String(run.reason), new RegExp(`^process ${child.pid} on ${hostname()} ended without finishing the run`));
  assert.deepEqual(run.succeeded, ['up/one/0']);
  assert.match(castle(dir, ['status']).stdout, new RegExp(`last run ${first()}: up interrupted`));
  // killed before its first summary was written (it is written beside the first steps): the event log tells the same
  const saved = readFileSync(summaryFile());
  rmSync(summaryFile());
  const fromLog = readBack();
  // what only the summary holds (argv, detached) aside; the start is the run-started event's time, a moment later
  assert.deepEqual(
    { ...fromLog, detached: run.detached, argv: run.argv, startedAt: run.startedAt, durationMs: run.durationMs },
    run,
    'read back from the event log alone: the same run, steps and reason',
  );
  assert.ok(Math.abs(Date.parse(String(fromLog.startedAt)) - Date.parse(String(run.startedAt))) < 1000);
  writeFileSync(summaryFile(), saved);

  writeFileSync(join(dir, 'go'), '');
  const r = castle(dir, ['up', '--resume']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`lock taken over from run ${first()}`));
  assert.equal(readFileSync(join(dir, 'one.count'), 'utf8'), 'x\n', 'step one ran once in all');
  assert.equal(readFileSync(join(dir, 'three.count'), 'utf8'), 'x\n');
  const skipped = events(dir).find((e) => e.type === 'step-finished' && e.stepId === 'up/one/0');
  assert.ok(skipped?.type === 'step-finished' && skipped.status === 'skipped' && skipped.reason === `succeeded in run ${first()}`, JSON.stringify(skipped));
  assert.equal(summary(dir).resumeOf, first());
});

test('a step log that cannot be written is reported as a warning and the run goes on', () => {
  const dir = castleDir(`name: nolog
layers:
  - name: a
    apply: [{run: 'mkdir -p "$CASTLE_STATE_DIR/runs/$CASTLE_RUN_ID" && touch "$CASTLE_STATE_DIR/runs/$CASTLE_RUN_ID/steps" && echo hello'}]
  - {name: b, dependsOn: [a], apply: [{run: "echo x > b.done"}]}
`);
  const r = castle(dir, ['up']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(existsSync(join(dir, 'b.done')));
  const warn = events(dir).find((e) => e.type === 'warning');
  assert.ok(warn?.type === 'warning', JSON.stringify(events(dir)));
  assert.match(warn.message, /^the log of step up\/a\/0 \(.*steps\/up__a__0\.log\) could not be written \(.*\): castle logs will miss its output$/);
});

test('a second run is refused while the first holds the lock, naming the holder', async () => {
  const dir = castleDir(`name: locked
layers:
  - {name: a, apply: [{run: "touch started; sleep 3"}]}
`);
  const first = castleAsync(dir, ['up']);
  await waitFor(() => existsSync(join(dir, 'started')), 20_000, 'the first run');
  const lock = JSON.parse(readFileSync(join(dir, '.castle', 'lock.json'), 'utf8'));
  const second = castle(dir, ['up']);
  assert.equal(second.code, 1);
  assert.equal(
    second.stderr,
    `castle: castle locked is locked by run ${lock.runId} (up, pid ${first.child.pid} on ${hostname()}, since ${lock.since})\n` +
      `  wait for it (castle status), or if that process is gone from another host: castle unlock --force\n`,
  );
  const st = castle(dir, ['status']);
  assert.match(st.stdout, new RegExp(`^run ${lock.runId}: up in progress \\(pid ${first.child.pid} on `, 'm'));
  assert.match(st.stdout, /^  steps: 0\/1 done, 1 running$/m);
  assert.match(st.stdout, /^  running: up\/a\/0 \(/m);
  assert.equal((await first.done).code, 0);
  assert.equal(runIds(dir).length, 1, 'the refused run left no run folder');
});

test('a lock whose process is dead on this host is taken over with a warning', () => {
  const dir = castleDir(`name: stale
layers:
  - {name: a, apply: [{run: "true"}]}
`);
  const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
  mkdirSync(join(dir, '.castle'), { recursive: true });
  const stale = { pid: Number(dead), host: hostname(), runId: '20260101-000000-up-dead', since: '2026-01-01T00:00:00.000Z', operation: 'up' };
  writeFileSync(join(dir, '.castle', 'lock.json'), JSON.stringify(stale));
  const r = castle(dir, ['up']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const took = events(dir).find((e) => e.type === 'lock-taken-over');
  assert.ok(took?.type === 'lock-taken-over');
  assert.deepEqual(took.previous, stale);
  assert.equal(took.reason, `process ${dead} is no longer running`);
  assert.match(r.stdout, /lock taken over from run 20260101-000000-up-dead/);
  assert.ok(!existsSync(join(dir, '.castle', 'lock.json')));
});

test('unlock --force removes a lock held from another host', () => {
  const dir = castleDir('name: remote\nlayers: [{name: a, apply: [{run: "true"}]}]\n');
  mkdirSync(join(dir, '.castle'), { recursive: true });
  writeFileSync(
    join(dir, '.castle', 'lock.json'),
    JSON.stringify({ pid: 1, host: 'elsewhere', runId: 'r-remote', since: '2026-01-01T00:00:00Z', operation: 'rebirth' }),
  );
  const refused = castle(dir, ['up']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /locked by run r-remote \(rebirth, pid 1 on elsewhere/);
  assert.equal(castle(dir, ['unlock']).code, 2);
  const u = castle(dir, ['unlock', '--force']);
  assert.equal(u.stdout, 'removed the lock of run r-remote (pid 1 on elsewhere, since 2026-01-01T00:00:00Z)\n');
  assert.equal(castle(dir, ['up']).code, 0);
});

test('a detached run finishes after the shell that started it is killed', async () => {
  const dir = castleDir(`name: detached
layers:
  - {name: a, apply: [{run: "sleep 1.5; touch a.done"}]}
  - {name: b, dependsOn: [a], apply: [{run: "touch b.done"}]}
`);
  // The parent shell runs in its own process group so the whole group can be killed like a closed terminal.
  const shell = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" up --detach > detach.out 2>&1; sleep 60`], { cwd: dir, detached: true, stdio: 'ignore' });
  await waitFor(() => existsSync(join(dir, 'detach.out')) && readFileSync(join(dir, 'detach.out'), 'utf8').includes('follow it'), 20_000, 'the detach message');
  process.kill(-shell.pid!, 'SIGHUP');
  process.kill(-shell.pid!, 'SIGKILL');
  const out = readFileSync(join(dir, 'detach.out'), 'utf8');
  const id = /run (\S+) started in the background \(pid (\d+)\)/.exec(out);
  assert.ok(id, out);
  assert.match(out, new RegExp(`follow it:  castle logs -f ${id[1]}`));
  assert.ok(alive(Number(id[2])), 'the detached run outlived its shell');
  await waitFor(() => !alive(Number(id[2])), 30_000, 'the detached run to finish');
  assert.equal(summary(dir, id[1]).status, 'succeeded');
  assert.ok(existsSync(join(dir, 'b.done')));
  assert.equal(summary(dir, id[1]).detached, true);
  const output = readFileSync(join(dir, '.castle', 'runs', id[1]!, 'output.log'), 'utf8');
  assert.match(output, /up\/b\/0 succeeded/);
  assert.match(output, /^total 1\.\ds \(no budget\)$/m);
  const logs = castle(dir, ['logs', id[1]!]);
  assert.match(logs.stdout, /run-finished|succeeded/);
});

test('logs -f follows a running run to its end', async () => {
  const dir = castleDir(`name: follow
layers:
  - {name: a, apply: [{run: "sleep 1"}]}
`);
  const run = castleAsync(dir, ['up']);
  await waitFor(() => runIds(dir).length === 1 && existsSync(join(dir, '.castle', 'runs', runIds(dir)[0]!, 'events.jsonl')), 20_000, 'the run');
  const follow = castleAsync(dir, ['logs', '-f']);
  const f = await follow.done;
  await run.done;
  assert.match(f.stdout, /up\/a\/0 started/);
  assert.match(f.stdout, /run \S+ succeeded/);
  const runsOut = castle(dir, ['runs']);
  assert.match(runsOut.stdout, /^RUN\s+OPERATION\s+STATUS\s+STARTED \(UTC\)\s+DURATION\s+BUDGET$/m);
  assert.match(runsOut.stdout, /-up-\w+\s+up\s+succeeded\s/);
});
