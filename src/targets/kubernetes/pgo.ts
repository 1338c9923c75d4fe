// CrunchyData PGO v5 as Castle reaches it: the S3 repo of a PostgresCluster (location from its spec,
// keys from the Secret its pgBackRest configuration names), and its primary through a port-forward
// with the credentials of a `<cluster>-pguser-<user>` Secret.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StepContext } from '../../core/step.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Conn } from '../../data/fingerprint.js';
import { parseIni } from '../../data/pgbackrest-ini.js';
import type { S3Target } from '../../s3/client.js';
import { describeError, statusOf, type KubeSession, type Obj } from './client.js';
import type { PgoConfig } from './config.js';
import { forwardPort } from './port-forward.js';

export const PGO_GROUP = 'postgres-operator.crunchydata.com';
export const PGO_API = `${PGO_GROUP}/v1beta1`;
export const BACKUP_ANNOTATION = `${PGO_GROUP}/pgbackrest-backup`;

export async function readCluster(s: KubeSession, c: PgoConfig): Promise<Result<Obj>> {
  try {
    return ok((await s.api.read({ apiVersion: PGO_API, kind: 'PostgresCluster', metadata: { name: c.cluster, namespace: c.namespace } })) as Obj);
  } catch (err) {
    const st = statusOf(err);
    if (st?.code === 404) return fail(`PostgresCluster ${c.namespace}/${c.cluster} does not exist`, { retryable: false });
    return fail(`reading PostgresCluster ${c.namespace}/${c.cluster}: ${describeError(err)}`, { retryable: true });
  }
}

async function readSecret(s: KubeSession, namespace: string, name: string): Promise<Result<Record<string, string>>> {
  try {
    const sec = (await s.api.read({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace } })) as Obj;
    return ok(Object.fromEntries(Object.entries((sec.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])));
  } catch (err) {
    const st = statusOf(err);
    return fail(st?.code === 404 ? `Secret ${namespace}/${name} does not exist` : `reading Secret ${namespace}/${name}: ${describeError(err)}`, {
      retryable: st?.code !== 404,
    });
  }
}

export interface RepoLocation {
  readonly repo: string;
  readonly target: S3Target;
  readonly path: string;
  readonly stanza: string;
  /** `s3://bucket/path` for messages */
  readonly where: string;
}

/**
 * The S3 repo a PostgresCluster backs up to (or restores from, with `dataSource.pgbackrest`), as the
 * S3 API reaches it: bucket/endpoint/region from the repo, path from `<repo>-path` (PGO's default
 * `/pgbackrest/<repo>`), keys from the `[global]` of the configuration Secrets.
 */
export async function repoOf(s: KubeSession, pc: Obj, c: PgoConfig, ctx: StepContext, o: { restore?: boolean } = {}): Promise<Result<RepoLocation>> {
  const repoName = c.repo ?? 'repo1';
  const ds = o.restore ? pc.spec?.dataSource?.pgbackrest : undefined;
  const pb = pc.spec?.backups?.pgbackrest ?? {};
  const repo: Obj | undefined = ds?.repo ?? ((pb.repos ?? []) as Obj[]).find((r) => r.name === repoName);
  if (!repo?.s3)
    return fail(`PostgresCluster ${c.namespace}/${c.cluster} has no S3 repo named ${repoName} in spec.backups.pgbackrest.repos`, { retryable: false });
  const name: string = repo.name ?? repoName;
  const global: Record<string, string> = { ...(pb.global ?? {}), ...(ds?.global ?? {}) };
  const keys: Record<string, string> = {};
  for (const conf of (ds?.configuration ?? pb.configuration ?? []) as Obj[]) {
    if (!conf.secret?.name) continue;
    const sec = await readSecret(s, c.namespace, conf.secret.name);
    if (!sec.ok) return fail(`the S3 keys of ${name}: ${sec.reason}`, sec.retryable === undefined ? {} : { retryable: sec.retryable });
    for (const text of Object.values(sec.value)) {
      const ini = parseIni(text);
      const g = ini.ok ? ini.sections['global']?.options : undefined;
      for (const k of [`${name}-s3-key`, `${name}-s3-key-secret`]) if (g?.[k]) keys[k] = g[k];
    }
  }
  const key = keys[`${name}-s3-key`];
  const secret = keys[`${name}-s3-key-secret`];
  if (!key || !secret)
    return fail(`no ${name}-s3-key / ${name}-s3-key-secret in the Secrets of spec.backups.pgbackrest.configuration of ${c.namespace}/${c.cluster}`, {
      retryable: false,
    });
  ctx.secret(key);
  ctx.secret(secret);
  const endpoint0 = c.s3?.endpoint ?? String(repo.s3.endpoint);
  const endpoint = /^https?:\/\//.test(endpoint0) ? endpoint0 : `https://${endpoint0}`;
  let caPem: string | undefined;
  if (c.s3?.caFile) {
    const f = resolve(ctx.castleDir, c.s3.caFile);
    if (!existsSync(f)) return fail(`s3.caFile ${f} does not exist`, { retryable: false });
    caPem = readFileSync(f, 'utf8');
  }
  const uriStyle = c.s3?.uriStyle ?? (global[`${name}-s3-uri-style`] === 'path' ? 'path' : 'host');
  const path = global[`${name}-path`] ?? `/pgbackrest/${name}`;
  return ok({
    repo: name,
    target: {
      endpoint,
      region: String(repo.s3.region),
      bucket: String(repo.s3.bucket),
      accessKeyId: key,
      secretAccessKey: secret,
      ...(caPem ? { caPem } : {}),
      verifyTls: c.s3?.verifyTls !== false,
      pathStyle: uriStyle === 'path',
    },
    path,
    stanza: ds?.stanza ?? 'db',
    where: `s3://${String(repo.s3.bucket)}${path}`,
  });
}

export interface Primary {
  readonly conn: Conn;
  readonly pod: string;
  close(): Promise<void>;
}

/** A connection to the cluster's primary: its pod found by PGO's role label, reached through a port-forward. */
export async function primaryOf(s: KubeSession, c: PgoConfig & { sslmode?: 'require' | 'disable' }, ctx: StepContext): Promise<Result<Primary>> {
  const user = c.user ?? 'postgres';
  const sec = await readSecret(s, c.namespace, `${c.cluster}-pguser-${user}`);
  if (!sec.ok) return fail(`credentials of user ${user}: ${sec.reason} (list the user in spec.users, or set \`user:\` on the step)`, { retryable: false });
  if (!sec.value['password']) return fail(`Secret ${c.namespace}/${c.cluster}-pguser-${user} has no password`, { retryable: false });
  ctx.secret(sec.value['password']);
  let pods: Obj[];
  try {
    pods = (
      await s.api.list(
        'v1',
        'Pod',
        c.namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        `${PGO_GROUP}/cluster=${c.cluster},${PGO_GROUP}/role in (master,primary)`,
      )
    ).items as Obj[];
  } catch (err) {
    return fail(`listing the pods of ${c.namespace}/${c.cluster}: ${describeError(err)}`, { retryable: true });
  }
  const pod = pods[0]?.metadata?.name as string | undefined;
  if (!pod) return fail(`PostgresCluster ${c.namespace}/${c.cluster} has no primary pod (label ${PGO_GROUP}/role=master)`, { retryable: true });
  const fw = await forwardPort(s, c.namespace, pod, Number(sec.value['port'] ?? 5432));
  if (!fw.ok) return fw;
  ctx.log(`port-forward 127.0.0.1:${fw.value.port} -> ${c.namespace}/${pod}:${sec.value['port'] ?? 5432}\n`);
  return ok({
    conn: {
      host: fw.value.host,
      port: fw.value.port,
      user: sec.value['user'] ?? user,
      password: sec.value['password'],
      // PGO's pg_hba accepts TLS connections only; the pod's certificate names the Service, not 127.0.0.1
      ...(c.sslmode === 'disable' ? {} : { ssl: { rejectUnauthorized: false } }),
    },
    pod,
    close: () => fw.value.close(),
  });
}
