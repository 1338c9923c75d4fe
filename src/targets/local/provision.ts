import { join } from 'node:path';
import { withClient, type PgCluster } from '../../data/postgres.js';
import { fail, ok, type Result } from '../../core/result.js';
import { describeFailure, exec, type OpOptions } from '../../os/exec.js';
import type { LocalClusterModel } from './manifests.js';
import { scramVerifierMatches } from './scram.js';

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const literal = (v: string): string => `'${v.replace(/'/g, "''")}'`;
// PGO passes `options` into ALTER ROLE; only role keywords are accepted here, never arbitrary SQL.
const ROLE_OPTIONS =
  /^\s*(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)(\s+(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS))*\s*$/i;

/** pg_roles columns of the role keywords PGO's `options` may hold */
const ROLE_COLUMNS: Readonly<Record<string, string>> = {
  SUPERUSER: 'rolsuper',
  CREATEDB: 'rolcreatedb',
  CREATEROLE: 'rolcreaterole',
  INHERIT: 'rolinherit',
  LOGIN: 'rolcanlogin',
  REPLICATION: 'rolreplication',
  BYPASSRLS: 'rolbypassrls',
};

/** Whether a role already has every attribute its `options` ask for (and LOGIN). */
function hasOptions(row: Record<string, unknown>, options: string | undefined): boolean {
  if (row.rolcanlogin !== true) return false;
  for (const word of (options ?? '').trim().split(/\s+/).filter(Boolean)) {
    const w = word.toUpperCase();
    const no = w.startsWith('NO') && ROLE_COLUMNS[w.slice(2)] !== undefined;
    const col = ROLE_COLUMNS[no ? w.slice(2) : w];
    if (!col || row[col] !== !no) return false;
  }
  return true;
}

/**
 * What PGO does for `spec.users`: a login role per user with the password from the secret source,
 * its `options`, each listed database (owned by the first user that lists it) with ALL privileges.
 * Idempotent: run on every `up`, it also brings passwords back in line with the source. What already
 * matches is left alone (the password checked against the role's SCRAM verifier here, never sent): after a
 * restore nothing is written, and the steps after it do not wait for those commits.
 */
export async function ensureUsers(
  c: PgCluster,
  model: LocalClusterModel,
  passwords: ReadonlyMap<string, string>,
): Promise<Result<{ created: string[]; changed: string[] }>> {
  const created: string[] = [];
  const changed: string[] = [];
  try {
    await withClient(c, 'postgres', async (db) => {
      const names = model.users.map((u) => u.name);
      const roles = new Map<string, Record<string, unknown>>();
      const cols = Object.values(ROLE_COLUMNS).join(', ');
      for (const r of (await db.query(`SELECT rolname, rolpassword, ${cols} FROM pg_authid WHERE rolname = ANY($1::text[])`, [names])).rows as Record<
        string,
        unknown
      >[])
        roles.set(String(r.rolname), r);
      for (const u of model.users) {
        if (u.options && !ROLE_OPTIONS.test(u.options))
          throw new Error(`user ${u.name}: options '${u.options}' are not role keywords (SUPERUSER, CREATEDB, ...)`);
        const row = roles.get(u.name);
        const pw = passwords.get(u.name);
        if (row && hasOptions(row, u.options) && (!pw || (typeof row.rolpassword === 'string' && scramVerifierMatches(row.rolpassword, pw)))) continue;
        const pass = pw ? ` PASSWORD ${literal(pw)}` : '';
        await db.query(`${row ? 'ALTER' : 'CREATE'} ROLE ${ident(u.name)} LOGIN${pass}${u.options ? ` ${u.options}` : ''}`);
        (row ? changed : created).push(`role ${u.name}`);
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
      // ALL on a database: CREATE, CONNECT and TEMPORARY granted to the user in its ACL (not through PUBLIC nor ownership)
      const granted = `SELECT count(DISTINCT a.privilege_type)::int AS n FROM pg_database d, aclexplode(d.datacl) a
        WHERE d.datname = $1 AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2) AND a.privilege_type IN ('CREATE', 'CONNECT', 'TEMPORARY')`;
      for (const u of model.users)
        for (const d of u.databases) {
          const n = ((await db.query(granted, [d, u.name])).rows[0] as { n: number } | undefined)?.n ?? 0;
          if (n < 3) await db.query(`GRANT ALL PRIVILEGES ON DATABASE ${ident(d)} TO ${ident(u.name)}`);
        }
    });
  } catch (err) {
    // pg errors never carry the password: the statement text is not part of the message
    return fail(`creating users and databases of '${model.name}': ${(err as Error).message}`);
  }
  return ok({ created, changed });
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
