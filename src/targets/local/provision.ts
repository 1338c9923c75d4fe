import { join } from 'node:path';
import { withClient, type PgCluster } from '../../data/postgres.js';
import { fail, ok, type Result } from '../../core/result.js';
import { describeFailure, exec, type OpOptions } from '../../os/exec.js';
import type { LocalClusterModel } from './manifests.js';

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const literal = (v: string): string => `'${v.replace(/'/g, "''")}'`;
// PGO passes `options` into ALTER ROLE; only role keywords are accepted here, never arbitrary SQL.
const ROLE_OPTIONS =
  /^\s*(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)(\s+(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS))*\s*$/i;

/**
 * What PGO does for `spec.users`: a login role per user with the password from the secret source,
 * its `options`, each listed database (owned by the first user that lists it) with ALL privileges.
 * Idempotent: run on every `up`, it also brings passwords back in line with the source.
 */
export async function ensureUsers(c: PgCluster, model: LocalClusterModel, passwords: ReadonlyMap<string, string>): Promise<Result<{ created: string[] }>> {
  const created: string[] = [];
  try {
    await withClient(c, 'postgres', async (db) => {
      for (const u of model.users) {
        if (u.options && !ROLE_OPTIONS.test(u.options))
          throw new Error(`user ${u.name}: options '${u.options}' are not role keywords (SUPERUSER, CREATEDB, ...)`);
        const exists = (await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [u.name])).rowCount;
        const pw = passwords.get(u.name);
        const pass = pw ? ` PASSWORD ${literal(pw)}` : '';
        await db.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(u.name)} LOGIN${pass}${u.options ? ` ${u.options}` : ''}`);
        if (!exists) created.push(`role ${u.name}`);
      }
      const owners = new Map<string, string>();
      for (const u of model.users) for (const d of u.databases) if (!owners.has(d)) owners.set(d, u.name);
      for (const [d, owner] of owners) {
        const exists = (await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [d])).rowCount;
        if (!exists) {
          await db.query(`CREATE DATABASE ${ident(d)} OWNER ${ident(owner)}`);
          created.push(`database ${d}`);
        }
      }
      for (const u of model.users) for (const d of u.databases) await db.query(`GRANT ALL PRIVILEGES ON DATABASE ${ident(d)} TO ${ident(u.name)}`);
    });
  } catch (err) {
    // pg errors never carry the password: the statement text is not part of the message
    return fail(`creating users and databases of '${model.name}': ${(err as Error).message}`);
  }
  return ok({ created });
}

/** databaseInitSQL: psql as the superuser, connected to `postgres`, stopping at the first error (as PGO runs it). */
export async function runInitSql(c: PgCluster, model: LocalClusterModel, o: OpOptions): Promise<Result> {
  if (!model.initSql) return ok(undefined);
  const r = await exec(
    join(c.binDir, 'psql'),
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', c.socketDir, '-p', String(c.port), '-U', c.superuser, '-d', 'postgres', '-f', '-'],
    {
      ...o,
      asUser: c.osUser,
      input: model.initSql.text,
      logPrefix: '[initSQL] ',
    },
  );
  if (r.code !== 0) return fail(describeFailure(`databaseInitSQL (ConfigMap ${model.initSql.configMap}, key ${model.initSql.key})`, r));
  return ok(undefined);
}
