import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventEnvelope } from '../../src/events.js';
import { TtySink } from '../../src/sinks/tty.js';
import { RunBuilder, T0, plan, rebirthRun } from './fixture.js';

class FakeTty {
  readonly chunks: string[] = [];
  readonly isTTY = true;
  constructor(
    readonly columns = 60,
    readonly rows = 40,
  ) {}
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  /** what each write left on screen, without cursor movement or colour */
  frames(): string[] {
    return this.chunks.map((c) => c.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')).filter((c) => c.trim() !== '');
  }
}

function sinkOn(stream: FakeTty, now: () => number, color = false): TtySink {
  return new TtySink({ stream: stream as unknown as NodeJS.WriteStream, now, color });
}

const at = (ev: EventEnvelope) => Date.parse(ev.ts);

test('the final frame is the whole tree with marks, times and proof checks', () => {
  const tty = new FakeTty(60);
  const events = rebirthRun();
  const sink = sinkOn(tty, () => at(events.at(-1)!));
  for (const ev of events) sink.handle(ev);
  const final = tty.frames().at(-1)!;
  assert.deepEqual(final.split('\n'), [
    'castle demo · rebirth · succeeded · 1m02.3s of budget 12m (8.7%)',
    'gate                                                   4.2s',
    '  ✔ db                                                 4.2s',
    '    ✔ pg backup                                        4.2s',
    'down                                                  12.0s',
    '  ✔ app                                                4.8s',
    '    ✔ destroy app                                      4.8s',
    '  ✔ db                                                 7.2s',
    '    ✔ destroy db                                       7.2s',
    'up                                                    33.8s',
    '  ✔ db                                                13.8s',
    '    ✔ create db                                       13.8s',
    '  ✔ app                                               20.0s',
    '    ✔ deploy api                                      20.0s',
    '    ✔ deploy worker                                   11.0s',
    'proof                                                 12.3s',
    '  ✔ db                                                12.3s',
    '    ✔ row count                                       12.3s',
    '      ✔ row count: 1200 rows',
    '',
  ]);
  assert.ok(tty.chunks.at(-1)!.endsWith('\x1b[?25h'), 'cursor shown again');
});

test('a running step shows a spinner, elapsed time and its last note; a retrying one ↻ and why', async () => {
  const tty = new FakeTty(80);
  const events = rebirthRun().filter((e) => at(e) - T0 <= 40_000);
  const extra = new RunBuilder()
    .at(40_000, { type: 'step-note', stepId: 'up/app/0', message: 'rollout 2/3 ready' })
    .at(40_000, { type: 'step-retrying', stepId: 'up/app/1', attempt: 1, delayMs: 3000, reason: 'ECONNREFUSED\nstack…' })
    .at(40_000, { type: 'warning', message: 'disk almost full' })
    .build()
    .map((e, i) => ({ ...e, seq: 100 + i }));
  const sink = sinkOn(tty, () => T0 + 41_000);
  for (const ev of [...events, ...extra]) sink.handle(ev);
  await sleep(150);
  const frame = tty.frames().at(-1)!;
  assert.match(frame, /^castle demo · rebirth · 41\.0s of budget 12m \(5\.7%\)$/m);
  assert.match(frame, /^ {4}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] deploy api +11\.0s$/m);
  assert.match(frame, /^ {6}└ rollout 2\/3 ready$/m, 'only the last note');
  assert.doesNotMatch(frame, /waiting for rollout/);
  assert.match(frame, /^ {4}↻ deploy worker \(retry 2 in 2\.0s\) +11\.0s$/m);
  assert.match(frame, /^ {6}└ ECONNREFUSED$/m);
  assert.match(frame, /^ {2}· db$/m, 'proof layer not started: no time');
  assert.match(frame, /^! disk almost full$/m);
  sink.close();
});

test('redraws are throttled: a burst of events costs one frame, and nothing is drawn after the end', async () => {
  const tty = new FakeTty();
  const steps = Array.from({ length: 100 }, (_, i) => plan(`up/l${i % 5}/${i}`, `step ${i}`));
  const b = new RunBuilder().start(steps);
  steps.forEach((s, i) => b.step(s.id, i, i + 1));
  const events = b.build();
  const sink = sinkOn(tty, () => T0 + 500);
  for (const ev of events) sink.handle(ev);
  const burst = tty.frames().length;
  assert.ok(burst <= 1, `one frame for ${events.length} events, got ${burst}`);
  await sleep(200);
  assert.ok(tty.frames().length > burst, 'the deferred frame is drawn');
  sink.handle(new RunBuilder().finish(600, [], []).build()[0]!);
  const written = tty.chunks.length;
  await sleep(200);
  assert.equal(tty.chunks.length, written, 'no writes after run-finished');
});

test('live frames fit the terminal; the final frame lists every step', async () => {
  const tty = new FakeTty(60, 12);
  const steps = Array.from({ length: 30 }, (_, i) => plan(`up/l${Math.floor(i / 3)}/${i}`, `step ${i}`));
  const b = new RunBuilder().start(steps);
  steps.slice(0, 20).forEach((s, i) => b.step(s.id, i * 10, i * 10 + 5));
  b.at(300, { type: 'step-started', stepId: steps[20]!.id, attempt: 1 });
  const sink = sinkOn(tty, () => T0 + 400);
  for (const ev of b.build()) sink.handle(ev);
  await sleep(150);
  const live = tty.frames();
  assert.ok(live.length >= 1);
  for (const f of live) assert.ok(f.split('\n').length - 1 <= 11, `frame of ${f.split('\n').length - 1} lines:\n${f}`);
  assert.match(live.at(-1)!, /more lines/);
  sink.handle(new RunBuilder().finish(400, [], [], { status: 'interrupted' }).build()[0]!);
  const final = tty.frames().at(-1)!;
  for (const s of steps) assert.ok(final.includes(` ${s.label}\n`) || final.includes(` ${s.label} `), `${s.label} in final frame`);
  assert.match(final.split('\n')[0]!, /interrupted/);
});

test('colour only when asked: marks are green/red', () => {
  const tty = new FakeTty();
  const events = new RunBuilder()
    .start([plan('up/a/0', 'ok step'), plan('up/a/1', 'bad step')])
    .step('up/a/0', 0, 10)
    .step('up/a/1', 0, 20, 'failed', 'exit 1')
    .finish(20, [], [], { status: 'failed' })
    .build();
  const sink = sinkOn(tty, () => T0 + 20, true);
  for (const ev of events) sink.handle(ev);
  const last = tty.chunks.at(-1)!;
  assert.ok(last.includes('\x1b[32m✔\x1b[39m ok step'));
  assert.ok(last.includes('\x1b[31m✖\x1b[39m bad step'));
  assert.ok(last.includes('\x1b[31m      └ exit 1\x1b[39m'));
});

test('long labels are cut so the time column stays on screen; a run cut off still leaves its tree', () => {
  const tty = new FakeTty(40);
  const long = 'apply the platform layer with every single manifest in it';
  const events = new RunBuilder()
    .start([plan('up/platform/0', long)], { budgetMs: null })
    .at(0, { type: 'step-started', stepId: 'up/platform/0', attempt: 1 })
    .at(500, { type: 'step-started', stepId: 'up/extra/0', attempt: 1 })
    .build();
  const sink = sinkOn(tty, () => T0 + 2_000);
  for (const ev of events) sink.handle(ev);
  sink.close();
  const lines = tty.frames().at(-1)!.split('\n');
  assert.equal(lines[0], 'castle demo · rebirth · 2.0s', 'no budget, no percentage');
  const step = lines.find((l) => l.includes('apply the'))!;
  assert.equal(step.length, 39);
  assert.match(step, /^ {4}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] apply the platform layer w…  2\.0s$/);
  assert.ok(
    lines.some((l) => /^ {4}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] up\/extra\/0 +1\.5s$/.test(l)),
    'a step missing from the plan still shows',
  );
  assert.ok(tty.chunks.at(-1)!.endsWith('\x1b[?25h'));
});

test('a terminal that reports 0x0 (unsized pty) still gets live frames', () => {
  const tty = new FakeTty(0, 0);
  const events = rebirthRun().filter((e) => at(e) - T0 <= 5_000);
  const sink = sinkOn(tty, () => T0 + 5_000);
  sink.handle(events[0]!);
  const first = tty.frames();
  assert.equal(first.length, 1, 'run-started is drawn at once');
  assert.match(first[0]!, /^castle demo · rebirth · 5\.0s of budget 12m \(0\.7%\)\ngate\n {2}· db\n {4}· pg backup\n/);
  sink.close();
});
