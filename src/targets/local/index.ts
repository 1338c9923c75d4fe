import { lazyKind, type KindRegistry } from '../kind.js';
import { localTarget } from './config.js';
import { backupSpec, blogSpec, objectStoreSpec, pgbouncerSpec, postgresSpec, proofSpec, sqlSpec } from './kind-specs.js';

/** The local target: its `local:` block and its step kinds (each loaded when its first step runs). */
export function registerLocalTarget(r: KindRegistry): KindRegistry {
  return r
    .registerTarget(localTarget)
    .register(lazyKind(objectStoreSpec, () => import('./kinds/object-store.js')))
    .register(lazyKind(postgresSpec, () => import('./kinds/postgres.js')))
    .register(lazyKind(pgbouncerSpec, () => import('./kinds/pgbouncer.js')))
    .register(lazyKind(blogSpec, () => import('./kinds/blog.js')))
    .register(lazyKind(sqlSpec, () => import('./kinds/sql.js')))
    .register(lazyKind(backupSpec, () => import('./kinds/backup.js')))
    .register(lazyKind(proofSpec, () => import('./kinds/proof.js')));
}
