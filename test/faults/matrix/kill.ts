import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EventEnvelope } from '../../../src/events.js';
import {
  assertRecovered,
  clusterRoot,
  faultCastle,
  finished,
  noted,
  pgbackrestDoing,
  record,
  resumed,
  started,
  startUntil,
  type FaultCastle,
} from '../harness.js';

// Castle SIGKILLed at each phase boundary and in the middle of each phase, then `castle rebirth --resume`.
let c: FaultCastle;
before(async () => {
  c = await faultCastle();
});
after(() => c?.destroy());

const pgdataGone = () => !existsSync(join(clusterRoot(c), 'pgdata', 'postmaster.pid'));

const points: { name: string; when: (evs: EventEnvelope[]) => boolean; extra?: () => boolean }[] = [
  { name: 'gate starting', when: started('gate/0') },
  { name: 'mid-gate (pgBackRest backup running)', when: noted('gate/0', 'backing up'), extra: () => pgbackrestDoing(c, 'backup')() },
  { name: 'gate -> wipe boundary', when: finished('gate/0') },
  { name: 'mid-wipe (PostgreSQL stopped, files not yet deleted)', when: started('down/database/0'), extra: pgdataGone },
  { name: 'wipe -> restore boundary', when: finished('down/database/0') },
  { name: 'mid-restore (pgBackRest restore running)', when: noted('up/database/0', 'restoring'), extra: () => pgbackrestDoing(c, 'restore')() },
  { name: 'mid-start (WAL replay)', when: noted('up/database/0', 'replaying') },
  { name: 'start -> proof boundary', when: started('proof/0') },
];

for (const p of points) {
  test(`SIGKILL of Castle at ${p.name}, then rebirth --resume`, async () => {
    await c.write(50);
    const run = await startUntil(c, ['rebirth'], p.when, p.extra);
    const killed = await run.kill();
    assert.equal(killed.code, null, 'killed');
    const r = await c.run(['rebirth', '--resume']);
    const lost = await assertRecovered(c, r);
    record({ fault: `Castle SIGKILLed at ${p.name}`, printed: resumed(c, r), dataLost: lost, manual: 'none (`castle rebirth --resume`)', recoverMs: r.ms });
  });
}
