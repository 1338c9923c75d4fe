import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import type { BlogConfig } from '../kind-specs.js';
import { ensureBlog, stopBlog } from '../blog/launch.js';
import { fail, localEnv } from '../env.js';

/** The blog: posts read from the database through pgBouncer, /healthz running a query. */
export const run: StepKind<BlogConfig, LocalSession>['run'] = async (c, ctx, session) => {
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  const dir = join(env.appDir, `blog-${c.port}`);
  if (ctx.section === 'down') {
    // the app holds no data (it reads it through pgBouncer on every request): in a rebirth it stays up like in a
    // bare restore script, and `up` checks that it runs this build and config and serves again
    if (ctx.operation === 'rebirth') return { ok: true, summary: 'left running across the rebirth (it holds no data): up checks it' };
    const s = await stopBlog(dir, c.port, ctx.killGraceMs);
    if (!s.ok) return fail(s.reason);
    await rm(dir, { recursive: true, force: true });
    return { ok: true, summary: s.value.stopped ? `stopped pid ${s.value.pid}` : 'not running' };
  }
  const password = env.passwords.get(c.user);
  if (!password) return fail(`user '${c.user}' is not a user of PostgresCluster '${env.model.name}' (users: ${env.model.users.map((u) => u.name).join(', ')})`);
  const st = await ensureBlog({
    dir,
    port: c.port,
    db: { host: '127.0.0.1', port: env.pgbouncerPort, database: c.database, user: c.user, password },
    user: env.local.runAs,
    signal: ctx.signal,
    graceMs: ctx.killGraceMs,
  });
  if (!st.ok) return fail(st.reason, true);
  return { ok: true, summary: `${st.value.url} (pid ${st.value.pid}${st.value.reused ? ', already running with this build and config' : ''})` };
};
