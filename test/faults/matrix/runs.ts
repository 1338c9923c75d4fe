import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { alive } from '../../helpers/cli.js';
import { assertRecovered, faultCastle, record, said, started, startUntil, type FaultCastle } from '../harness.js';

// Runs getting in each other's way: two at once, a hangup of a detached run, a lock whose holder died.
let c: FaultCastle;
before(async () => {
  c = await faultCastle();
});
after(() => c?.destroy());

test('two rebirths started at once from two shells: the second is refused, the first completes', async () => {
  await c.write(50);
  const first = await startUntil(c, ['rebirth'], started('gate/0'));
  first.pause();
  const second = await c.run(['rebirth']);
  first.resume();
  assert.equal(second.code, 1);
  assert.match(second.stderr, /castle local is locked by run \S+ \(rebirth, pid \d+ on /);
  const r = await first.done;
  const lost = await assertRecovered(c, r);
  record({
    fault: 'two rebirths started at once from two shells',
    printed: `second: ${said(second)}`,
    dataLost: `${lost}; the second touched nothing`,
    manual: 'none (the first run completes)',
    recoverMs: 0,
  });
});

test('SIGHUP to a detached run: it goes on and completes', async () => {
  await c.write(50);
  const t = Date.now();
  const d = await c.run(['rebirth', '--detach']);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  const pid = Number(/\(pid (\d+)\)/.exec(d.stdout)![1]);
  const runId = /^run (\S+) started in the background/m.exec(d.stdout)![1]!;
  const summary = join(c.dir, '.castle', 'runs', runId, 'summary.json');
  for (let i = 0; i < 6000 && !c.lastEvents().some((e) => e.type === 'step-started' && e.stepId === 'gate/0'); i++) await new Promise((r) => setTimeout(r, 20));
  process.kill(pid, 'SIGHUP');
  while (alive(pid)) await new Promise((r) => setTimeout(r, 100));
  const status = JSON.parse(readFileSync(summary, 'utf8')).status as string;
  assert.equal(status, 'succeeded');
  const lost = await assertRecovered(c, { code: 0, stdout: '', stderr: '' });
  record({ fault: 'SIGHUP to a detached rebirth', printed: `ignored; run ${status}`, dataLost: lost, manual: 'none', recoverMs: Date.now() - t });
});

test('the lock left by a dead process: taken over with a warning', async () => {
  await c.write(50);
  const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
  assert.ok(!alive(Number(dead)));
  mkdirSync(join(c.dir, '.castle'), { recursive: true });
  writeFileSync(
    join(c.dir, '.castle', 'lock.json'),
    JSON.stringify({ pid: Number(dead), host: hostname(), runId: '20200101-000000.000-rebirth-dead', operation: 'rebirth', since: new Date(0).toISOString() }),
  );
  const r = await c.run(['rebirth']);
  const lost = await assertRecovered(c, r);
  assert.match(r.stdout, /lock taken over from .*process \d+ is no longer running/);
  assert.ok(!existsSync(join(c.dir, '.castle', 'lock.json')), 'released at the end');
  record({ fault: 'the lock left by a dead process', printed: said(r), dataLost: lost, manual: 'none', recoverMs: r.ms });
});
