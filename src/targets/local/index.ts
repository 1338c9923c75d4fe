import { isAbsolute, resolve } from 'node:path';
import { lazyKind } from '../../core/step.js';
import type { Target } from '../../core/target.js';
import { localBlockSchema, localTargetName, type LocalConfig } from './config.js';
import { backupSpec, blogSpec, objectStoreSpec, pgbouncerSpec, postgresSpec, proofSpec, sqlSpec } from './kind-specs.js';
import { localSession, type LocalSession } from './session.js';

/** The local target: its `local:` block, its step kinds (each loaded when its first step runs) and their session. */
export const localTarget: Target<LocalConfig, LocalSession> = {
  name: localTargetName,
  description: 'a whole castle on one machine: real PostgreSQL, pgBackRest, pgBouncer, an S3 endpoint on loopback, the app',
  block: { schema: localBlockSchema, required: true },
  kinds: [
    lazyKind(objectStoreSpec, () => import('./kinds/object-store.js')),
    lazyKind(postgresSpec, () => import('./kinds/postgres.js')),
    lazyKind(pgbouncerSpec, () => import('./kinds/pgbouncer.js')),
    lazyKind(blogSpec, () => import('./kinds/blog.js')),
    lazyKind(sqlSpec, () => import('./kinds/sql.js')),
    lazyKind(backupSpec, () => import('./kinds/backup.js')),
    lazyKind(proofSpec, () => import('./kinds/proof.js')),
  ],
  manifests: (config, castleDir) => (config?.manifests ?? []).map((p) => (isAbsolute(p) ? p : resolve(castleDir, p))),
  preflight: async (config, ctx) => (await import('./preflight.js')).localTargetPreflight(config, ctx),
  session: localSession,
};
