import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { convertCrd, crdHash, isCrd, type CrdInfo } from './schema/crd.js';
import { compileCrd, listImported, loadCoreBundle, saveImported } from './schema/store.js';

export interface ImportReport {
  imported: { name: string; versions: string[]; source: string }[];
  problems: string[];
}

async function readSource(src: string): Promise<{ name: string; text: string }[]> {
  if (/^https?:\/\//.test(src)) {
    const res = await fetch(src, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return [{ name: src, text: await res.text() }];
  }
  const st = statSync(src);
  if (!st.isDirectory()) return [{ name: src, text: readFileSync(src, 'utf8') }];
  const out: { name: string; text: string }[] = [];
  for (const f of readdirSync(src).sort()) {
    const p = join(src, f);
    if (statSync(p).isDirectory()) out.push(...(await readSource(p)));
    else if (/\.(ya?ml|json)$/i.test(f)) out.push({ name: p, text: readFileSync(p, 'utf8') });
  }
  return out;
}

/** Every CRD document found in `text`, compiled; other documents are ignored. */
export function crdsIn(text: string, origin: string, cacheDir?: string): { info: CrdInfo; raw: unknown }[] {
  const out: { info: CrdInfo; raw: unknown }[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) continue;
    let v: unknown;
    try {
      v = doc.toJS({ maxAliasCount: 100 });
    } catch {
      continue;
    }
    const items = v && typeof v === 'object' && (v as { kind?: unknown }).kind === 'List' ? ((v as { items?: unknown[] }).items ?? []) : [v];
    for (const item of items) {
      if (!isCrd(item)) continue;
      const info = cacheDir ? compileCrd(cacheDir, item, origin, crdHash(item)) : convertCrd(item, origin);
      if (info) out.push({ info, raw: item });
    }
  }
  return out;
}

/** `castle schemas add FILE|DIR|URL...` */
export async function importSchemas(sources: readonly string[], cacheDir: string): Promise<ImportReport> {
  const report: ImportReport = { imported: [], problems: [] };
  for (const src of sources) {
    let files: { name: string; text: string }[];
    try {
      files = await readSource(src);
    } catch (e) {
      report.problems.push(`${src}: ${(e as Error).message}`);
      continue;
    }
    let found = 0;
    for (const f of files) {
      for (const { info, raw } of crdsIn(f.text, f.name, cacheDir)) {
        saveImported(cacheDir, info, f.name, raw);
        report.imported.push({ name: info.name, versions: info.kinds.filter((k) => k.served).map((k) => k.version), source: f.name });
        found++;
      }
    }
    if (found === 0) report.problems.push(`${src}: no CustomResourceDefinition found`);
  }
  return report;
}

export function listSchemas(cacheDir: string): string[] {
  const core = loadCoreBundle(cacheDir);
  const lines = [`core: Kubernetes ${core.kubernetesVersion}, ${core.kinds.length} kinds (${core.origin})`];
  for (const info of listImported(cacheDir)) {
    lines.push(
      `crd: ${info.name} ${info.kinds.map((k) => `${k.version}${k.served ? '' : ' (not served)'}${k.deprecated ? ' (deprecated)' : ''}`).join(', ')} from ${info.source} (${info.importedAt})`,
    );
  }
  return lines;
}
