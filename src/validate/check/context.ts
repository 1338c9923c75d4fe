import type { PathSeg, YamlSource } from '../../diag/yaml-source.js';
import { LineIndex, parseSource } from '../source.js';
import { LineDocPositions, YamlDocPositions, type DocPositions } from '../positions.js';
import type { Diagnostic, Severity, SourceLocation } from '../../diag/diagnostic.js';
import type { ManifestDoc } from '../documents.js';

/** A location not resolved yet: resolving needs the file's positions, which only diagnostics pay for. */
export interface LocRef {
  readonly file: string;
  readonly doc: number;
  /** the document's [start, end) in the file: only that document is parsed to resolve it */
  readonly range?: readonly [number, number];
  readonly path: readonly PathSeg[];
  readonly key?: boolean;
}

export function locRef(d: ManifestDoc, path: readonly PathSeg[], key = false): LocRef {
  // the same fields in the same order as spreads of optional parts would give (they are JSON later), without their temporary objects
  const p = d.base.length === 0 ? path.slice() : [...d.base, ...path];
  if (d.range) return key ? { file: d.file, doc: d.doc, path: p, range: d.range, key } : { file: d.file, doc: d.doc, path: p, range: d.range };
  return key ? { file: d.file, doc: d.doc, path: p, key } : { file: d.file, doc: d.doc, path: p };
}

/**
 * Resolves LocRefs against the texts of a run. Refs come file by file, document by document: only
 * the last file's line index and the last document's positions are kept, so memory does not grow
 * with the number of findings.
 */
export class Locator {
  readonly #textOf: (file: string) => string | undefined;
  #file: string | undefined;
  #index: LineIndex | undefined;
  #yaml: YamlSource | undefined;
  #key: string | undefined;
  #pos: DocPositions | undefined;

  /** `textOf`: a file's text, read again from disk for a finding (see validateManifests) */
  constructor(textOf: (file: string) => string | undefined) {
    this.#textOf = textOf;
  }

  #text = '';

  resolve(r: LocRef): SourceLocation {
    if (this.#file !== r.file) {
      this.#file = r.file;
      this.#text = this.#textOf(r.file) ?? '';
      this.#index = undefined;
      this.#yaml = undefined;
    }
    const text = this.#text;
    const key = r.range ? `${r.range[0]}` : `#${r.doc}`;
    if (this.#key !== key || !this.#pos) {
      if (r.range) this.#pos = new LineDocPositions(r.file, text, r.range, (this.#index ??= new LineIndex(text)));
      else this.#pos = new YamlDocPositions((this.#yaml ??= parseSource(r.file, text).source), r.doc);
      this.#key = key;
    }
    return this.#pos.locate(r.path, r.key ?? false);
  }
}

/** Where a path inside a manifest sits in its file. */
export function locateIn(d: ManifestDoc, path: readonly PathSeg[], key = false): SourceLocation {
  return d.pos.locate([...d.base, ...path], key);
}
export function diag(
  d: ManifestDoc,
  severity: Severity,
  rule: string,
  message: string,
  path: readonly PathSeg[],
  o: { key?: boolean; hint?: string } = {},
): Diagnostic {
  const location = locateIn(d, path, o.key ?? false);
  return o.hint ? { severity, rule, message, location, hint: o.hint } : { severity, rule, message, location };
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i === -1 ? '' : apiVersion.slice(0, i);
}

/** `<Kind>/<namespace>/<name>` for messages */
export function describe(d: ManifestDoc): string {
  return `${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name}`;
}
