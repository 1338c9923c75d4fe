import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repo1HasBackupInfo, repoBackupInfo, runBackup, writePgbackrestConf } from '../../../data/pgbackrest.js';
import { postmasterPid } from '../../../data/postgres.js';
import { createCluster, restoreCastle, restoreInterrupted, startCastle, wipeCastle } from '../../../data/rebirth.js';
import type { StepContext, StepKind, StepResult } from '../../../core/step.js';
import { runningS3Pid } from '../../../s3/server.js';
import { run as startObjectStore } from './object-store.js';
import type { LocalSession } from '../session.js';
import { fail, localEnv, opOptions, type LocalEnv } from '../env.js';
import { gateOf } from '../gate-record.js';
import { ensureUsers, runInitSql } from '../provision.js';

async function provision(env: LocalEnv, ctx: StepContext, what: string): Promise<StepResult> {
  const u = await ensureUsers(env.data.cluster, env.model, env.passwords);
  if (!u.ok) return fail(u.reason);
  if (u.value.created.length) ctx.log(`created ${u.value.created.join(', ')}\n`);
  if (u.value.changed.length)
    ctx.log(`set the password and options of ${u.value.changed.join(', ')} again (they differed from the secret source and the manifest)\n`);
  return { ok: true, summary: `${what}: PostgreSQL ${env.data.cluster.major} on 127.0.0.1:${env.data.cluster.port}` };
}

/** Does repo1 hold this stanza? Undefined when S3 cannot tell (then nothing may be created: it could fork the stanza). */
async function repoHasStanza(env: LocalEnv, ctx: StepContext, beside?: Promise<unknown>): Promise<boolean | string> {
  const b = env.data.pgbr;
  // side by side: a HEAD cannot tell a missing bucket from a missing key, the probe can (and what the caller reads beside them)
  const [probe, info] = await Promise.all([b.bucket.probe(ctx.signal), repo1HasBackupInfo(b, ctx.signal), beside]);
  if (!probe.ok) return probe.reason;
  return info.ok ? info.value : info.reason;
}

/**
 * After a power cut the castle's own S3 endpoint is down too, and a resumed run skips the step that started it
 * (it succeeded before the cut): the restore needs it, so it is started again here, as that step would.
 */
async function reviveObjectStore(env: LocalEnv, ctx: StepContext, session: LocalSession): Promise<void> {
  const dir = session.local.objectStoreDir;
  if (!existsSync(join(dir, 'credentials.json')) || runningS3Pid(dir) !== null) return;
  if ((await env.data.pgbr.bucket.probe(ctx.signal)).ok) return;
  ctx.note(`the castle's S3 endpoint (${dir}) is not running: starting it again`);
  const r = await startObjectStore({}, ctx, session);
  if (!r.ok) ctx.log(`starting the S3 endpoint failed: ${r.reason}\n`);
}

async function apply(ctx: StepContext, session: LocalSession): Promise<StepResult> {
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  const c = env.data.cluster;
  const o = { ...opOptions(ctx), redact: env.data.pgbr.redact };
  const halfRestored = restoreInterrupted(c);
  if (postmasterPid(c) && !halfRestored) {
    // it may still be replaying WAL (a run killed while it started the restored cluster): wait for promotion
    const st = await startCastle(env.data, o);
    return st.ok ? provision(env, ctx, 'already running') : fail(st.reason);
  }
  if (existsSync(join(c.dataDir, 'PG_VERSION')) && !halfRestored) {
    const conf = await writePgbackrestConf(env.data.pgbr);
    if (!conf.ok) return fail(conf.reason);
    const st = await startCastle(env.data, o);
    return st.ok ? provision(env, ctx, 'started the existing cluster') : fail(st.reason);
  }
  await reviveObjectStore(env, ctx, session);
  // the restore source's backup.info, read beside the requests that tell whether there is anything to restore
  const source = env.model.dataSource ? await localEnv(session, ctx, { restore: true }) : undefined;
  const repo1Info = source && !('ok' in source) ? repoBackupInfo(source.data.pgbr, 1, { signal: ctx.signal }) : undefined;
  const has = await repoHasStanza(env, ctx, repo1Info);
  if (typeof has === 'string')
    return fail(`cannot tell whether the S3 repo holds this cluster's backups, so nothing is created (a fresh cluster would fork the stanza): ${has}`, true);
  if (has) {
    if (!env.model.dataSource) {
      return fail(
        `the S3 repo already holds backups of stanza '${env.data.pgbr.stanza}', and PostgresCluster '${env.model.name}' has no spec.dataSource.pgbackrest: ` +
          'a fresh cluster would come back empty and register a second system-id in the repo. Add dataSource.pgbackrest (repo1) to restore it.',
      );
    }
    if (!source) return fail(`PostgresCluster '${env.model.name}' has no spec.dataSource.pgbackrest`);
    if ('ok' in source) return source;
    const gate = gateOf(session, ctx, env.model.name);
    ctx.note('restoring from the backup repos');
    const r = await restoreCastle(source.data, { ...o, gate: gate && !gate.empty ? gate.gate : null, ...(repo1Info ? { repo1Info } : {}) });
    if (!r.ok) {
      // an endpoint that stopped answering may come back: worth the step's retries (the next attempt resumes with --delta)
      const s3 = await env.data.pgbr.bucket.probe(ctx.signal);
      return s3.ok ? fail(r.reason) : fail(`${r.reason} (the S3 endpoint does not answer: ${s3.reason})`, true);
    }
    ctx.log(`restored ${r.value.backup} from repo${r.value.repo} (${r.value.why}) in ${r.value.durationMs} ms\n`);
    const conf = await writePgbackrestConf(env.data.pgbr);
    if (!conf.ok) return fail(conf.reason);
    ctx.note('starting: replaying archived WAL');
    // the users checked beside the repo2 stanza and the archiver's wake, once the server is promoted
    let users: Promise<StepResult> | undefined;
    const what = `restored ${r.value.backup} from repo${r.value.repo} (${r.value.why})`;
    // the gate of this rebirth left pgBackRest's retention to the start
    const expire = !!gate && !gate.empty && gate.gate.expireDeferred === true;
    const st = await startCastle(env.data, { ...o, expire, beside: () => (users = provision(env, ctx, what)) });
    if (!st.ok) return fail(st.reason);
    if (st.value.expired && !st.value.expired.ok)
      ctx.note(`the retention the backup gate deferred (pgbackrest expire) failed; the next backup applies it: ${st.value.expired.reason}`);
    return (await users) ?? provision(env, ctx, what);
  }
  ctx.note('first birth: initdb');
  const cr = await createCluster(env.data, o);
  if (!cr.ok) return fail(cr.reason);
  const p = await provision(env, ctx, `created system ${cr.value.systemId}`);
  if (!p.ok) return p;
  const init = await runInitSql(c, env.model, o);
  if (!init.ok) return fail(init.reason);
  // As PGO does after creating a cluster: a first full backup, so every backup gate is incremental.
  ctx.note('first full backup to S3');
  const full = await runBackup(env.data.pgbr, { ...o, type: 'full', repo: 1 });
  if (!full.ok) return fail(`the cluster was created, but its first full backup failed: ${full.reason}`, true);
  if (env.data.pgbr.repo2Path) {
    const local = await runBackup(env.data.pgbr, { ...o, type: 'full', repo: 2 });
    if (!local.ok) return fail(`the cluster was created, but its first full backup to the local repo2 failed: ${local.reason}`, true);
  }
  return { ok: true, summary: `${p.summary}, first full backup ${full.value.label}` };
}

async function destroy(ctx: StepContext, session: LocalSession): Promise<StepResult> {
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  const gate = gateOf(session, ctx, env.model.name);
  const force = ctx.backupSkipped || gate?.empty === true;
  const w = await wipeCastle(env.data, {
    ...opOptions(ctx),
    redact: env.data.pgbr.redact,
    gate: gate && !gate.empty ? gate.gate : null,
    force,
    // a rebirth restores into the same path next: the old files are deleted beside that restore, not before it
    deleteBeside: ctx.operation === 'rebirth',
  });
  if (!w.ok) return fail(w.reason);
  session.deletions.push(w.value.deleted);
  return { ok: true, summary: `wiped ${w.value.removed} (stopped ${w.value.stopped.length} process${w.value.stopped.length === 1 ? '' : 'es'})` };
}

/**
 * The data layer, from a PGO PostgresCluster. Apply: start it, restore it from the repos when its data
 * is gone and the repo holds it, or create it (initdb, users, databaseInitSQL) on first birth.
 * Destroy: the nuclear wipe of everything it owns, only after this run's backup gate.
 */
export const run: StepKind<Record<string, never>, LocalSession>['run'] = (_c, ctx, session) =>
  ctx.section === 'down' ? destroy(ctx, session) : apply(ctx, session);
