import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { postmasterPid } from '../../../data/postgres.js';
import { sleep } from '../../../os/sleep.js';
import { backupGate, restoreInterrupted, startCastle } from '../../../data/rebirth.js';
import { fingerprintRate } from '../../../data/fingerprint.js';
import type { StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import { fail, localEnv, opOptions } from '../env.js';
import { saveGate } from '../gate-record.js';

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/**
 * The backup gate: nothing is wiped without it. WAL flushed and archived, an incremental backup to
 * the S3 repo confirmed through the S3 API, the data fingerprinted. Any failure stops the run here.
 */
export const run: StepKind<{ fingerprint?: boolean; newBackup?: boolean }, LocalSession>['run'] = async (c, ctx, session) => {
  const t0 = Date.now();
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  // the step's own share of the rebirth's fixed costs, beside the gate's timings (the bench reads them)
  ctx.log(`castle's view of the data layer (manifests, secrets, paths) read in ${Date.now() - t0} ms\n`);
  const cl = env.data.cluster;
  if (!postmasterPid(cl)) {
    if (!existsSync(join(cl.dataDir, 'PG_VERSION'))) {
      saveGate(session, ctx, { runId: ctx.runId, cluster: env.model.name, empty: true });
      ctx.check('backup gate', true, `no data to back up: ${cl.dataDir} does not exist (the castle is already down)`);
      return { ok: true, summary: 'no data: the castle is already down' };
    }
    if (restoreInterrupted(cl))
      return fail(
        `a restore of '${env.model.name}' into ${cl.dataDir} was interrupted: finish it first (castle rebirth --resume, or castle up); a half-restored directory is never backed up nor wiped as if it were the data`,
      );
    // stopped or crashed with its data in place: started (crash recovery) as `castle up` would, then backed up
    ctx.note('PostgreSQL is not running: starting the existing cluster for the backup');
    let st = await startCastle(env.data, { ...opOptions(ctx), redact: env.data.pgbr.redact });
    // a postmaster killed a moment ago leaves its children holding the shared memory until they notice: wait for them
    for (let i = 0; i < 10 && !st.ok && /another server might be running|shared memory/i.test(st.reason) && !ctx.signal.aborted; i++) {
      await sleep(1000, ctx.signal);
      st = await startCastle(env.data, { ...opOptions(ctx), redact: env.data.pgbr.redact });
    }
    if (!st.ok)
      return fail(
        `PostgreSQL of '${env.model.name}' is not running and does not start, so no fresh backup can be taken and nothing may be wiped: ${st.reason}`,
      );
  }
  ctx.note(c.newBackup === false ? 'flushing WAL (no new backup)' : 'flushing WAL, backing up to S3');
  const r = await backupGate(env.data, {
    ...opOptions(ctx),
    redact: env.data.pgbr.redact,
    // Not repo2: the gate precedes a wipe, which deletes the local repo seconds later (a full backup
    // there cost 3-4 s of every rebirth in the bench). repo2 gets its backups outside rebirths.
    // the fingerprint only serves the proof: with --no-proof nobody would read it
    fingerprint: c.fingerprint !== false && !ctx.proofSkipped,
    newBackup: c.newBackup !== false,
    // a rebirth's restore follows: the retention waits for the restored cluster, off the gate-to-wipe path
    deferExpire: ctx.operation === 'rebirth',
  });
  if (!r.ok) {
    ctx.check('backup gate', false, r.reason);
    return fail(r.reason, true);
  }
  const g = r.value;
  saveGate(session, ctx, { runId: ctx.runId, cluster: env.model.name, empty: false, gate: g });
  ctx.check('WAL flushed', true, `archived through ${g.flushedSegment}`);
  ctx.check(
    'backup in S3',
    true,
    `${c.newBackup === false ? 'last ' : ''}${g.backup.type} backup ${g.backup.label} listed in backup.info: ${mb(g.backup.size)} of data, ${mb(g.backup.repoSizeDelta)} stored, finished ${g.backup.stopTime}`,
  );
  if (g.fingerprint) {
    const rows = g.fingerprint.tables.reduce((a, t) => a + t.rows, 0);
    ctx.check(
      'fingerprint recorded',
      true,
      `${g.fingerprint.tables.length} tables, ${rows} rows in ${g.fingerprint.databases.length} databases (${fingerprintRate(g.fingerprint)})`,
    );
  }
  return { ok: true, summary: `${g.backup.type} backup ${g.backup.label} confirmed in S3` };
};
