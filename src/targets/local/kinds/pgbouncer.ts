import { rm } from 'node:fs/promises';
import type { StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import { fail, localEnv } from '../env.js';
import { pgBouncerConfigFromModel, startPgBouncer, stopPgBouncer } from '../pgbouncer.js';

/** `proxy.pgBouncer` of the PostgresCluster: a real pgBouncer in front, one pool per users' database. */
export const run: StepKind<Record<string, never>, LocalSession>['run'] = async (_c, ctx, session) => {
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  if (ctx.section === 'down') {
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
  // a running pgBouncer keeps the old config: restart so users and passwords are current
  await stopPgBouncer(env.pgbouncerDir, ctx.killGraceMs);
  const st = await startPgBouncer(cfg.value, { user: env.local.runAs, signal: ctx.signal });
  if (!st.ok) return fail(st.reason, true);
  return { ok: true, summary: `listening on 127.0.0.1:${env.pgbouncerPort} (pid ${st.value.pid})` };
};
