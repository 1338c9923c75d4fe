import type { KindRegistry } from '../kind.js';
import { localTarget } from './config.js';
import { backupKind } from './kinds/backup.js';
import { blogKind } from './kinds/blog.js';
import { objectStoreKind } from './kinds/object-store.js';
import { pgbouncerKind } from './kinds/pgbouncer.js';
import { postgresKind } from './kinds/postgres.js';
import { proofKind } from './kinds/proof.js';
import { sqlKind } from './kinds/sql.js';

/** The local target: its `local:` block and its step kinds. */
export function registerLocalTarget(r: KindRegistry): KindRegistry {
  return r
    .registerTarget(localTarget)
    .register(objectStoreKind)
    .register(postgresKind)
    .register(pgbouncerKind)
    .register(blogKind)
    .register(sqlKind)
    .register(backupKind)
    .register(proofKind);
}
