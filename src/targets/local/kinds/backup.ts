import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintCluster } from '../../../data/fingerprint.js';
import { flushWal, repoBackupInfo } from '../../../data/pgbackrest.js';
import { connConfig, postmasterPid, runningSystemId } from '../../../data/postgres.js';
import type { Result } from '../../../data/proc.js';
import { backupGate, type GateRecord } from '../../../data/rebirth.js';
import type { StepContext, StepKind } from '../../kind.js';
import { fail, localEnv, opOptions, type LocalEnv } from '../env.js';
import { saveGate } from '../gate-record.js';

/**
 * A gate without a new backup: the last backup in the S3 repo plus the WAL archived since. Everything
 * written after that backup then comes back only through WAL replay, which the proof checks.
 */
async function walOnlyGate(env: LocalEnv, ctx: StepContext, fingerprint: boolean): Promise<Result<{ gate: GateRecord }>> {
  const b = env.data.pgbr;
  const o = { ...opOptions(ctx), redact: b.redact };
  const t0 = Date.now();
  const sys = await runningSystemId(env.data.cluster);
  if (!sys.ok) return sys;
  const f1 = await flushWal(b, o);
  if (!f1.ok) return { ok: false, reason: `backup gate failed, nothing may be wiped: ${f1.reason}` };
  const info = await repoBackupInfo(b, 1, { signal: ctx.signal });
  if (!info.ok) return { ok: false, reason: `backup gate failed, nothing may be wiped: ${info.reason}` };
  const last = info.info.backups[info.info.backups.length - 1];
  if (!last) return { ok: false, reason: 'backup gate failed, nothing may be wiped: the S3 repo holds no backup yet (newBackup: false needs one)' };
  if (info.info.current.systemId !== sys.systemId)
    return { ok: false, reason: `backup gate failed, nothing may be wiped: the S3 repo belongs to system ${info.info.current.systemId}, the running cluster is ${sys.systemId}` };
  let fp = null;
  if (fingerprint) {
    const r = await fingerprintCluster(connConfig(env.data.cluster), o);
    if (!r.ok) return { ok: false, reason: `backup gate failed, nothing may be wiped: ${r.reason}` };
    fp = r.fingerprint;
  }
  const f2 = await flushWal(b, o);
  if (!f2.ok) return { ok: false, reason: `backup gate failed, nothing may be wiped: ${f2.reason}` };
  return {
    ok: true,
    gate: {
      at: new Date(t0).toISOString(),
      systemId: sys.systemId,
      stanza: b.stanza,
      backup: { label: last.label, type: last.type, size: last.size, repoSize: last.repoSize, repoSizeDelta: last.repoSizeDelta, startTime: last.startTime.toISOString(), stopTime: last.stopTime.toISOString() },
      repo2Backup: null,
      flushedSegment: f2.segment,
      fingerprint: fp,
      timings: { total: Date.now() - t0 },
    },
  };
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/**
 * The backup gate: nothing is wiped without it. WAL flushed and archived, an incremental backup to
 * the S3 repo confirmed through the S3 API, the data fingerprinted. Any failure stops the run here.
 */
export const backupKind: StepKind<{ fingerprint?: boolean; newBackup?: boolean }> = {
  name: 'backup',
  description: 'backup gate: flush and archive WAL, back up to S3, confirm it through the S3 API, fingerprint the data',
  schema: { type: 'object', additionalProperties: false, properties: {
      fingerprint: { type: 'boolean', description: 'record the data fingerprint for the proof (default true)' },
      newBackup: { type: 'boolean', description: 'take a new incremental backup (default true); false relies on the last backup and the WAL archived since' },
    },
  },
  backupGate: true,
  label: () => 'backup gate (WAL flush, S3 backup, fingerprint)',
  async run(c, ctx) {
    const env = await localEnv(ctx);
    if ('ok' in env) return env;
    const cl = env.data.cluster;
    if (!postmasterPid(cl)) {
      if (!existsSync(join(cl.dataDir, 'PG_VERSION'))) {
        saveGate(ctx, { runId: ctx.runId, cluster: env.model.name, empty: true });
        ctx.check('backup gate', true, `no data to back up: ${cl.dataDir} does not exist (the castle is already down)`);
        return { ok: true, summary: 'no data: the castle is already down' };
      }
      return fail(`PostgreSQL of '${env.model.name}' is not running, so no fresh backup can be taken and nothing may be wiped: start it (castle up --only <its layer>) and retry`);
    }
    ctx.note(c.newBackup === false ? 'flushing WAL (no new backup)' : 'flushing WAL, backing up to S3');
    const r = c.newBackup === false ? await walOnlyGate(env, ctx, c.fingerprint !== false) : await backupGate(env.data, {
      ...opOptions(ctx),
      redact: env.data.pgbr.redact,
      // repo2 too, so the local repo stays current: it is the faster source whenever it survives
      alsoRepo2: env.data.pgbr.repo2Path !== null,
      fingerprint: c.fingerprint !== false,
    });
    if (!r.ok) {
      ctx.check('backup gate', false, r.reason);
      return fail(r.reason, true);
    }
    const g = r.gate;
    saveGate(ctx, { runId: ctx.runId, cluster: env.model.name, empty: false, gate: g });
    ctx.check('WAL flushed', true, `archived through ${g.flushedSegment}`);
    ctx.check(
      'backup in S3',
      true,
      `${c.newBackup === false ? 'last ' : ''}${g.backup.type} backup ${g.backup.label} listed in backup.info: ${mb(g.backup.size)} of data, ${mb(g.backup.repoSizeDelta)} stored, finished ${g.backup.stopTime}`,
    );
    if (g.fingerprint) {
      const rows = g.fingerprint.tables.reduce((a, t) => a + t.rows, 0);
      ctx.check('fingerprint recorded', true, `${g.fingerprint.tables.length} tables, ${rows} rows in ${g.fingerprint.databases.length} databases (${g.fingerprint.mbPerSec.toFixed(0)} MB/s)`);
    }
    return { ok: true, summary: `${g.backup.type} backup ${g.backup.label} confirmed in S3` };
  },
};
