import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { parseDocuments } from '../documents.js';
import { zlib } from '../builtins-lazy.js';
import { CONVERTER_VERSION, crdHash, isCrd, type CrdInfo } from './crd.js';
import { ValidateUsageError } from './registry-load.js';
import { compileCrd, readJson, shippedName, writeJson, type CacheEvent } from './store.js';
import { apiVersionOf } from './types.js';
import { compareVersions } from './versions.js';

/**
 * Operators whose whole CRD set Castle ships in several releases (schemas/operators/<id>/<version>.yaml.gz),
 * so that `--crds eso@0.19` checks a tree against the release its cluster runs. The newest shipped
 * release is the default.
 */
interface Operator {
  readonly id: string;
  readonly title: string;
  readonly aliases: readonly string[];
}

const OPERATORS: readonly Operator[] = [{ id: 'eso', title: 'External Secrets Operator', aliases: ['eso', 'external-secrets', 'external-secrets-operator'] }];

export interface Release {
  readonly operator: string;
  readonly title: string;
  readonly version: string;
  readonly file: string;
}

function operatorsDir(): string {
  return join(packageRoot, 'schemas', 'operators');
}

/** every shipped release, oldest first per operator */
export function shippedReleases(): Release[] {
  const out: Release[] = [];
  for (const op of OPERATORS) {
    const dir = join(operatorsDir(), op.id);
    if (!existsSync(dir)) continue;
    const versions = readdirSync(dir)
      .map((f) => /^(\d+\.\d+\.\d+)\.yaml\.gz$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined)
      .sort(compareVersions);
    for (const version of versions) out.push({ operator: op.id, title: op.title, version, file: join(dir, `${version}.yaml.gz`) });
  }
  return out;
}

/**
 * The releases a run uses: for each operator, the one a selector names (`eso@0.19` is the newest
 * shipped 0.19.x), else the newest. A selector that names nothing shipped is a usage error that
 * lists what is.
 */
export function selectReleases(selectors: readonly string[] = []): Release[] {
  const all = shippedReleases();
  const chosen = new Map<string, Release>();
  for (const r of all) chosen.set(r.operator, r); // newest last
  for (const raw of selectors.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9-]+)@v?(\d+(?:\.\d+){0,2})$/i.exec(raw);
    const op = m ? OPERATORS.find((o) => o.aliases.includes(m[1]!.toLowerCase())) : undefined;
    const shipped = OPERATORS.map((o) => `${o.id}@${all.filter((r) => r.operator === o.id).map((r) => r.version).join('|')}`).join(', ');
    if (!m || !op) throw new ValidateUsageError(`--crds ${raw}: expected <operator>@<version>; shipped: ${shipped}`);
    const parts = m[2]!.split('.');
    const match = all.filter((r) => r.operator === op.id && r.version.split('.').slice(0, parts.length).join('.') === parts.join('.')).at(-1);
    if (!match) {
      throw new ValidateUsageError(
        `--crds ${raw}: ${op.title} ${m[2]} is not shipped with Castle (${all
          .filter((r) => r.operator === op.id)
          .map((r) => r.version)
          .join(', ')}); import its CRDs with \`castle schemas add\` or \`castle schemas pull\``,
      );
    }
    chosen.set(op.id, match);
  }
  return [...chosen.values()];
}

interface CacheEntry {
  readonly converter: number;
  readonly crds: CrdInfo[];
}

/** One release's CRDs in validation form, cached by the hash of the shipped file. */
export function loadRelease(r: Release, cacheDir: string | undefined, events?: CacheEvent[]): CrdInfo[] {
  const cacheFile = cacheDir ? join(cacheDir, 'builtin', `${shippedName('operator', r.file)}.json`) : undefined;
  const cached = cacheFile ? readJson<CacheEntry>(cacheFile) : undefined;
  if (cached?.converter === CONVERTER_VERSION && Array.isArray(cached.crds) && cached.crds.every((c) => Array.isArray(c?.kinds))) {
    for (const info of cached.crds) events?.push({ kind: 'hit', what: info.name });
    return cached.crds;
  }
  const text = zlib().gunzipSync(readFileSync(r.file)).toString('utf8');
  const crds: CrdInfo[] = [];
  const origin = `${r.title} ${r.version} (shipped)`;
  for (const d of parseDocuments([{ file: r.file, text }], [])) {
    if (!isCrd(d.value)) continue;
    const info = compileCrd(undefined, d.value, origin, crdHash(d.value), events);
    if (info) crds.push(info);
  }
  if (cacheFile) writeJson(cacheFile, { converter: CONVERTER_VERSION, crds });
  return crds;
}

/** apiVersion|kind -> the shipped releases that serve it; built on first need (a finding on an operator's kind) */
let servedBy: Map<string, Release[]> | undefined;
let servedByCache: string | undefined;

/**
 * A hint for a kind the CRDs in use do not serve in this apiVersion but a shipped release does:
 * which releases, and the `--crds` selector that picks one.
 */
export function releaseHint(apiVersion: string, kind: string, cacheDir: string | undefined): string | undefined {
  const releases = shippedReleases();
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  if (!/(^|\.)external-secrets\.io$/.test(group) || releases.length === 0) return undefined;
  if (!servedBy || servedByCache !== cacheDir) {
    servedBy = new Map();
    servedByCache = cacheDir;
    for (const r of releases) {
      for (const info of loadRelease(r, cacheDir)) {
        for (const k of info.kinds) {
          if (!k.served) continue;
          const key = `${apiVersionOf(k.group, k.version)}|${k.kind}`;
          const list = servedBy.get(key) ?? [];
          list.push(r);
          servedBy.set(key, list);
        }
      }
    }
  }
  const by = servedBy.get(`${apiVersion}|${kind}`);
  if (!by?.length) return undefined;
  const newest = by.at(-1)!;
  return `${kind} ${apiVersion} is served by ${newest.title} ${by.map((r) => r.version).join(', ')} (shipped with Castle): pass \`--crds ${newest.operator}@${newest.version}\` if the cluster runs that release`;
}
