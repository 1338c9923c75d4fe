import { crypto, workerThreads } from '../builtins-lazy.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { castleVersion } from '../../core/version.js';
import { generateCoreBundle } from './core-gen.js';
import { convertCrd, CONVERTER_VERSION, type CrdInfo } from './crd.js';
import { apiVersionOf, gvkKey, type KindSchema, type SchemaBundle, type SNode } from './types.js';
import { compareVersions } from './versions.js';

const require = createRequire(import.meta.url);
const GENERATOR = 'core-gen-1';

export { defaultCacheDir } from './cache-dir.js';

/** one node for every document (never changed): the checker keeps what it derives from a node by the node */
const OBJECT_META: SNode = { ref: 'V1ObjectMeta' };

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Cache writes are atomic (tmp + rename), so concurrent runs never read half a file. */
export function writeJson(file: string, value: unknown): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    // the thread too: the main thread and a worker may write the same schema at once (a cold cache)
    const tmp = `${file}.${process.pid}.${workerThreads().threadId}.tmp`;
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, file);
  } catch {
    // an unwritable cache only costs speed
  }
}

/**
 * A cache file's name made of what decides its content, as it is: no hash, whose module (node:crypto) took 10 ms of
 * each run to load.
 */
export function cacheName(parts: readonly string[]): string {
  return parts.join('-').replace(/[^A-Za-z0-9._+-]/g, '_');
}

/**
 * The cache name of what Castle compiles from a file it ships (schemas/): Castle's version, the compiler's, and the
 * file's name, size and modification time, which any change to it changes (npm gives every file of a package the same
 * time, and its version then tells releases apart). Reading and hashing the 1.4 MB of PGO's CRDs to make it took 12 ms of each run.
 */
export function shippedName(kind: string, file: string): string {
  const st = statSync(file);
  return cacheName([kind, `v${CONVERTER_VERSION}`, castleVersion, basename(file), String(st.size), String(Math.trunc(st.mtimeMs))]);
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

export interface CacheEvent {
  kind: 'hit' | 'compiled';
  what: string;
}

/** Core kinds for the bundled Kubernetes version, generated once and cached by the generating packages' versions. */
export function loadCoreBundle(cacheDir: string, events?: CacheEvent[]): SchemaBundle {
  const key = cacheName([GENERATOR, packageVersion('@kubernetes/client-node'), packageVersion('kubernetes-types')]);
  const file = join(cacheDir, 'core', `${key}.json`);
  const cached = readJson<SchemaBundle>(file);
  if (cached?.defs && cached.kinds) {
    events?.push({ kind: 'hit', what: 'core' });
    return cached;
  }
  const bundle = generateCoreBundle();
  writeJson(file, bundle);
  events?.push({ kind: 'compiled', what: 'core' });
  return bundle;
}

/** Core schemas pulled from a cluster's /openapi/v3 for another Kubernetes version. */
export function loadPulledCore(cacheDir: string, version: string): SchemaBundle | undefined {
  const dir = join(cacheDir, 'core');
  if (!existsSync(dir)) return undefined;
  // `1.31` matches a pulled 1.31.4; `1.31.4` only itself
  const parts = version.replace(/^v/, '').split('.');
  const candidates = readdirSync(dir)
    .filter((f) => f.startsWith('cluster-') && f.endsWith('.json'))
    .map((f) => f.slice('cluster-'.length, -'.json'.length))
    .filter((v) => v.split('.').slice(0, parts.length).join('.') === parts.join('.'))
    .sort(compareVersions);
  const best = candidates.at(-1);
  return best ? readJson<SchemaBundle>(join(dir, `cluster-${best}.json`)) : undefined;
}

export function savePulledCore(cacheDir: string, bundle: SchemaBundle): string {
  const file = join(cacheDir, 'core', `cluster-${bundle.kubernetesVersion}.json`);
  writeJson(file, bundle);
  return file;
}

/** A CRD document compiled to validation form, cached by its content hash. */
export function compileCrd(cacheDir: string | undefined, doc: unknown, origin: string, hash: string, events?: CacheEvent[]): CrdInfo | undefined {
  const file = cacheDir ? join(cacheDir, 'compiled', `${hash}.json`) : undefined;
  if (file) {
    const cached = readJson<CrdInfo>(file);
    if (cached?.kinds && cached.converter === CONVERTER_VERSION) {
      events?.push({ kind: 'hit', what: cached.name });
      return { ...cached, kinds: cached.kinds.map((k) => ({ ...k, origin })) };
    }
  }
  const info = convertCrd(doc, origin, hash);
  if (info && file) writeJson(file, info);
  if (info) events?.push({ kind: 'compiled', what: info.name });
  return info;
}

export interface ImportedCrd {
  name: string;
  source: string;
  hash: string;
  importedAt: string;
}

/** An imported CRD: its compiled form for every run, its original to recompile when the converter changes. */
export function saveImported(cacheDir: string, info: CrdInfo, source: string, raw: unknown): void {
  writeJson(join(cacheDir, 'imported', `${info.name}.crd.json`), raw);
  writeJson(join(cacheDir, 'imported', `${info.name}.json`), { ...info, source, importedAt: new Date().toISOString() });
}

export function listImported(cacheDir: string): (CrdInfo & { source: string; importedAt: string })[] {
  const dir = join(cacheDir, 'imported');
  if (!existsSync(dir)) return [];
  const out: (CrdInfo & { source: string; importedAt: string })[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json') || f.endsWith('.crd.json')) continue;
    let info = readJson<CrdInfo & { source: string; importedAt: string }>(join(dir, f));
    if (!info?.kinds) continue;
    if (info.converter !== CONVERTER_VERSION) {
      const raw = readJson<unknown>(join(dir, f.replace(/\.json$/, '.crd.json')));
      const fresh = raw === undefined ? undefined : convertCrd(raw, info.source);
      if (!fresh) continue;
      info = { ...fresh, source: info.source, importedAt: info.importedAt };
      writeJson(join(dir, f), info);
    }
    out.push(info);
  }
  return out;
}

/** Every schema a run can use, looked up by apiVersion and kind. */
export class SchemaRegistry {
  readonly defs: Record<string, SNode>;
  readonly core: SchemaBundle;
  readonly #byGvk = new Map<string, KindSchema>();
  readonly #byGroupKind = new Map<string, KindSchema[]>();
  readonly #crdOf = new Map<string, string>();

  constructor(core: SchemaBundle) {
    this.core = core;
    this.defs = core.defs;
    for (const k of core.kinds) this.add(k);
  }

  add(k: KindSchema, crdName?: string): void {
    const av = apiVersionOf(k.group, k.version);
    this.#byGvk.set(gvkKey(av, k.kind), k);
    const gk = `${k.group}|${k.kind}`;
    const list = (this.#byGroupKind.get(gk) ?? []).filter((x) => x.version !== k.version);
    list.push(k);
    this.#byGroupKind.set(gk, list);
    if (crdName) this.#crdOf.set(gk, crdName);
  }

  addCrd(info: CrdInfo): void {
    // a CRD replaces every version the group/kind had (e.g. an imported copy of the same CRD)
    this.#byGroupKind.delete(`${info.group}|${info.kind}`);
    for (const k of info.kinds) this.add(k, info.name);
  }

  get(apiVersion: string, kind: string): KindSchema | undefined {
    return this.#byGvk.get(gvkKey(apiVersion, kind));
  }

  versionsOf(group: string, kind: string): KindSchema[] {
    return this.#byGroupKind.get(`${group}|${kind}`) ?? [];
  }

  knowsGroup(group: string): boolean {
    for (const k of this.#byGroupKind.keys()) if (k.startsWith(`${group}|`)) return true;
    return false;
  }

  /** every served apiVersion of a kind, whatever its group */
  apiVersionsOfKind(kind: string): string[] {
    const out: string[] = [];
    for (const [k, list] of this.#byGroupKind) if (k.endsWith(`|${kind}`)) for (const v of list) if (v.served) out.push(apiVersionOf(v.group, v.version));
    return out.sort();
  }

  crdName(group: string, kind: string): string | undefined {
    return this.#crdOf.get(`${group}|${kind}`);
  }

  objectMeta(): SNode {
    return OBJECT_META;
  }

  get size(): number {
    return this.#byGvk.size;
  }
}
