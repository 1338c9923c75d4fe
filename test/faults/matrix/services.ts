import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import {
  assertRecovered,
  blogClient,
  checks,
  clusterRoot,
  faultCastle,
  gateRefused,
  noted,
  pgbackrestDoing,
  powerCut,
  record,
  resumed,
  said,
  startUntil,
  type FaultCastle,
} from '../harness.js';

// The parts Castle depends on failing under it: the S3 endpoint, WAL archiving, PostgreSQL, a port, the power.
let c: FaultCastle;
before(async () => {
  c = await faultCastle();
});
after(() => c?.destroy());

const pgdata = () => join(clusterRoot(c), 'pgdata');
const s3Pid = () => Number(readFileSync(join(c.s3Dir, 's3.pid'), 'utf8'));

test('the S3 endpoint killed during the gate: nothing is wiped; once it is back, a rerun completes', async () => {
  await c.write(50);
  const run = await startUntil(c, ['rebirth'], noted('gate/0', 'backing up'), pgbackrestDoing(c, 'backup'));
  process.kill(s3Pid(), 'SIGKILL');
  const failed = await run.done;
  const refusal = gateRefused(c, failed, /^backup gate failed, nothing may be wiped: /);
  assert.equal(await c.count(), c.written, 'the castle still serves every row');
  await c.s3Back();
  const r = await c.run(['rebirth']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'S3 endpoint SIGKILLed during the gate',
    printed: refusal.slice(0, 200),
    dataLost: `${lost}; nothing was wiped`,
    manual: 'none (the endpoint comes back; `castle rebirth` again)',
    recoverMs: r.ms,
  });
});

test('the S3 endpoint killed during the restore: retried, then a clear failure; once it is back, resume completes', async () => {
  await c.write(50);
  const run = await startUntil(c, ['rebirth'], noted('up/database/0', 'restoring'), pgbackrestDoing(c, 'restore'));
  const killedAt = Date.now();
  process.kill(s3Pid(), 'SIGKILL');
  const first = await run.done;
  const evs = c.lastEvents();
  const fin = evs.find((e) => e.type === 'step-finished' && e.stepId === 'up/database/0');
  const retries = evs.filter((e) => e.type === 'step-retrying' && e.stepId === 'up/database/0');
  assert.ok(retries.length >= 1, 'the restore was retried');
  const why = retries[0]?.type === 'step-retrying' ? retries[0].reason : '';
  if (first.code === 0) {
    // the castle's own endpoint: a retry finds it stopped and starts it again, as after a power cut
    const lost = await assertRecovered(c, first);
    assert.ok(evs.some((e) => e.type === 'step-note' && /S3 endpoint .* is not running: starting it again/.test(e.message)));
    record({
      fault: 'S3 endpoint SIGKILLed during the restore',
      printed: `retried (${why.slice(0, 150)}); the retry started the castle's endpoint again`,
      dataLost: lost,
      manual: 'none',
      recoverMs: Date.now() - killedAt,
    });
    return;
  }
  assert.ok(fin?.type === 'step-finished' && fin.status === 'failed', 'the restore step failed');
  await c.s3Back();
  const r = await c.run(['rebirth', '--resume']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'S3 endpoint SIGKILLed during the restore',
    printed: `${retries.length} retries, then: ${(fin.reason ?? '').slice(0, 180)}`,
    dataLost: lost,
    manual: 'none (the endpoint comes back; `castle rebirth --resume`)',
    recoverMs: r.ms,
  });
});

/** Inserts a row every 20 ms through pgBouncer until stopped; returns how many it wrote. */
function writer(): { stop: () => Promise<number> } {
  let stop = false;
  let n = 0;
  const done = (async () => {
    const cl = await blogClient(c);
    try {
      while (!stop) {
        await cl.query("INSERT INTO fault_rows (body) VALUES ('during the outage')");
        n++;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await cl.end();
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return n;
    },
  };
}

test('WAL archiving failing (endpoint down) while writes continue: the gate refuses; the rows written meanwhile survive the next rebirth', async () => {
  await c.write(50);
  const w = writer();
  process.kill(s3Pid(), 'SIGKILL');
  const failed = await c.run(['rebirth']);
  c.written += await w.stop();
  const refusal = gateRefused(c, failed, /S3 endpoint/);
  await c.s3Back();
  const r = await c.run(['rebirth']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'WAL archiving failing (S3 endpoint down) while writes continue',
    printed: refusal.slice(0, 200),
    dataLost: `${lost}, including those written while archiving failed`,
    manual: 'none (the endpoint comes back; `castle rebirth` again)',
    recoverMs: r.ms,
  });
});

test('WAL archiving failing (wrong S3 secret) while writes continue: the gate refuses', async () => {
  await c.write(50);
  const good = c.secret('S3_SECRET_ACCESS_KEY');
  c.setSecret('S3_SECRET_ACCESS_KEY', good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A'));
  const w = writer();
  const failed = await c.run(['rebirth']);
  c.written += await w.stop();
  const refusal = gateRefused(c, failed, /credentials|403|Signature/);
  const t = Date.now();
  c.setSecret('S3_SECRET_ACCESS_KEY', good);
  const r = await c.run(['rebirth']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'WAL archiving failing (wrong S3 secret) while writes continue',
    printed: refusal.slice(0, 200),
    dataLost: lost,
    manual: 'by design: put the right S3_SECRET_ACCESS_KEY back in the secret source, then `castle rebirth`',
    recoverMs: Date.now() - t,
  });
});

test('PostgreSQL crashing during the gate: nothing is wiped; a rerun restarts it and completes', async () => {
  await c.write(50);
  const run = await startUntil(c, ['rebirth'], noted('gate/0', 'backing up'), pgbackrestDoing(c, 'backup'));
  const pid = Number(readFileSync(join(pgdata(), 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGKILL');
  const failed = await run.done;
  // whichever sees it first (the fingerprint beside the backup, or pgBackRest), the refusal names the server's end
  const refusal = gateRefused(c, failed, /PostgreSQL stopped running on \S+ during the backup: fingerprint failed|pgBackRest cannot reach PostgreSQL/);
  const r = await c.run(['rebirth']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'PostgreSQL SIGKILLed during the gate',
    printed: refusal.slice(0, 200),
    dataLost: `${lost}; nothing was wiped`,
    manual: 'none (`castle rebirth` again: the gate restarts the crashed cluster)',
    recoverMs: r.ms,
  });
});

test('a port taken by another process: a clear failure, nothing lost; once it is free, the run completes', async () => {
  await c.write(50);
  // pgBouncer's port, held by a stranger while the castle is down (a rebirth needs it again after the wipe)
  assert.equal((await c.run(['down', '--only', 'app', '--only', 'pooler'])).code, 0);
  // a stranger that accepts and hangs up, so that a probe of the port sees it taken
  const srv: Server = createServer((sock) => sock.destroy());
  await new Promise<void>((r, j) => {
    srv.once('error', j);
    srv.listen(c.ports.pgbouncer, '127.0.0.1', () => r());
  });
  const failed = await c.run(['rebirth']);
  srv.close();
  assert.notEqual(failed.code, 0);
  assert.match(failed.stdout + failed.stderr, new RegExp(`${c.ports.pgbouncer}|pgbouncer|port`, 'i'));
  const evs = c.lastEvents();
  const wiped = evs.some((e) => e.type === 'step-finished' && e.stepId === 'down/database/0' && e.status === 'succeeded');
  // refused by a preflight (exit 2, nothing touched), or found when pgBouncer starts after the wipe and restore
  const r = await c.run(wiped ? ['rebirth', '--resume'] : ['rebirth']);
  const lost = await assertRecovered(c, r);
  record({
    fault: "a port (pgBouncer's) taken by another process",
    printed: said(failed),
    dataLost: wiped ? `${lost} (found after the wipe and restore, when pgBouncer started)` : `${lost}; refused before anything was touched`,
    manual: `by design: stop the other process, then \`castle rebirth${wiped ? ' --resume' : ''}\``,
    recoverMs: r.ms,
  });
});

test('power cut during the restore: Castle and every castle process SIGKILLed at once, then resume', async () => {
  await c.write(50);
  const run = await startUntil(c, ['rebirth'], noted('up/database/0', 'restoring'), pgbackrestDoing(c, 'restore'));
  const cut = await powerCut([run.pid], [c.dataDir, c.s3Dir]);
  await run.done;
  assert.deepEqual(cut.survivors, [], 'nothing of the castle survives the power cut');
  const r = await c.run(['rebirth', '--resume']);
  const lost = await assertRecovered(c, r);
  record({
    fault: `power cut during the restore (Castle and ${cut.killed - 1} castle processes SIGKILLed at once, S3 endpoint included)`,
    printed: resumed(c, r),
    dataLost: lost,
    manual: 'none (`castle rebirth --resume`)',
    recoverMs: r.ms,
  });
});
