import { PatchStrategy } from '@kubernetes/client-node';
import type { StepContext, StepKind, StepResult } from '../../../core/step.js';
import { fail, ok, type Failure, type Result } from '../../../core/result.js';
import { fingerprintSummary, type Fingerprint } from '../../../data/fingerprint.js';
import { fingerprintBeside, flushWalVia, pickBackup, readRepoBackupInfo, systemIdVia } from '../../../data/gate-core.js';
import type { RepoBackup } from '../../../data/backup-info.js';
import type { GateRecord } from '../../../data/rebirth.js';
import { s3Bucket } from '../../../s3/client.js';
import { describeError, type KubeSession, type Obj } from '../client.js';
import { durationMs, type PgoBackupConfig } from '../config.js';
import { BACKUP_ANNOTATION, PGO_API, PGO_GROUP, primaryOf, readCluster, repoOf, type RepoLocation } from '../pgo.js';
import { gateKey, savePgoGate } from '../pgo-gates.js';
import { condition, describeConditions, postgresCluster, type Verdict } from '../readiness.js';
import type { KubeTargetSession } from '../session.js';
import { eventsOf, waitGate } from '../watch-gate.js';

/** The field manager of the backup trigger: not `castle`, whose apply owns the rest of the spec and would drop what it does not repeat. */
export const BACKUP_MANAGER = 'castle-backup';

/** PGO's verdict on the manual backup `id` (status.pgbackrest.manualBackup + PGBackRestManualBackupSuccessful). */
export function manualBackupVerdict(id: string): (pc: Obj) => Verdict {
  return (pc) => {
    const mb = pc.status?.pgbackrest?.manualBackup;
    if (!mb || mb.id !== id)
      return { state: 'waiting', detail: `PGO has not picked up backup ${id} yet (status.pgbackrest.manualBackup.id ${mb?.id ?? 'unset'})` };
    const cond = condition(pc, 'PGBackRestManualBackupSuccessful');
    if (mb.finished && (mb.failed ?? 0) > 0 && !(mb.succeeded > 0))
      return {
        state: 'failed',
        detail: `manual backup ${id} failed (${mb.failed} failed pods; ${cond ? describeConditions({ status: { conditions: [cond] } }) : 'no condition'})`,
      };
    if (mb.finished && mb.succeeded > 0 && cond?.status === 'True') return { state: 'ready', detail: `manual backup ${id} succeeded (${cond.reason})` };
    return {
      state: 'waiting',
      detail: `manual backup ${id}: active ${mb.active ?? 0}, succeeded ${mb.succeeded ?? 0}, failed ${mb.failed ?? 0}, finished ${mb.finished === true}`,
    };
  };
}

/** What a failed backup Job shows: its conditions and events. */
async function jobEvidence(s: KubeSession, c: PgoBackupConfig, id: string, signal: AbortSignal): Promise<string> {
  try {
    const jobs = (
      await s.api.list(
        'batch/v1',
        'Job',
        c.namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        `${PGO_GROUP}/cluster=${c.cluster},${PGO_GROUP}/pgbackrest-backup=manual`,
      )
    ).items as Obj[];
    const job = jobs.find((j) => j.metadata?.annotations?.[BACKUP_ANNOTATION] === id) ?? jobs[jobs.length - 1];
    if (!job) return '';
    const ev = await eventsOf(s, { ...job, kind: 'Job' }, signal);
    return `; Job ${job.metadata.name}: ${describeConditions(job)}${ev.length ? `; events: ${ev.join(' | ')}` : ''}`;
  } catch {
    return '';
  }
}

/**
 * The backup gate on a PGO cluster: WAL flushed and archived through the primary, a manual backup
 * (spec.backups.pgbackrest.manual + the pgbackrest-backup annotation) waited for on PGO's status,
 * the backup confirmed in the S3 repo through the S3 API, the data fingerprinted while the backup runs, WAL flushed
 * again.
 * Any failure: nothing may be wiped.
 */
export const run: StepKind<PgoBackupConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const refuse = (why: string, retryable = true): Failure => {
    ctx.check('backup gate', false, why);
    return fail(`backup gate failed, nothing may be wiped: ${why}`, { retryable });
  };
  const k = session.kube();
  if (!k.ok) return refuse(k.reason, false);
  const s = k.value;
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const pc = await readCluster(s, c);
  if (!pc.ok) return refuse(pc.reason, pc.retryable !== false);
  const health = postgresCluster(pc.value);
  if (health.state !== 'ready') return refuse(`PostgresCluster ${c.namespace}/${c.cluster} is not ready (${health.detail}): no fresh backup can be taken`);
  const repo = await repoOf(s, pc.value, c, ctx);
  if (!repo.ok) return refuse(repo.reason, repo.retryable !== false);
  const primary = await primaryOf(s, c, ctx);
  if (!primary.ok) return refuse(primary.reason, primary.retryable !== false);
  try {
    return await gate(s, c, ctx, session, primary.value.conn, repo.value, t0, timings, refuse);
  } finally {
    await primary.value.close();
  }
};

async function gate(
  s: KubeSession,
  c: PgoBackupConfig,
  ctx: StepContext,
  session: KubeTargetSession,
  conn: Parameters<typeof systemIdVia>[0],
  repo: RepoLocation,
  t0: number,
  timings: Record<string, number>,
  refuse: (why: string, retryable?: boolean) => Failure,
): Promise<StepResult> {
  let t = Date.now();
  const sys = await systemIdVia(conn, { signal: ctx.signal });
  if (!sys.ok) return refuse(sys.reason);
  const systemId = sys.value;
  ctx.note('flushing WAL through the primary');
  const f1 = await flushWalVia(conn, { signal: ctx.signal });
  if (!f1.ok) return refuse(f1.reason);
  timings['flushBefore'] = Date.now() - t;

  t = Date.now();
  const id = `castle-${ctx.runId}-${Date.now().toString(36)}`;
  const trigger = {
    apiVersion: PGO_API,
    kind: 'PostgresCluster',
    metadata: { name: c.cluster, namespace: c.namespace, annotations: { [BACKUP_ANNOTATION]: id } },
    spec: { backups: { pgbackrest: { manual: { repoName: repo.repo, options: [...(c.options ?? ['--type=incr'])] } } } },
  };
  try {
    await s.api.patch(trigger, undefined, undefined, BACKUP_MANAGER, true, PatchStrategy.ServerSideApply);
  } catch (err) {
    return refuse(`triggering the manual backup on ${c.namespace}/${c.cluster}: ${describeError(err)}`);
  }
  ctx.note(`manual backup ${id} requested from PGO`);
  // the fingerprint reads the primary while PGO's Job copies it (see fingerprintBeside)
  const beside =
    c.fingerprint !== false ? fingerprintBeside(conn, { signal: ctx.signal, log: (x) => ctx.log(x) }, (ms) => (timings['fingerprintBeside'] = ms)) : undefined;
  // A fingerprint that fails refuses the gate at once: PGO's Job cannot be called back, and its end changes nothing.
  const stopWaiting = new AbortController();
  const waiting = waitBackup(AbortSignal.any([ctx.signal, stopWaiting.signal]));
  const never = new Promise<never>(() => undefined);
  const first = await Promise.race([
    waiting.then((r) => ({ of: 'backup' as const, r })),
    (beside?.result ?? never).then((r) => (r.ok ? never : { of: 'fingerprint' as const, r })),
  ]);
  if (first.of === 'fingerprint') {
    stopWaiting.abort();
    await waiting;
    return refuse(`${first.r.reason} (read beside PGO's manual backup ${id}, which goes on in the cluster and ends on its own)`);
  }
  const backedUp = first.r;
  if (!backedUp.ok) {
    await beside?.stop();
    return refuse(backedUp.reason, backedUp.retryable !== false);
  }
  const bk = backedUp.value;
  ctx.check(
    'backup in S3',
    true,
    `${bk.type} backup ${bk.label} listed in ${repo.where}/backup/${repo.stanza}/backup.info: ${(bk.size / 1e6).toFixed(1)} MB of data, finished ${bk.stopTime.toISOString()}`,
  );

  let fingerprint: Fingerprint | null = null;
  if (beside) {
    const fp = await beside.result;
    if (!fp.ok) return refuse(fp.reason);
    fingerprint = fp.value;
    ctx.check('fingerprint recorded', true, `${fingerprintSummary(fingerprint)} (read beside the backup)`);
  }

  t = Date.now();
  const f2 = await flushWalVia(conn, { signal: ctx.signal });
  if (!f2.ok) return refuse(f2.reason);
  timings['flushAfter'] = Date.now() - t;
  ctx.check('WAL flushed', true, `archived through ${f2.value.segment}`);
  timings['total'] = Date.now() - t0;
  const record: GateRecord = {
    at: new Date(t0).toISOString(),
    systemId,
    stanza: repo.stanza,
    backup: {
      label: bk.label,
      type: bk.type,
      size: bk.size,
      repoSize: bk.repoSize,
      repoSizeDelta: bk.repoSizeDelta,
      startTime: bk.startTime.toISOString(),
      stopTime: bk.stopTime.toISOString(),
    },
    repo2Backup: null,
    flushedSegment: f2.value.segment,
    fingerprint,
    timings,
  };
  savePgoGate(session, ctx, { runId: ctx.runId, cluster: gateKey(c.namespace, c.cluster), gate: record });
  return { ok: true, summary: `${bk.type} backup ${bk.label} by PGO confirmed in ${repo.where}` };

  /** PGO's manual backup waited for, then confirmed in the S3 repo through the S3 API */
  async function waitBackup(signal: AbortSignal): Promise<Result<RepoBackup>> {
    const w = await waitGate(
      s,
      {
        apiVersion: PGO_API,
        kind: 'PostgresCluster',
        namespace: c.namespace,
        name: c.cluster,
        judge: manualBackupVerdict(id),
        timeoutMs: durationMs(c.within, 30 * 60_000),
      },
      signal,
      (d) => ctx.log(`${d}\n`),
    );
    if (!w.ok) return fail(`${w.reason}${await jobEvidence(s, c, id, signal)}`);
    timings['backup'] = Date.now() - t;

    t = Date.now();
    const info = await readRepoBackupInfo(s3Bucket(repo.target), repo.path, repo.stanza, signal);
    if (!info.ok) return fail(`PGO reports the backup done, but ${repo.where} cannot be read through the S3 API: ${info.reason}`);
    const picked = pickBackup(info.value, repo.where, { notBefore: new Date(t0) });
    if (!picked.ok) return picked;
    if (info.value.current.systemId !== systemId)
      return fail(`the repo ${repo.where} (stanza ${repo.stanza}) belongs to system ${info.value.current.systemId}, the running cluster is ${systemId}`, {
        retryable: false,
      });
    const bk = picked.value;
    timings['confirm'] = Date.now() - t;
    return ok(bk);
  }
}
