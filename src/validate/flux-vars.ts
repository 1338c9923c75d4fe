import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { yaml } from '../diag/yaml-lazy.js';
import type { InputFile } from './inputs.js';
import { obj as asObject } from './check/context.js';
import { displayPath } from './display-path.js';
import { skipped } from './walk.js';
import { readText } from './read-text.js';

// Flux's postBuild.substituteFrom reads ConfigMaps and Secrets from the cluster; offline, the Git tree that
// creates them is where they are.

export interface TreeObject {
  readonly namespace?: string;
  readonly file: string;
  readonly vars: Record<string, string>;
}

/** Flux takes as variables only the keys that are valid shell variable names */
const VARIABLE = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
/** a value SOPS encrypted: Flux decrypts it in the cluster, Castle cannot */
const SOPS_VALUE = /^ENC\[[A-Z0-9_]+,/;
/** ConfigMap and Secret files are small: a bigger file is a rendered chart, not a variables file */
const OBJECT_FILE_MAX = 1024 * 1024;

/** The ConfigMaps and Secrets of the tree under `root` and of the texts read so far, by `Kind/name`. */
export function objectIndex(root: string, read: readonly InputFile[]): Map<string, TreeObject[]> {
  const index = new Map<string, TreeObject[]>();
  const seen = new Set<string>();
  const take = (text: string, file: string): void => {
    if (!/kind:\s*["']?(ConfigMap|Secret)\b/.test(text)) return;
    for (const doc of yaml().parseAllDocuments(text, { uniqueKeys: false })) {
      if (doc.errors.length) continue;
      const obj = asObject(doc.toJS({ maxAliasCount: 100 }));
      if (!obj) continue;
      const meta = asObject(obj['metadata']) ?? {};
      if ((obj['kind'] !== 'ConfigMap' && obj['kind'] !== 'Secret') || obj['apiVersion'] !== 'v1' || typeof meta['name'] !== 'string') continue;
      const vars: Record<string, string> = {};
      const put = (k: string, v: unknown, decode: boolean): void => {
        if (!VARIABLE.test(k) || typeof v !== 'string' || SOPS_VALUE.test(v)) return;
        vars[k] = decode ? Buffer.from(v, 'base64').toString('utf8') : v;
      };
      const field = (name: string): [string, unknown][] => Object.entries(asObject(obj[name]) ?? {});
      for (const [k, v] of field('data')) put(k, v, obj['kind'] === 'Secret');
      // a Secret's stringData is merged over its data by the API server
      if (obj['kind'] === 'Secret') for (const [k, v] of field('stringData')) put(k, v, false);
      const key = `${obj['kind']}/${meta['name']}`;
      const list = index.get(key) ?? [];
      const entry: TreeObject = { file, vars, ...(typeof meta['namespace'] === 'string' ? { namespace: meta['namespace'] } : {}) };
      // the same object read twice (a file and the rendering that includes it) counts once
      if (!list.some((x) => x.namespace === entry.namespace && JSON.stringify(x.vars) === JSON.stringify(vars))) list.push(entry);
      index.set(key, list);
    }
  };
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (skipped(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.ya?ml$/i.test(e.name) && !seen.has(p)) {
        seen.add(p);
        try {
          if (statSync(p).size <= OBJECT_FILE_MAX) take(readFileSync(p, 'utf8'), displayPath(p));
        } catch {
          // unreadable: as if absent
        }
      }
    }
  };
  walk(root);
  for (const f of read) {
    if (f.abs && seen.has(f.abs)) continue;
    const text = f.deferred ? readText(f.abs) : f.text;
    if (text !== undefined) take(text, f.file);
  }
  return index;
}
