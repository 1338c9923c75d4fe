import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { alive, waitFor } from '../helpers/cli.js';
import {
  assertRecovered,
  clusterRoot,
  faultCastle,
  gateRefused,
  freezeHoldingLock,
  noted,
  pgbackrestDoing,
  pgbackrestPids,
  record,
  resumed,
  said,
  startUntil,
  type FaultCastle,
} from './harness.js';

// The fault matrix's fast subset, in `npm test`: a second rebirth refused while one runs, that one SIGKILLed in the
// middle of its restore, and `castle rebirth --resume` taking over the dead run's lock and finishing it; a pgBackRest
// backup outliving its killed Castle, stopped by the resume; one started by hand, left alone.
// The whole matrix: `npm run test:faults` (test/faults/matrix/).
let c: FaultCastle;
before(async () => {
  c = await faultCastle();
});
after(() => c?.destroy());

test('fast faults: two rebirths at once, then SIGKILL mid-restore and resume: no data lost, no manual step', async () => {
  await c.write(200);
  const run = await startUntil(c, ['rebirth'], noted('up/database/0', 'restoring'), pgbackrestDoing(c, 'restore'));
  // held where it is: a small restore can end the whole run before a second CLI process has started
  run.pause();
  const second = await c.run(['rebirth']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /castle local is locked by run \S+ \(rebirth, pid \d+ on /);
  record({
    fault: 'two rebirths started at once (the second while the first restores)',
    printed: said(second),
    dataLost: 'none: the second touched nothing',
    manual: 'none',
    recoverMs: 0,
  });
  const killed = await run.kill();
  assert.equal(killed.code, null);
  const r = await c.run(['rebirth', '--resume']);
  const lost = await assertRecovered(c, r);
  assert.match(r.stdout, /lock taken over from .*process \d+ is no longer running/);
  record({
    fault: 'Castle SIGKILLed mid-restore; its lock left behind',
    printed: resumed(c, r),
    dataLost: lost,
    manual: 'none (`castle rebirth --resume`)',
    recoverMs: r.ms,
  });
});

const conf = () => join(clusterRoot(c), 'pgbackrest', 'pgbackrest.conf');

test('Castle SIGKILLed mid-gate, its pgBackRest backup still holding the stanza: the resume stops that backup and completes', async () => {
  await c.write(50);
  const run = await startUntil(c, ['rebirth'], noted('gate/0', 'backing up'), pgbackrestDoing(c, 'backup'));
  const [backup] = pgbackrestPids(c, 'backup');
  assert.ok(backup, 'a pgBackRest backup runs');
  // frozen with the stanza's lock: however fast the backup, it outlives the Castle that started it
  await freezeHoldingLock(backup);
  const killed = await run.kill();
  assert.equal(killed.code, null);
  assert.ok(alive(backup), 'the backup outlives its Castle');
  const r = await c.run(['rebirth', '--resume']);
  const lost = await assertRecovered(c, r);
  const notes = c.lastEvents().flatMap((e) => (e.type === 'step-note' && e.message.startsWith('stopping pgBackRest') ? [e] : []));
  const expected = `stopping pgBackRest backup (pid ${backup}): the Castle process that started it (pid ${run.pid}) is gone`;
  assert.deepEqual(
    notes.map((n) => [n.stepId, n.message]),
    [['gate/0', expected]],
  );
  assert.ok(!alive(backup), 'the abandoned backup is stopped');
  record({
    fault: 'Castle SIGKILLed mid-gate, its pgBackRest backup left running with the stanza locked',
    printed: expected,
    dataLost: lost,
    manual: 'none (`castle rebirth --resume`)',
    recoverMs: r.ms,
  });
});

test('a pgBackRest backup started by hand holds the stanza: the gate refuses and names it, leaves it alone, and the next rebirth completes', async () => {
  await c.write(50);
  const owner = statSync(conf());
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: clusterRoot(c) };
  const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
  const hand = spawn('pgbackrest', [`--config=${conf()}`, '--stanza=db', 'backup', '--type=incr'], {
    cwd: clusterRoot(c),
    env,
    detached: true,
    stdio: 'ignore',
    ...asOwner,
  });
  const exited = new Promise<number | null>((r) => hand.on('exit', (code) => r(code)));
  await waitFor(() => pgbackrestPids(c, 'backup').includes(hand.pid!), 10_000, 'the backup started by hand');
  await freezeHoldingLock(hand.pid!);
  let failed;
  try {
    failed = await c.run(['rebirth']);
  } finally {
    try {
      process.kill(-hand.pid!, 'SIGCONT');
    } catch {
      // gone: what stopped it is for the assertions below to say
    }
  }
  const refusal = gateRefused(
    c,
    failed,
    new RegExp(
      `another pgBackRest process holds stanza 'db' while backing up to repo1: pgBackRest backup \\(pid ${hand.pid}, not started by Castle\\); let it end`,
    ),
  );
  assert.equal(await exited, 0, 'the backup started by hand, left alone, completes');
  const r = await c.run(['rebirth']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'a pgBackRest backup started by hand holds the stanza during a rebirth',
    printed: refusal.slice(0, 240),
    dataLost: `${lost}; nothing was wiped`,
    manual: 'by design: let the backup end (or stop it), then `castle rebirth`',
    recoverMs: r.ms,
  });
});
