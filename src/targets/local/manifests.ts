import { fail, ok, type Result } from '../../core/result.js';
import type { Analysis, Diagnostic, SourceLocation } from '../../diag/diagnostic.js';
import { locate, type PathSeg } from '../../diag/yaml-source.js';
import { renderExternalSecret } from '../../secrets/external-secret.js';
import type { Redactor } from '../../secrets/redactor.js';
import type { SecretSource } from '../../secrets/source.js';
import { parseIni } from '../../data/pgbackrest-ini.js';
import { loadManifests, type LoadedManifest } from './manifest-load.js';
import type { LocalClusterModel, LocalDataSource, LocalPgBouncer, LocalRepo, LocalUser, PgBackRestSettings } from './manifest-model.js';
import { installedPgMajors, PG_ROOT, pgBinDir } from '../../data/postgres.js';

export type { LoadedManifest } from './manifest-load.js';
export { loadManifests, parseManifests } from './manifest-load.js';
export type * from './manifest-model.js';

const PGO_API = 'postgres-operator.crunchydata.com/v1beta1';
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const REPO_NAME = /^repo[1-4]$/;
const REPO_FIELDS = new Set(['name', 's3', 'volume', 'gcs', 'azure', 'schedules']);

export interface ModelOptions {
  /** which PostgresCluster, when the set holds several */
  readonly clusterName?: string;
  /** where PostgreSQL majors are installed (default /usr/lib/postgresql) */
  readonly pgRoot?: string;
  /** overrides the scan of pgRoot */
  readonly installedMajors?: readonly number[];
  /**
   * Renders ExternalSecrets used as pgBackRest configuration: one source for every store, or a
   * resolver by `secretStoreRef`. Without it the configuration is checked but not rendered.
   */
  readonly secrets?: SecretSource | ((ref: { kind: string; name: string }) => SecretSource | undefined);
  /** secret values met while rendering are registered here */
  readonly redactor?: Redactor;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

/** Loads manifest files and builds the model of one PostgresCluster (see buildLocalClusterModel). */
export async function loadLocalClusterModel(files: readonly string[], opts: ModelOptions = {}): Promise<Analysis<LocalClusterModel>> {
  const loaded = await loadManifests(files);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { ok: false, diagnostics: loaded.diagnostics };
  const r = await buildLocalClusterModel(loaded.manifests, opts);
  if (!r.ok) return r;
  return { ...r, warnings: [...loaded.diagnostics, ...r.warnings] };
}

/**
 * Builds the typed model of the PostgresCluster in `manifests`, resolving its databaseInitSQL
 * ConfigMap and its pgBackRest configuration Secrets/ExternalSecrets from the same set.
 * Fields that don't matter locally (images, volume claims, affinity...) are ignored; fields that
 * would change the result and can't be honoured are diagnostics located in the manifest.
 */
export async function buildLocalClusterModel(manifests: readonly LoadedManifest[], opts: ModelOptions = {}): Promise<Analysis<LocalClusterModel>> {
  const diags: Diagnostic[] = [];
  const clusters = manifests.filter((m) => m.kind === 'PostgresCluster');
  const selected = opts.clusterName ? clusters.filter((c) => c.name === opts.clusterName) : clusters;
  if (selected.length !== 1) {
    const names = clusters.map((c) => `'${c.name}' (${c.file})`).join(', ');
    const message =
      selected.length === 0
        ? opts.clusterName
          ? `no PostgresCluster named '${opts.clusterName}' among the manifests (found: ${names || 'none'})`
          : `no PostgresCluster among the manifests (${[...new Set(manifests.map((m) => m.file))].join(', ') || 'no files'})`
        : `several PostgresClusters (${names}): say which one to use`;
    return { ok: false, diagnostics: [{ severity: 'error', rule: 'local/cluster-not-found', message, hint: `add a PostgresCluster (apiVersion ${PGO_API})` }] };
  }
  const c = selected[0]!;
  const at = (path: PathSeg[], key = false): SourceLocation => locate(c.yaml, path, { doc: c.doc, key });
  const err = (rule: string, message: string, path: PathSeg[], hint?: string, key = false) =>
    diags.push({ severity: 'error', rule, message, location: at(path, key), ...(hint ? { hint } : {}) });
  const warn = (rule: string, message: string, path: PathSeg[], hint?: string) =>
    diags.push({ severity: 'warning', rule, message, location: at(path), ...(hint ? { hint } : {}) });

  if (c.apiVersion !== PGO_API) {
    err('local/api-version', `PostgresCluster '${c.name}' has apiVersion ${c.apiVersion}; the local target understands ${PGO_API}`, ['apiVersion']);
  }
  const spec = isObj(c.body['spec']) ? c.body['spec'] : {};

  // postgresVersion must be a major installed here: the data directory format is per major.
  const installed = [...(opts.installedMajors ?? installedPgMajors(opts.pgRoot ?? PG_ROOT))];
  const pv = spec['postgresVersion'];
  let postgresVersion = 0;
  if (typeof pv !== 'number' || !Number.isInteger(pv)) {
    err(
      'local/postgres-version',
      `spec.postgresVersion must be a major version number (e.g. ${installed.at(-1) ?? 15})`,
      ['spec', 'postgresVersion'],
      undefined,
      pv === undefined,
    );
  } else if (!installed.includes(pv)) {
    const have = installed.length > 0 ? `installed: ${installed.join(', ')}` : `no PostgreSQL server is installed under ${opts.pgRoot ?? PG_ROOT}`;
    err(
      'local/postgres-version',
      `PostgreSQL ${pv} is not installed on this machine (${have})`,
      ['spec', 'postgresVersion'],
      installed.length > 0
        ? `set postgresVersion: ${installed.at(-1)} or install PostgreSQL ${pv} (apt-get install postgresql-${pv})`
        : `install PostgreSQL ${pv} (apt-get install postgresql-${pv})`,
    );
  } else {
    postgresVersion = pv;
  }

  const users = buildUsers(c, spec, err);
  const initSql = buildInitSql(c, spec, manifests, err);
  const stanza = 'db';

  // Topology this target cannot honour changes what "rebirth" proves: say so, don't fail.
  const instances = Array.isArray(spec['instances']) ? spec['instances'] : [];
  const replicas = instances.reduce<number>((n, i) => n + (isObj(i) && typeof i['replicas'] === 'number' ? i['replicas'] : 1), 0);
  if (instances.length > 1 || replicas > 1) {
    warn(
      'local/single-instance',
      `the local target runs one PostgreSQL instance; spec.instances asks for ${replicas}`,
      ['spec', 'instances'],
      'replicas are not created locally',
    );
  }
  if (isObj(spec['standby']) && spec['standby']['enabled'] === true) {
    err(
      'local/unsupported',
      'standby clusters are not supported by the local target',
      ['spec', 'standby', 'enabled'],
      'remove spec.standby or set enabled: false',
    );
  }

  const backups = isObj(spec['backups']) ? spec['backups'] : {};
  const pgbr = isObj(backups['pgbackrest']) ? backups['pgbackrest'] : undefined;
  let repos: LocalRepo[] = [];
  let pgbackrest: PgBackRestSettings = { configuration: [], rendered: false, global: {}, secretOptions: [], sections: {} };
  if (!pgbr) {
    warn(
      'local/no-backups',
      'spec.backups.pgbackrest is missing: this cluster cannot be reborn with its data',
      ['spec', 'backups'],
      'add backups.pgbackrest with a repo',
    );
  } else {
    const base: PathSeg[] = ['spec', 'backups', 'pgbackrest'];
    const globalOpts = stringMap(pgbr['global'], [...base, 'global'], err);
    const rawRepos = Array.isArray(pgbr['repos']) ? pgbr['repos'] : [];
    if (rawRepos.length === 0) err('local/no-repos', 'spec.backups.pgbackrest.repos is empty', [...base, 'repos'], 'add repo1 (s3) and/or repo2 (volume)');
    rawRepos.forEach((r, i) => {
      const repo = buildRepo(r, [...base, 'repos', i], globalOpts, err);
      if (repo) {
        if (repos.some((x) => x.name === repo.name)) err('local/duplicate-repo', `repo '${repo.name}' is defined twice`, [...base, 'repos', i, 'name']);
        else repos.push(repo);
      }
    });
    pgbackrest = await buildPgBackRest(c, pgbr, base, repos, globalOpts, manifests, opts, diags, err);
  }

  const dataSource = await buildDataSource(c, spec, repos, manifests, opts, diags, err, warn);
  const pgBouncer = buildPgBouncer(spec, err, warn);
  const parameters = buildParameters(spec, err);
  const port = typeof spec['port'] === 'number' ? spec['port'] : 5432;

  if (diags.some((d) => d.severity === 'error')) return { ok: false, diagnostics: diags };
  const model: LocalClusterModel = {
    name: c.name,
    ...(c.namespace ? { namespace: c.namespace } : {}),
    postgresVersion,
    pgBinDir: pgBinDir(postgresVersion, opts.pgRoot ?? PG_ROOT),
    port,
    users,
    ...(initSql ? { initSql } : {}),
    parameters,
    stanza,
    repos,
    pgbackrest,
    ...(dataSource ? { dataSource } : {}),
    ...(pgBouncer ? { pgBouncer } : {}),
  };
  return { ok: true, value: model, warnings: diags };
}

type Err = (rule: string, message: string, path: PathSeg[], hint?: string, key?: boolean) => void;

/** The source key for a user's password: env-friendly, derived from PGO's `<cluster>-pguser-<user>` Secret. */
export function passwordKeyFor(cluster: string, user: string): string {
  return `${cluster}-pguser-${user}-password`.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

function buildUsers(c: LoadedManifest, spec: Obj, err: Err): LocalUser[] {
  if (spec['users'] === undefined) {
    // PGO's default: a user named after the cluster, owning a database of the same name.
    return [{ name: c.name, databases: [c.name], passwordType: 'ASCII', passwordKey: passwordKeyFor(c.name, c.name) }];
  }
  if (!Array.isArray(spec['users'])) {
    err('local/bad-users', 'spec.users must be a list', ['spec', 'users']);
    return [];
  }
  const out: LocalUser[] = [];
  spec['users'].forEach((u, i) => {
    const p: PathSeg[] = ['spec', 'users', i];
    if (!isObj(u) || typeof u['name'] !== 'string') {
      err('local/bad-user', `spec.users[${i}] needs a name`, p);
      return;
    }
    const name = u['name'];
    if (!DNS1123.test(name) || name.length > 63) {
      err(
        'local/user-name',
        `user name '${name}' is not a valid DNS-1123 label (PGO names a Secret after it)`,
        [...p, 'name'],
        `use lowercase letters, digits and '-', e.g. '${name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}'`,
      );
    }
    if (out.some((x) => x.name === name)) err('local/duplicate-user', `user '${name}' is listed twice`, [...p, 'name']);
    const dbs = u['databases'] === undefined ? [] : u['databases'];
    if (!Array.isArray(dbs) || dbs.some((d) => typeof d !== 'string' || d === '')) {
      err('local/bad-user', `spec.users[${i}].databases must be a list of database names`, [...p, 'databases']);
      return;
    }
    const options = u['options'];
    if (options !== undefined && typeof options !== 'string')
      err('local/bad-user', `spec.users[${i}].options must be a string of role options`, [...p, 'options']);
    if (typeof options === 'string' && /password/i.test(options)) {
      err(
        'local/user-options',
        `spec.users[${i}].options must not set a PASSWORD: passwords are generated and kept in the secret source`,
        [...p, 'options'],
        'remove PASSWORD from options',
      );
    }
    const pwType = isObj(u['password']) ? u['password']['type'] : undefined;
    if (pwType !== undefined && pwType !== 'ASCII' && pwType !== 'AlphaNumeric') {
      err('local/user-password', `spec.users[${i}].password.type must be ASCII or AlphaNumeric`, [...p, 'password', 'type']);
    }
    out.push({
      name,
      databases: dbs as string[],
      ...(typeof options === 'string' ? { options } : {}),
      passwordType: pwType === 'AlphaNumeric' ? 'AlphaNumeric' : 'ASCII',
      passwordKey: passwordKeyFor(c.name, name),
    });
  });
  return out;
}

/** Same-namespace lookup; a manifest without a namespace matches any. */
function findByName(manifests: readonly LoadedManifest[], kinds: readonly string[], name: string, ns: string | undefined): LoadedManifest | undefined {
  return manifests.find((m) => kinds.includes(m.kind) && m.name === name && (!ns || !m.namespace || m.namespace === ns));
}

function buildInitSql(c: LoadedManifest, spec: Obj, manifests: readonly LoadedManifest[], err: Err): LocalClusterModel['initSql'] {
  const ref = spec['databaseInitSQL'];
  if (ref === undefined) return undefined;
  const p: PathSeg[] = ['spec', 'databaseInitSQL'];
  if (!isObj(ref) || typeof ref['name'] !== 'string' || typeof ref['key'] !== 'string') {
    err('local/bad-init-sql', 'spec.databaseInitSQL needs name (a ConfigMap) and key', p);
    return undefined;
  }
  const name = ref['name'];
  const key = ref['key'];
  const cm = findByName(manifests, ['ConfigMap'], name, c.namespace);
  if (!cm) {
    const files = [...new Set(manifests.map((m) => m.file))].join(', ');
    err(
      'local/missing-configmap',
      `databaseInitSQL refers to ConfigMap '${name}', which is not among the manifests (${files})`,
      [...p, 'name'],
      `add a ConfigMap named '${name}' with key '${key}' to the manifests`,
    );
    return undefined;
  }
  const data = isObj(cm.body['data']) ? cm.body['data'] : {};
  const text = data[key];
  if (typeof text !== 'string') {
    const keys = Object.keys(data);
    err(
      'local/missing-configmap-key',
      `ConfigMap '${name}' (${cm.file}) has no key '${key}' (keys: ${keys.join(', ') || 'none'})`,
      [...p, 'key'],
      `add data.${key} to the ConfigMap or fix the key`,
    );
    return undefined;
  }
  return { configMap: name, key, text };
}

function stringMap(v: unknown, path: PathSeg[], err: Err): Record<string, string> {
  if (v === undefined) return {};
  if (!isObj(v)) {
    err('local/bad-map', `${path.join('.')} must be a map of strings`, path);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    const s = str(x);
    if (s === undefined) err('local/bad-map', `${path.join('.')}.${k} must be a string`, [...path, k]);
    else out[k] = s;
  }
  return out;
}

function buildRepo(r: unknown, p: PathSeg[], globalOpts: Record<string, string>, err: Err): LocalRepo | undefined {
  if (!isObj(r) || typeof r['name'] !== 'string') {
    err('local/bad-repo', 'a pgBackRest repo needs a name (repo1..repo4)', p);
    return undefined;
  }
  const name = r['name'];
  if (!REPO_NAME.test(name)) {
    err('local/bad-repo', `repo name '${name}' must be repo1, repo2, repo3 or repo4`, [...p, 'name']);
    return undefined;
  }
  for (const k of Object.keys(r)) {
    if (!REPO_FIELDS.has(k)) {
      const hint = /cred|key|secret/i.test(k)
        ? 'credentials go in spec.backups.pgbackrest.configuration (a Secret holding e.g. s3.conf)'
        : `allowed: ${[...REPO_FIELDS].join(', ')}`;
      err('local/unknown-field', `${p.join('.')}.${k}: field not declared in the PostgresCluster schema`, [...p, k], hint, true);
    }
  }
  const path = globalOpts[`${name}-path`] ?? `/pgbackrest/${name}`;
  if (isObj(r['s3'])) {
    const s3 = r['s3'];
    const bucket = str(s3['bucket']);
    const endpoint = str(s3['endpoint']);
    const region = str(s3['region']);
    const missing = [!bucket && 'bucket', !endpoint && 'endpoint', !region && 'region'].filter(Boolean);
    if (missing.length > 0) {
      err('local/bad-repo', `repo '${name}' s3 needs ${missing.join(', ')}`, [...p, 's3']);
      return undefined;
    }
    return {
      name,
      kind: 's3',
      bucket: bucket!,
      endpoint: endpoint!,
      region: region!,
      path,
      options: {
        [`${name}-type`]: 's3',
        [`${name}-s3-bucket`]: bucket!,
        [`${name}-s3-endpoint`]: endpoint!,
        [`${name}-s3-region`]: region!,
        [`${name}-path`]: path,
      },
    };
  }
  if (isObj(r['volume'])) {
    return { name, kind: 'volume', path, options: { [`${name}-type`]: 'posix', [`${name}-path`]: path } };
  }
  if (r['gcs'] !== undefined || r['azure'] !== undefined) {
    err(
      'local/unsupported-repo',
      `repo '${name}': only s3 and volume repos are realised by the local target`,
      [...p, r['gcs'] !== undefined ? 'gcs' : 'azure'],
      'use s3 (the castle runs a local S3 endpoint) or volume',
      true,
    );
    return undefined;
  }
  err('local/bad-repo', `repo '${name}' needs s3 or volume`, p);
  return undefined;
}

async function buildPgBackRest(
  c: LoadedManifest,
  block: Obj,
  base: PathSeg[],
  repos: readonly LocalRepo[],
  globalOpts: Record<string, string>,
  manifests: readonly LoadedManifest[],
  opts: ModelOptions,
  diags: Diagnostic[],
  err: Err,
): Promise<PgBackRestSettings> {
  const global: Record<string, string> = {};
  for (const r of repos) Object.assign(global, r.options);
  Object.assign(global, globalOpts);
  const secretOptions = new Set<string>();
  const sections: Record<string, Record<string, string>> = {};
  const configuration: PgBackRestSettings['configuration'][number][] = [];
  let rendered = true;
  const conf = block['configuration'] === undefined ? [] : block['configuration'];
  if (!Array.isArray(conf)) {
    err('local/bad-configuration', `${base.join('.')}.configuration must be a list of projections`, [...base, 'configuration']);
    return { configuration, rendered: false, global, secretOptions: [], sections };
  }
  for (let i = 0; i < conf.length; i++) {
    const p: PathSeg[] = [...base, 'configuration', i];
    const proj = conf[i];
    const isSecret = isObj(proj) && isObj(proj['secret']);
    const ref = isObj(proj) ? (isSecret ? proj['secret'] : proj['configMap']) : undefined;
    if (!isObj(ref) || typeof ref['name'] !== 'string') {
      err('local/bad-configuration', `configuration[${i}] must be {secret: {name}} or {configMap: {name}}`, p);
      continue;
    }
    const name = ref['name'];
    const items = Array.isArray(ref['items'])
      ? ref['items']
          .filter(isObj)
          .map((it) => str(it['key']))
          .filter((k): k is string => !!k)
      : undefined;
    const refPath: PathSeg[] = [...p, isSecret ? 'secret' : 'configMap', 'name'];
    let files: Record<string, string> | undefined;
    let origin: { m: LoadedManifest; path: (key: string) => PathSeg[] } | undefined;
    if (!isSecret) {
      const cm = findByName(manifests, ['ConfigMap'], name, c.namespace);
      if (!cm) {
        err('local/missing-configmap', `pgBackRest configuration ConfigMap '${name}' is not among the manifests`, refPath, `add a ConfigMap named '${name}'`);
        continue;
      }
      configuration.push({ kind: 'ConfigMap', name, via: 'ConfigMap' });
      files = stringRecord(cm.body['data']);
      origin = { m: cm, path: (k) => ['data', k] };
    } else {
      const secret = findByName(manifests, ['Secret'], name, c.namespace);
      const es = secret
        ? undefined
        : manifests.find((m) => m.kind === 'ExternalSecret' && targetName(m) === name && (!c.namespace || !m.namespace || m.namespace === c.namespace));
      if (secret) {
        configuration.push({ kind: 'Secret', name, via: 'Secret' });
        files = { ...decodeData(secret.body['data']), ...stringRecord(secret.body['stringData']) };
        origin = { m: secret, path: (k) => (isObj(secret.body['stringData']) && k in secret.body['stringData'] ? ['stringData', k] : ['data', k]) };
      } else if (es) {
        configuration.push({ kind: 'Secret', name, via: 'ExternalSecret' });
        const src = resolveSource(es, opts);
        if (!src.ok || !src.value) {
          if (!src.ok)
            diags.push({
              severity: 'error',
              rule: 'local/no-secret-source',
              message: src.reason,
              location: locate(es.yaml, ['spec', 'secretStoreRef'], { doc: es.doc }),
            });
          rendered = false;
          continue;
        }
        const r = await renderExternalSecret(es, src.value, opts.redactor ? { redactor: opts.redactor } : {});
        if (!r.ok) {
          diags.push(...r.diagnostics);
          continue;
        }
        files = r.value.data;
        origin = { m: es, path: (k) => ['spec', 'target', 'template', 'data', k] };
      } else {
        err(
          'local/missing-secret',
          `pgBackRest configuration Secret '${name}' is neither a Secret nor the target of an ExternalSecret among the manifests`,
          refPath,
          `add an ExternalSecret whose target is '${name}' (or a Secret named '${name}')`,
        );
        continue;
      }
    }
    for (const [key, text] of Object.entries(files ?? {})) {
      if (items && !items.includes(key)) continue;
      const ini = parseIni(text);
      if (!ini.ok) {
        const loc = origin ? locate(origin.m.yaml, origin.path(key), { doc: origin.m.doc }) : undefined;
        diags.push({
          severity: 'error',
          rule: 'local/bad-pgbackrest-conf',
          message: `pgBackRest config '${key}' from '${name}', line ${ini.line}: ${ini.message}`,
          ...(loc ? { location: loc } : {}),
          hint: 'pgBackRest config files are INI: [global] then key=value lines',
        });
        continue;
      }
      for (const [sec, s] of Object.entries(ini.sections)) {
        if (sec === 'global') {
          for (const [k, v] of Object.entries(s.options)) {
            global[k] = v;
            if (isSecret) secretOptions.add(k);
          }
        } else {
          Object.assign((sections[sec] ??= {}), s.options);
        }
      }
    }
  }
  // A repo option without its repo is a typo that would silently go nowhere.
  for (const k of Object.keys(global)) {
    const m = /^(repo\d+)-/.exec(k);
    if (m && !repos.some((r) => r.name === m[1]) && repos.length > 0) {
      diags.push({
        severity: 'warning',
        rule: 'local/orphan-repo-option',
        message: `pgBackRest option '${k}' is for ${m[1]}, which is not among the repos (${repos.map((r) => r.name).join(', ')})`,
        location: locate(c.yaml, [...base, 'repos'], { doc: c.doc }),
      });
    }
  }
  return { configuration, rendered, global, secretOptions: [...secretOptions], sections };
}

/** The source an ExternalSecret reads from; undefined when none is configured (its Secret is then not rendered). */
function resolveSource(es: LoadedManifest, opts: ModelOptions): Result<SecretSource | undefined> {
  if (!opts.secrets) return ok(undefined);
  if (typeof opts.secrets !== 'function') return ok(opts.secrets);
  const spec = isObj(es.body['spec']) ? es.body['spec'] : {};
  const ref = isObj(spec['secretStoreRef']) ? spec['secretStoreRef'] : {};
  const kind = str(ref['kind']) ?? 'SecretStore';
  const name = str(ref['name']) ?? '';
  const source = opts.secrets({ kind, name });
  if (!source) return fail(`ExternalSecret '${es.name}': no secret source is configured for ${kind} '${name}'`);
  return ok(source);
}

/**
 * The store an ExternalSecret reads from, with the matching SecretStore/ClusterSecretStore manifest
 * when the set has it and its `castle.dev/secret-source` annotation (e.g. `dotenv`, `infisical`).
 */
export function secretStoreOf(
  es: LoadedManifest,
  manifests: readonly LoadedManifest[],
): { kind: string; name: string; manifest?: LoadedManifest; sourceHint?: string } {
  const spec = isObj(es.body['spec']) ? es.body['spec'] : {};
  const ref = isObj(spec['secretStoreRef']) ? spec['secretStoreRef'] : {};
  const kind = str(ref['kind']) ?? 'SecretStore';
  const name = str(ref['name']) ?? '';
  const manifest = manifests.find(
    (m) => m.kind === kind && m.name === name && (kind === 'ClusterSecretStore' || !es.namespace || !m.namespace || m.namespace === es.namespace),
  );
  const meta = manifest && isObj(manifest.body['metadata']) ? manifest.body['metadata'] : {};
  const ann = isObj(meta['annotations']) ? str(meta['annotations']['castle.dev/secret-source']) : undefined;
  return { kind, name, ...(manifest ? { manifest } : {}), ...(ann ? { sourceHint: ann } : {}) };
}

function targetName(m: LoadedManifest): string {
  const spec = isObj(m.body['spec']) ? m.body['spec'] : {};
  const target = isObj(spec['target']) ? spec['target'] : {};
  return typeof target['name'] === 'string' && target['name'] !== '' ? target['name'] : m.name;
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function decodeData(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(stringRecord(v))) out[k] = Buffer.from(x, 'base64').toString('utf8');
  return out;
}

async function buildDataSource(
  c: LoadedManifest,
  spec: Obj,
  repos: readonly LocalRepo[],
  manifests: readonly LoadedManifest[],
  opts: ModelOptions,
  diags: Diagnostic[],
  err: Err,
  warn: (rule: string, message: string, path: PathSeg[], hint?: string) => void,
): Promise<LocalDataSource | undefined> {
  const ds = spec['dataSource'];
  if (ds === undefined) return undefined;
  const p: PathSeg[] = ['spec', 'dataSource'];
  if (!isObj(ds)) {
    err('local/bad-data-source', 'spec.dataSource must be a map', p);
    return undefined;
  }
  if (ds['volumes'] !== undefined)
    err(
      'local/unsupported',
      'dataSource.volumes (existing PVCs) cannot be realised locally',
      [...p, 'volumes'],
      'restore from a pgBackRest repo instead',
      true,
    );
  const checkOptions = (options: unknown, at: PathSeg[]): string[] => {
    if (options === undefined) return [];
    if (!Array.isArray(options) || options.some((o) => typeof o !== 'string')) {
      err('local/bad-data-source', 'options must be a list of pgbackrest restore options', at);
      return [];
    }
    options.forEach((o: string, i) => {
      if (/^--type=immediate\b/.test(o)) {
        warn(
          'local/restore-immediate',
          '--type=immediate stops replay at the end of the backup: writes archived after it are lost on rebirth',
          [...at, i],
          'drop --type=immediate to replay all archived WAL',
        );
      }
      if (/^--(stanza|repo|pg1-path|config)\b/.test(o))
        err('local/bad-restore-option', `restore option '${o.split('=')[0]}' is set by the castle`, [...at, i], 'remove it');
    });
    return options as string[];
  };
  if (isObj(ds['pgbackrest'])) {
    const b = ds['pgbackrest'];
    const bp: PathSeg[] = [...p, 'pgbackrest'];
    const globalOpts = stringMap(b['global'], [...bp, 'global'], err);
    const repo = isObj(b['repo']) ? buildRepo(b['repo'], [...bp, 'repo'], globalOpts, err) : undefined;
    if (!repo) {
      if (!isObj(b['repo'])) err('local/bad-data-source', 'dataSource.pgbackrest needs repo (name and s3/volume)', bp);
      return undefined;
    }
    const settings = await buildPgBackRest(c, b, bp, [repo], globalOpts, manifests, opts, diags, err);
    const stanza = str(b['stanza']) ?? 'db';
    return { from: 'pgbackrest', repoName: repo.name, repo, stanza, options: checkOptions(b['options'], [...bp, 'options']), pgbackrest: settings };
  }
  if (isObj(ds['postgresCluster'])) {
    const b = ds['postgresCluster'];
    const bp: PathSeg[] = [...p, 'postgresCluster'];
    const other = str(b['clusterName']);
    if (other && other !== c.name) {
      err(
        'local/unsupported',
        `restoring from another PostgresCluster ('${other}') is not supported locally`,
        [...bp, 'clusterName'],
        "use dataSource.pgbackrest with that cluster's repo (e.g. its S3 bucket)",
      );
      return undefined;
    }
    const repoName = str(b['repoName']);
    const repo = repos.find((r) => r.name === repoName);
    if (!repo) {
      err(
        'local/bad-data-source',
        `dataSource.postgresCluster.repoName '${repoName ?? ''}' is not one of this cluster's repos (${repos.map((r) => r.name).join(', ') || 'none'})`,
        [...bp, 'repoName'],
      );
      return undefined;
    }
    return {
      from: 'postgresCluster',
      repoName: repo.name,
      repo,
      stanza: 'db',
      options: checkOptions(b['options'], [...bp, 'options']),
      pgbackrest: { configuration: [], rendered: true, global: {}, secretOptions: [], sections: {} },
    };
  }
  err('local/bad-data-source', 'spec.dataSource needs pgbackrest or postgresCluster', p);
  return undefined;
}

function buildPgBouncer(spec: Obj, err: Err, warn: (rule: string, message: string, path: PathSeg[], hint?: string) => void): LocalPgBouncer | undefined {
  const proxy = isObj(spec['proxy']) ? spec['proxy'] : undefined;
  if (!proxy || proxy['pgBouncer'] === undefined) return undefined;
  const p: PathSeg[] = ['spec', 'proxy', 'pgBouncer'];
  const b = proxy['pgBouncer'];
  if (!isObj(b)) {
    err('local/bad-pgbouncer', 'spec.proxy.pgBouncer must be a map', p);
    return undefined;
  }
  const replicas = typeof b['replicas'] === 'number' ? b['replicas'] : 1;
  if (replicas > 1) warn('local/single-pgbouncer', `the local target runs one pgBouncer; replicas: ${replicas} is reduced to 1`, [...p, 'replicas']);
  const port = typeof b['port'] === 'number' ? b['port'] : 5432;
  const config = isObj(b['config']) ? b['config'] : {};
  if (config['databases'] !== undefined || config['users'] !== undefined || config['files'] !== undefined) {
    const which = ['databases', 'users', 'files'].find((k) => config[k] !== undefined)!;
    err(
      'local/unsupported',
      `proxy.pgBouncer.config.${which} is not supported locally: pools are generated from spec.users`,
      [...p, 'config', which],
      'remove it, or use config.global for pgbouncer settings',
      true,
    );
  }
  const settings = stringMap(config['global'], [...p, 'config', 'global'], err);
  return { enabled: true, replicas: Math.min(1, replicas), port, settings };
}

function buildParameters(spec: Obj, err: Err): Record<string, string> {
  const patroni = isObj(spec['patroni']) ? spec['patroni'] : {};
  const dyn = isObj(patroni['dynamicConfiguration']) ? patroni['dynamicConfiguration'] : {};
  const pg = isObj(dyn['postgresql']) ? dyn['postgresql'] : {};
  return stringMap(pg['parameters'], ['spec', 'patroni', 'dynamicConfiguration', 'postgresql', 'parameters'], err);
}
