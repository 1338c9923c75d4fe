import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostics } from '../../diag/printer.js';
import { dataCastle, type DataCastle } from '../../data/rebirth.js';
import { DotenvSource } from '../../secrets/dotenv.js';
import { ensureSecret } from '../../secrets/generate.js';
import { connectInfisical } from '../../secrets/infisical-ref.js';
import { Redactor } from '../../secrets/redactor.js';
import type { SecretSource } from '../../secrets/source.js';
import { repo1Bucket } from './repo-bucket.js';
import { tlsFiles } from '../../s3/tls.js';
import type { Failure } from '../../core/result.js';
import type { StepContext } from '../../core/step.js';
import type { LocalSession } from './session.js';
import type { ResolvedLocal } from './config.js';
import { loadLocalClusterModel, type LocalClusterModel } from './manifests.js';
import { pgbackrestSpecFromModel } from './manifest-pgbackrest.js';

export const DEFAULT_PG_PORT = 15432;
export const DEFAULT_PGBOUNCER_PORT = 16432;
export const DEFAULT_S3_PORT = 9443;
/** keys of the secret source that hold the castle S3 endpoint's credentials (what the ExternalSecret reads) */
export const S3_KEY_ID = 'S3_ACCESS_KEY_ID';
export const S3_KEY_SECRET = 'S3_SECRET_ACCESS_KEY';

export type Fail = Failure;
export const fail = (reason: string, retryable = false): Fail => ({ ok: false, reason, retryable });

/** Every YAML/JSON file of the manifest paths (directories listed in name order). */
export function expandManifests(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (existsSync(p) && statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (/\.(ya?ml|json)$/.test(f)) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

export async function openSecrets(local: ResolvedLocal, redactor: Redactor): Promise<SecretSource | Fail> {
  const inf = local.config.secrets?.infisical;
  if (inf) {
    const r = await connectInfisical(inf, { redactor });
    return r.ok ? r.value : r;
  }
  const r = await DotenvSource.open(local.secretsFile, { create: true });
  return r.ok ? r.value : fail(r.reason);
}

/** The port the castle's S3 endpoint listens on: configured, else the one it last ran on. */
export function objectStorePort(local: ResolvedLocal): number {
  if (local.objectStorePort) return local.objectStorePort;
  try {
    return (JSON.parse(readFileSync(join(local.objectStoreDir, 's3.json'), 'utf8')) as { port: number }).port;
  } catch {
    return DEFAULT_S3_PORT;
  }
}

export interface LocalEnv {
  readonly local: ResolvedLocal;
  readonly source: SecretSource;
  readonly model: LocalClusterModel;
  readonly data: DataCastle;
  /** masks every secret this target has read */
  readonly redact: (text: string) => string;
  /** password of every PostgresCluster user (generated into the source on first use) */
  readonly passwords: ReadonlyMap<string, string>;
  readonly pgbouncerDir: string;
  readonly pgbouncerPort: number;
  readonly appDir: string;
}

/** A redactor that also feeds the run's: every secret this target reads is masked in logs and events. */
function stepRedactor(ctx: StepContext): Redactor {
  const r = new Redactor();
  const add = r.add.bind(r);
  r.add = (v) => {
    add(v);
    if (v) ctx.secret(v);
  };
  return r;
}

/** The data layer's paths and repos: with `restore`, pgBackRest set up from dataSource.pgbackrest. */
function dataFor(local: ResolvedLocal, model: LocalClusterModel, redact: (t: string) => string, restore: boolean): DataCastle | Failure {
  const ca = tlsFiles(join(local.objectStoreDir, 'tls')).caCert;
  const caPem = existsSync(ca) ? readFileSync(ca, 'utf8') : undefined;
  const spec = pgbackrestSpecFromModel(
    model,
    { host: 'localhost', port: objectStorePort(local), ...(caPem ? { caPem } : {}) },
    { restore: restore && model.dataSource !== undefined },
  );
  if (!spec.ok) return fail(spec.reason);
  const dc = dataCastle(
    {
      root: join(local.dataDir, 'postgres', model.name),
      port: local.config.ports?.postgres ?? DEFAULT_PG_PORT,
      pgVersion: model.postgresVersion,
      osUser: local.runAs,
      ...spec.value,
    },
    repo1Bucket(spec.value.repo1),
    redact,
  );
  return dc.ok ? dc.value : fail(dc.reason);
}

/**
 * The local castle as this step sees it: manifests rendered with the secret source, the data layer's
 * paths and repos, user passwords. Built once per run and shared through the target's session.
 */
export async function localEnv(session: LocalSession, ctx: StepContext, opts: { restore?: boolean } = {}): Promise<LocalEnv | Fail> {
  const key = opts.restore ? 'restore' : 'backup';
  const cached = session.envs.get(key);
  if (cached) return cached;
  if (opts.restore) {
    // The same castle, seen from its restore source: only the pgBackRest settings differ.
    const env = await localEnv(session, ctx);
    if ('ok' in env) return env;
    const data = dataFor(env.local, env.model, env.redact, true);
    if ('ok' in data) return data;
    const restoring: LocalEnv = { ...env, data };
    session.envs.set(key, restoring);
    return restoring;
  }
  const local = session.local;
  // The castle's own root must be traversable by the unprivileged user that runs its processes.
  for (const d of [local.dataDir, join(local.dataDir, 'postgres'), join(local.dataDir, 'pgbouncer'), join(local.dataDir, 'app')]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
  }
  const redactor = stepRedactor(ctx);
  const source = await openSecrets(local, redactor);
  if ('ok' in source) return source;
  const files = expandManifests(local.manifests);
  const analysis = await loadLocalClusterModel(files, { secrets: source, redactor, ...(local.config.cluster ? { clusterName: local.config.cluster } : {}) });
  if (!analysis.ok) {
    const lookup = (f: string): string | undefined => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return undefined;
      }
    };
    return fail(`the data layer's manifests are not usable:\n${redactor.redact(formatDiagnostics(analysis.diagnostics, lookup))}`);
  }
  const model = analysis.value;
  const redact = (t: string): string => redactor.redact(t);
  const dc = dataFor(local, model, redact, false);
  if ('ok' in dc) return dc;
  const passwords = new Map<string, string>();
  for (const u of model.users) {
    const pw = await ensureSecret(source, u.passwordKey, { kind: u.passwordType, redactor });
    if (!pw.ok) return fail(pw.reason);
    passwords.set(u.name, pw.value.value);
  }
  const env: LocalEnv = {
    local,
    source,
    model,
    data: dc,
    redact,
    passwords,
    pgbouncerDir: join(local.dataDir, 'pgbouncer', model.name),
    pgbouncerPort: local.config.ports?.pgbouncer ?? DEFAULT_PGBOUNCER_PORT,
    appDir: join(local.dataDir, 'app'),
  };
  session.envs.set(key, env);
  return env;
}

/** The `log` option the data machinery takes, feeding the step's log. */
export const opOptions = (ctx: StepContext): { log: (t: string) => void; note: (t: string) => void; signal: AbortSignal } => ({
  log: (t) => ctx.log(t.endsWith('\n') ? t : t + '\n'),
  note: (t) => ctx.note(t),
  signal: ctx.signal,
});
