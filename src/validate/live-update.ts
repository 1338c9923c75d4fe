import type { Diagnostic } from '../diag/diagnostic.js';
import { checkSchema, dropPlaceholderFindings, type AnalyzeOptions, type DeferredDoc, type FileAnalysis } from './analyze.js';
import { parseFile, type ManifestDoc } from './documents.js';
import { kubeClient, type KubeClient, type KubeTarget } from './kube-client.js';
import type { SchemaRegistry } from './schema/store.js';

/** GETs of live objects in flight at once */
const CONCURRENCY = 8;

/**
 * `--cluster`: custom resources are checked as the API server checks an update of the object it
 * holds. Each one's live object is read (GET in the document's own apiVersion, so the server converts
 * it); transition rules (`oldSelf`) compare with it and errors on unchanged values are ratcheted. An
 * object the cluster does not have is a create, checked as offline. When the cluster cannot be read,
 * every object is checked as a create and one finding says why.
 */
export async function checkAgainstLive(
  deferred: readonly DeferredDoc[],
  registry: SchemaRegistry,
  textOf: (file: string) => string | undefined,
  target: KubeTarget,
  a: FileAnalysis,
  o: AnalyzeOptions,
): Promise<Diagnostic[]> {
  const problems: Diagnostic[] = [];
  let client: KubeClient | undefined;
  try {
    client = await kubeClient(target);
  } catch (e) {
    problems.push({ severity: 'error', rule: 'cluster/unreachable', message: `cannot read live objects for transition rules: ${firstLine(e)}` });
  }
  const byFile = new Map<string, DeferredDoc[]>();
  for (const d of deferred) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
  for (const [file, list] of byFile) {
    const text = textOf(file);
    if (text === undefined) continue;
    const docs = new Map<string, ManifestDoc>();
    for (const d of parseFile({ file, text }, [], o)) docs.set(`${d.doc}|${JSON.stringify(d.base)}`, d);
    const todo = list.map((x) => ({ x, d: docs.get(`${x.doc}|${x.base}`) })).filter((t): t is { x: DeferredDoc; d: ManifestDoc } => t.d !== undefined);
    const olds = new Array<unknown>(todo.length);
    for (let i = 0; i < todo.length; i += CONCURRENCY) {
      await Promise.all(
        todo.slice(i, i + CONCURRENCY).map(async ({ x }, j) => {
          if (!client) return;
          try {
            olds[i + j] = await client.get(livePath(x, registry));
          } catch (e) {
            if (/HTTP 404/.test((e as Error).message)) return; // not in the cluster: a create
            if (!problems.some((p) => p.rule === 'cluster/unreachable')) {
              problems.push({ severity: 'error', rule: 'cluster/unreachable', message: `cannot read live objects for transition rules: ${firstLine(e)}` });
            }
            client = undefined;
          }
        }),
      );
    }
    todo.forEach(({ d }, i) => {
      const before = a.diagnostics.length;
      const needsBefore = a.needs.length;
      checkSchema(d, registry, a, o.cacheDir, olds[i]);
      if (text.includes('${')) dropPlaceholderFindings(d, a, before, needsBefore);
    });
  }
  return problems;
}

function livePath(x: DeferredDoc, registry: SchemaRegistry): string {
  const s = registry.get(x.apiVersion, x.kind);
  if (!s) throw new Error(`no schema for ${x.apiVersion} ${x.kind}`);
  const ns = s.namespaced ? `namespaces/${encodeURIComponent(x.namespace ?? 'default')}/` : '';
  return `/apis/${s.group}/${s.version}/${ns}${s.plural}/${encodeURIComponent(x.name)}`;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}
