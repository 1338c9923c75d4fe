import { rm } from 'node:fs/promises';
import type { StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import { fail, localEnv } from '../env.js';
import { ensurePgBouncer, pgBouncerConfigFromModel, stopPgBouncer } from '../pgbouncer.js';

/** `proxy.pgBouncer` of the PostgresCluster: a real pgBouncer in front, one pool per users' database. */
export const run: StepKind<Record<string, never>, LocalSession>['run'] = async (_c, ctx, session) => {
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  if (ctx.section === 'down') {
    // The wipe destroys the data (its cluster, repo2, WAL, sockets), not a pooler that holds none: in a rebirth
    // it stays up like in a bare restore script, and `up` checks it against the current config.
    if (ctx.operation === 'rebirth')
      return { ok: true, summary: 'left running across the rebirth (it holds no data): up checks its config and that it answers' };
    const s = await stopPgBouncer(env.pgbouncerDir, ctx.killGraceMs);
    if (!s.ok) return fail(s.reason);
    await rm(env.pgbouncerDir, { recursive: true, force: true });
    return { ok: true, summary: s.value.stopped ? `stopped pid ${s.value.pid}, deleted ${env.pgbouncerDir}` : `not running; deleted ${env.pgbouncerDir}` };
  }
  if (!env.model.pgBouncer) return fail(`PostgresCluster '${env.model.name}' has no spec.proxy.pgBouncer`);
  const cfg = pgBouncerConfigFromModel(env.model, {
    dir: env.pgbouncerDir,
    port: env.pgbouncerPort,
    server: { host: '127.0.0.1', port: env.data.cluster.port },
    passwords: env.passwords,
  });
  if (!cfg.ok) return fail(cfg.reason);
  // running with the current config and answering: left alone; else (re)started so users and passwords are current
  const st = await ensurePgBouncer(cfg.value, { user: env.local.runAs, signal: ctx.signal, graceMs: ctx.killGraceMs });
  if (!st.ok) return fail(st.reason, true);
  return { ok: true, summary: `${st.value.reused ? 'already running with this config' : 'listening'} on 127.0.0.1:${env.pgbouncerPort} (pid ${st.value.pid})` };
};
