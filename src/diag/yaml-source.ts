import type { Document, LineCounter, Node, Pair } from 'yaml';
import { yaml } from './yaml-lazy.js';
import type { Diagnostic, SourceLocation } from './diagnostic.js';

/** A parsed YAML file that can answer "where is this path?" for diagnostics. */
export interface YamlSource {
  readonly file: string;
  readonly text: string;
  readonly docs: readonly Document.Parsed[];
  readonly lineCounter: LineCounter;
}

export type PathSeg = string | number;

export function parseYamlSource(file: string, text: string): { source: YamlSource; diagnostics: Diagnostic[] } {
  const lineCounter = new (yaml().LineCounter)();
  // uniqueKeys makes duplicate keys an error, as the API server's strict decoding does.
  const docs = yaml().parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  const source: YamlSource = { file, text, docs: list, lineCounter };
  const diagnostics: Diagnostic[] = [];
  for (const doc of list) {
    for (const e of doc.errors) {
      diagnostics.push({
        severity: 'error',
        rule: e.code === 'DUPLICATE_KEY' ? 'yaml/duplicate-key' : 'yaml/syntax',
        // the parser recurses per nesting level: a stack overflow means the document nests too deeply
        message: /Maximum call stack/.test(e.message)
          ? 'the document is nested too deeply to read (thousands of levels)'
          : (e.message.split('\n')[0] ?? e.message),
        location: offsetLocation(source, e.pos[0], Math.max(1, e.pos[1] - e.pos[0])),
        hint: e.code === 'DUPLICATE_KEY' ? 'remove one of the two keys' : 'fix the YAML syntax at this position',
      });
    }
  }
  return { source, diagnostics };
}

export function offsetLocation(src: YamlSource, offset: number, length = 1): SourceLocation {
  const { line, col } = src.lineCounter.linePos(Math.min(offset, src.text.length));
  return { file: src.file, line, col, length };
}

function rangeOf(src: YamlSource, node: Node | Pair | null | undefined): SourceLocation | undefined {
  if (!node) return undefined;
  const range = (node as Node).range;
  if (!range) return undefined;
  const [start, valueEnd] = range;
  // Underline only the first line of a multi-line node.
  const lineEnd = src.text.indexOf('\n', start);
  const end = lineEnd === -1 ? valueEnd : Math.min(valueEnd, lineEnd);
  return offsetLocation(src, start, Math.max(1, end - start));
}

function child(node: unknown, seg: PathSeg): { value: Node | null; key: Node | null } | undefined {
  if (yaml().isMap(node)) {
    for (const pair of node.items) {
      const k = yaml().isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(k) === String(seg)) return { value: (pair.value as Node) ?? null, key: pair.key as Node };
    }
    return undefined;
  }
  if (yaml().isSeq(node) && typeof seg === 'number') {
    const item = node.items[seg] as Node | undefined;
    return item ? { value: item, key: null } : undefined;
  }
  return undefined;
}

/**
 * Location of the value at `path` in document `docIndex`; with `key: true`, of its key (what an
 * unknown-field error points at). Falls back to the deepest existing ancestor.
 */
export function locate(src: YamlSource, path: readonly PathSeg[], opts: { doc?: number; key?: boolean } = {}): SourceLocation {
  const doc = src.docs[opts.doc ?? 0];
  let node: unknown = doc?.contents ?? null;
  let last: Node | null = (doc?.contents as Node) ?? null;
  let lastKey: Node | null = null;
  for (const seg of path) {
    const next = child(node, seg);
    if (!next) break;
    node = next.value;
    lastKey = next.key;
    last = next.value ?? next.key;
  }
  const target = opts.key && lastKey ? lastKey : last;
  return rangeOf(src, target) ?? { file: src.file, line: 1, col: 1 };
}
