import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepKind } from '../../kind.js';
import { startBlog, stopBlog } from '../blog/launch.js';
import { fail, localEnv } from '../env.js';

interface BlogConfig {
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** The blog: posts read from the database through pgBouncer, /healthz running a query. */
export const blogKind: StepKind<BlogConfig> = {
  name: 'blog',
  description: 'the blog app: serves posts from the database through pgBouncer; in destroy, stop it',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['port', 'database', 'user'],
    properties: { port: { type: 'integer', minimum: 1, maximum: 65535 }, database: { type: 'string' }, user: { type: 'string' } },
  },
  label: (c) => `blog on :${c.port}`,
  async run(c, ctx) {
    const env = await localEnv(ctx);
    if ('ok' in env) return env;
    const dir = join(env.appDir, `blog-${c.port}`);
    if (ctx.section === 'down') {
      const s = await stopBlog(dir, c.port, ctx.killGraceMs);
      if (!s.ok) return fail(s.reason);
      await rm(dir, { recursive: true, force: true });
      return { ok: true, summary: s.value.stopped ? `stopped pid ${s.value.pid}` : 'not running' };
    }
    const password = env.passwords.get(c.user);
    if (!password) return fail(`user '${c.user}' is not a user of PostgresCluster '${env.model.name}' (users: ${env.model.users.map((u) => u.name).join(', ')})`);
    await stopBlog(dir, c.port, ctx.killGraceMs);
    const st = await startBlog({
      dir,
      port: c.port,
      db: { host: '127.0.0.1', port: env.pgbouncerPort, database: c.database, user: c.user, password },
      user: env.local.runAs,
      signal: ctx.signal,
    });
    if (!st.ok) return fail(st.reason, true);
    return { ok: true, summary: `${st.value.url} (pid ${st.value.pid})` };
  },
};
