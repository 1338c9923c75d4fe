import { locate, type PathSeg, type YamlSource } from '../diag/yaml-source.js';
import type { SourceLocation } from '../diag/diagnostic.js';
import { END, lineParse, STRIDE, type Entries, type Positions, type Root } from './line-yaml.js';
import type { LineIndex } from './source.js';

/** Where the parts of one document are in its file: what a finding needs, and only a finding. */
export interface DocPositions {
  /** the value at `path` (with `key`, its key), or the deepest ancestor that exists, as `locate` does */
  locate(path: readonly PathSeg[], key?: boolean): SourceLocation;
  /** the whole file's text */
  readonly text: string;
  offsetOf(line: number, col: number): number;
  pos(offset: number): { line: number; col: number };
}

/** Positions from the `yaml` package's Document (files the line reader leaves to it). */
export class YamlDocPositions implements DocPositions {
  constructor(
    readonly src: YamlSource,
    readonly doc: number,
  ) {}

  get text(): string {
    return this.src.text;
  }

  locate(path: readonly PathSeg[], key = false): SourceLocation {
    return locate(this.src, path, { doc: this.doc, key });
  }

  offsetOf(line: number, col: number): number {
    return (this.src.lineCounter.lineStarts[line - 1] ?? 0) + col - 1;
  }

  pos(offset: number): { line: number; col: number } {
    return this.src.lineCounter.linePos(offset);
  }
}

/**
 * Positions from the line reader, run again on this document's text alone with positions on: a
 * finding costs one document read by the line reader (about 10x less than the `yaml` package),
 * never the whole file. Or, with `tracked`, from a read of the whole file that recorded them
 * already (see ParseOptions.track). Gives what YamlDocPositions gives: yaml-differential.test.ts compares them.
 */
export class LineDocPositions implements DocPositions {
  #value: unknown;
  #root: Root | undefined;
  /** where the offsets of #at count from: the document's start, or 0 for a whole-file read */
  readonly #base: number;

  constructor(
    readonly file: string,
    readonly text: string,
    readonly range: readonly [number, number],
    readonly index: LineIndex,
    tracked?: { readonly value: unknown; readonly root: Root },
  ) {
    this.#base = tracked ? 0 : range[0];
    if (tracked) {
      this.#value = tracked.value;
      this.#root = tracked.root;
    }
  }

  #read(): Root {
    if (!this.#root) {
      const at: Positions = { roots: [] };
      this.#value = lineParse(this.text.slice(this.range[0], this.range[1]), undefined, undefined, at)[0];
      this.#root = at.roots[0] ?? [0, 0, 0];
    }
    return this.#root;
  }

  locate(path: readonly PathSeg[], key = false): SourceLocation {
    const root = this.#read();
    let node = this.#value;
    let entries = root[2];
    // the spans read straight from the track's flat entries (as spanOf reads them): a locate per finding made no garbage then
    let s = root[0];
    let e = root[1];
    let keyStart = -1;
    let keyEnd = -1;
    for (const seg of path) {
      if (typeof node !== 'object' || node === null) break;
      const list = Array.isArray(node);
      if (list && typeof seg !== 'number') break;
      const k = list ? seg : String(seg);
      if (!entries) break;
      let j = 0;
      while (j < entries.length && entries[j] !== k) j += STRIDE;
      if (j >= entries.length) break;
      node = (node as Record<string | number, unknown>)[k];
      keyStart = entries[j + 1] as number;
      keyEnd = entries[j + 2] as number;
      s = entries[j + 3] as number;
      e = entries[j + 4] as number;
      entries = entries[j + 5] as Entries | 0;
    }
    if (key && keyStart !== -1) {
      s = keyStart;
      e = keyEnd;
    }
    const start = Math.min(this.#base + s, this.text.length);
    const valueEnd = e === END ? this.text.length : this.#base + e;
    const lineEnd = this.text.indexOf('\n', start);
    const end = lineEnd === -1 ? valueEnd : Math.min(valueEnd, lineEnd);
    const p = this.index.pos(start);
    return { file: this.file, line: p.line, col: p.col, length: Math.max(1, end - start) };
  }

  offsetOf(line: number, col: number): number {
    return (this.index.starts[line - 1] ?? 0) + col - 1;
  }

  pos(offset: number): { line: number; col: number } {
    return this.index.pos(offset);
  }
}
