import { yaml } from '../diag/yaml-lazy.js';
import type { Diagnostic } from '../diag/diagnostic.js';
import { offsetLocation, type YamlSource } from '../diag/yaml-source.js';

/**
 * `parseYamlSource`, with duplicate keys found in linear time. The `yaml` library's `uniqueKeys`
 * compares every key with every other key of its map: a 500,000-key ConfigMap would take hours.
 * Returns the indices of documents with duplicate keys: the API server rejects those objects.
 */
export function parseSource(file: string, text: string): { source: YamlSource; diagnostics: Diagnostic[]; badDocs: Set<number> } {
  const lineCounter = new (yaml().LineCounter)();
  const parsed = yaml().parseAllDocuments(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const docs = Array.isArray(parsed) ? parsed : [];
  const source: YamlSource = { file, text, docs, lineCounter };
  const diagnostics: Diagnostic[] = [];
  const badDocs = new Set<number>();
  docs.forEach((doc, i) => {
    for (const e of doc.errors) {
      diagnostics.push({
        severity: 'error',
        rule: 'yaml/syntax',
        message: e.message.split('\n')[0] ?? e.message,
        location: offsetLocation(source, e.pos[0], Math.max(1, e.pos[1] - e.pos[0])),
        hint: 'fix the YAML syntax at this position',
      });
      badDocs.add(i);
    }
    if (doc.errors.length) return;
    yaml().visit(doc, {
      Map(_, map) {
        if (!yaml().isMap(map)) return;
        const seen = new Set<string>();
        for (const pair of map.items) {
          const k = yaml().isScalar(pair.key) ? `s:${String(pair.key.value)}` : undefined;
          if (k === undefined) continue;
          if (seen.has(k)) {
            const range = (pair.key as { range?: [number, number, number] }).range ?? [0, 1, 1];
            diagnostics.push({
              severity: 'error',
              rule: 'yaml/duplicate-key',
              message: 'Map keys must be unique',
              location: offsetLocation(source, range[0], Math.max(1, range[1] - range[0])),
              hint: 'remove one of the two keys',
            });
            badDocs.add(i);
          }
          seen.add(k);
        }
      },
    });
  });
  return { source, diagnostics, badDocs };
}

/** Line starts of one text, computed once: offsets to line and column by binary search. */
export class LineIndex {
  /** off the JavaScript heap (a typed array, counted first): a file's line starts were a fortieth of a findings run's garbage */
  readonly starts: Int32Array;

  constructor(text: string) {
    let n = 1;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
    this.starts = new Int32Array(n);
    n = 1;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts[n++] = i + 1;
  }

  pos(offset: number): { line: number; col: number } {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - s[lo]! + 1 };
  }
}
