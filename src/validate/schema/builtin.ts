import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { parseDocuments } from '../documents.js';
import { CONVERTER_VERSION, crdHash, isCrd, type CrdInfo } from './crd.js';
import { loadRelease, selectReleases } from './operators.js';
import { compileCrd, readJson, shippedName, writeJson, type CacheEvent } from './store.js';

/**
 * CRDs shipped with Castle: CrunchyData PGO 5.8.9 (schemas/crds/pgo-*.yaml) and every CRD of a release of
 * External Secrets Operator (schemas/operators, see operators.ts): what the local target's manifests
 * use, known without `castle schemas add`. CRDs among the inputs or imported later take precedence.
 * schemas/crds/eso-*.yaml are plain copies of three ESO 0.16.2 CRDs for the tests, not loaded here.
 */
export function builtinCrdFiles(): string[] {
  const dir = join(packageRoot, 'schemas', 'crds');
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /^pgo-.*\.ya?ml$/.test(f))
        .sort()
        .map((f) => join(dir, f))
    : [];
}

interface BuiltinCacheEntry {
  readonly converter: number;
  readonly crds: CrdInfo[];
}

/**
 * The shipped CRDs in validation form. Parsing their 2.4 MB of YAML costs ~0.4 s, paid by every `up` and
 * `rebirth` through the preflight: the compiled form is cached by the hash of each file's text, so a
 * run only reads JSON (see shippedName). A missing or unwritable cache only costs that time.
 */
export function loadBuiltinCrds(cacheDir: string | undefined, events?: CacheEvent[], selectors: readonly string[] = []): CrdInfo[] {
  const out: CrdInfo[] = [];
  for (const r of selectReleases(selectors)) out.push(...loadRelease(r, cacheDir, events));
  for (const file of builtinCrdFiles()) {
    const cacheFile = cacheDir ? join(cacheDir, 'builtin', `${shippedName('builtin', file)}.json`) : undefined;
    const cached = cacheFile ? readJson<BuiltinCacheEntry>(cacheFile) : undefined;
    if (cached?.converter === CONVERTER_VERSION && Array.isArray(cached.crds) && cached.crds.every((c) => Array.isArray(c?.kinds))) {
      for (const info of cached.crds) events?.push({ kind: 'hit', what: info.name });
      out.push(...cached.crds.map((info) => ({ ...info, kinds: info.kinds.map((k) => ({ ...k, origin: file })) })));
      continue;
    }
    const crds: CrdInfo[] = [];
    for (const d of parseDocuments([{ file, text: readFileSync(file, 'utf8') }], [])) {
      if (!isCrd(d.value)) continue;
      const info = compileCrd(undefined, d.value, file, crdHash(d.value), events);
      if (info) crds.push(info);
    }
    if (cacheFile) writeJson(cacheFile, { converter: CONVERTER_VERSION, crds });
    out.push(...crds);
  }
  return out;
}
