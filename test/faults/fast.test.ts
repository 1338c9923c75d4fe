import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertRecovered, faultCastle, noted, pgbackrestDoing, record, resumed, said, startUntil, type FaultCastle } from './harness.js';

// The fault matrix's fast subset, in `npm test`: a second rebirth refused while one runs, that one SIGKILLed in the
// middle of its restore, and `castle rebirth --resume` taking over the dead run's lock and finishing it.
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
