import type { PathSeg } from '../diag/yaml-source.js';
import { LineIndex, parseSource } from './source.js';
import { LineDocPositions, YamlDocPositions, type DocPositions } from './positions.js';
import type { Diagnostic } from '../diag/diagnostic.js';
import { yaml } from '../diag/yaml-lazy.js';
import { lineRead, Unsupported, YAML11_BOOL, type Root } from './line-yaml.js';
import type { InputFile } from './inputs.js';

/** One Kubernetes object found in the inputs, with what is needed to point back at its source. */
export interface ManifestDoc {
  readonly file: string;
  /** where its parts are in the file; built on a first finding for documents the line reader read */
  readonly pos: DocPositions;
  /** `pos` is built already: locating more in this document costs no parse */
  readonly hasPos: boolean;
  /** index of the document in the file */
  readonly doc: number;
  /** [start, end) of the document in the file, when known: locations then parse this document only */
  readonly range: readonly [number, number] | undefined;
  /** path of this object inside its YAML document (`['items', 3]` for a `kind: List` member) */
  readonly base: readonly PathSeg[];
  readonly value: Record<string, unknown>;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly via: string | undefined;
}

/** The API server refuses request bodies over 3 MiB ("Request entity too large: limit is 3145728"). */
const MAX_OBJECT_BYTES = 3 * 1024 * 1024;

function tooLarge(file: string, bytes: number, { line, col }: { line: number; col: number }): Diagnostic {
  return {
    severity: 'error',
    rule: 'input/object-too-large',
    message: `document is ${bytes} bytes: the API server refuses requests over ${MAX_OBJECT_BYTES} bytes (Request entity too large); not checked further`,
    location: { file, line, col },
    hint: 'split it (a ConfigMap or Secret this big belongs in a volume or an object store)',
  };
}

/** Aliases expanded per document, at most: a "billion laughs" file fails here instead of eating memory. */
const MAX_ALIAS_COUNT = 100;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface ParseOptions {
  /**
   * false: read every file with the \`yaml\` package only, never the line reader (line-yaml.ts).
   * The results are the same (a differential test holds them to it); only the time differs.
   */
  readonly fastYaml?: boolean;
  /**
   * The line reader records where every value is while it reads the file: cheaper than a second
   * read of each document that has a finding when most of them do (see analyzeFiles), dearer when few do.
   */
  readonly track?: boolean;
}

export function parseDocuments(files: readonly InputFile[], diagnostics: Diagnostic[], o: ParseOptions = {}): ManifestDoc[] {
  const out: ManifestDoc[] = [];
  for (const f of files) for (const d of parseFile(f, diagnostics, o)) out.push(d);
  return out;
}

/** The objects of one file (see readFile). */
export function parseFile(f: InputFile, diagnostics: Diagnostic[], o: ParseOptions = {}): ManifestDoc[] {
  const out: ManifestDoc[] = [];
  const mark = diagnostics.length;
  readFile(
    f,
    diagnostics,
    o,
    (docs) => {
      for (const d of docs) out.push(d);
    },
    () => {
      diagnostics.length = mark;
      out.length = 0;
    },
  );
  return out;
}

/**
 * The objects of one file, given to `visit` a YAML document at a time (a `kind: List` is one
 * document of many objects), as they are read. Values come from the line reader when it can read the
 * file (the plain shape of most manifests), else from the `yaml` package, which also reports errors:
 * when the line reader stops (possibly after it gave some documents), `restart` is called, for the
 * caller to forget what it did with them and what was added to `diagnostics` since, and the whole file
 * is given again from the `yaml` package. What `visit` throws is thrown as it is, never taken for the
 * line reader's own stop. Positions are only needed for findings: for line-read files each
 * document is parsed with positions on its first finding, alone (its own text, with the file's line
 * index), so a finding costs one document.
 */
export function readFile(f: InputFile, diagnostics: Diagnostic[], o: ParseOptions, visit: (docs: ManifestDoc[]) => void, restart: () => void): void {
  if (o.fastYaml !== false) {
    try {
      lineFile(f, diagnostics, o.track === true, visit);
      return;
    } catch (e) {
      if (e instanceof FromVisit) throw e.error;
      if (!(e instanceof Unsupported) && !(e instanceof RangeError)) throw e;
      restart();
    }
  }
  yamlFile(f, diagnostics, visit);
}

/** what `visit` threw inside the line reader, passed through its fallback (see readFile) */
class FromVisit {
  constructor(readonly error: unknown) {}
}

function lineFile(f: InputFile, diagnostics: Diagnostic[], track: boolean, visit: (docs: ManifestDoc[]) => void): void {
  const ambiguous: number[] = [];
  const lines = new FileLines(f.text);
  let i = 0;
  lineRead(
    f.text,
    (value, start, end, root) => {
      const doc = i++;
      for (const offset of ambiguous) diagnostics.push(ambiguousBool(f.file, f.text, offset, lines.get().pos(offset)));
      ambiguous.length = 0;
      if (value === null || value === undefined) return;
      const range: readonly [number, number] = [start, end];
      if (end - start > MAX_OBJECT_BYTES) {
        diagnostics.push(tooLarge(f.file, end - start, lines.get().pos(start)));
        return;
      }
      const out: ManifestDoc[] = [];
      collect(value, [], new LinePosSource(f, range, lines, root ? { value, root } : undefined), doc, range, f, diagnostics, out);
      if (out.length === 0) return;
      try {
        visit(out);
      } catch (e) {
        throw new FromVisit(e);
      }
    },
    ambiguous,
    track,
  );
}

function yamlFile(f: InputFile, diagnostics: Diagnostic[], visit: (docs: ManifestDoc[]) => void): void {
  let parsed: ReturnType<typeof parseSource>;
  try {
    parsed = parseSource(f.file, f.text);
  } catch (e) {
    // e.g. a stack overflow on pathologically deep nesting
    diagnostics.push({ severity: 'error', rule: 'yaml/syntax', message: `cannot parse: ${(e as Error).message}`, location: { file: f.file, line: 1, col: 1 } });
    return;
  }
  for (const d of parsed.diagnostics) diagnostics.push(d);
  const { source } = parsed;
  source.docs.forEach((doc, i) => {
    if (doc.errors.length) return;
    // each document's ambiguous booleans before its objects, as the line reader gives them
    yaml().visit(doc, {
      Scalar(_, node) {
        if (node.type === 'PLAIN' && typeof node.source === 'string' && YAML11_BOOL.test(node.source) && node.range)
          diagnostics.push(ambiguousBool(f.file, f.text, node.range[0], source.lineCounter.linePos(node.range[0])));
      },
    });
    if (parsed.badDocs.has(i)) return;
    const [start, , end] = doc.range;
    if (end - start > MAX_OBJECT_BYTES) {
      diagnostics.push(tooLarge(f.file, end - start, source.lineCounter.linePos(start)));
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      const { line, col } = source.lineCounter.linePos(start);
      const msg = (e as Error).message.split('\n')[0] ?? '';
      const bomb = /alias/i.test(msg);
      diagnostics.push({
        severity: 'error',
        rule: bomb ? 'yaml/alias-limit' : 'yaml/syntax',
        message: bomb ? `document expands too many aliases (limit ${MAX_ALIAS_COUNT}): ${msg}` : msg,
        location: { file: f.file, line, col },
      });
      return;
    }
    if (value === null || value === undefined) return;
    const out: ManifestDoc[] = [];
    collect(value, [], new BuiltPosSource(new YamlDocPositions(source, i)), i, undefined, f, diagnostics, out);
    if (out.length > 0) visit(out);
  });
}

/**
 * kubectl decodes YAML as 1.1 (go-yaml v2): an unquoted `on` is `true` there and "on" for Flux,
 * kustomize and most editors. Either reading is a surprise somewhere.
 */
function ambiguousBool(file: string, text: string, offset: number, { line, col }: { line: number; col: number }): Diagnostic {
  const word = /^[A-Za-z]+/.exec(text.slice(offset, offset + 8))?.[0] ?? '';
  const truthy = /^(y|yes|on)$/i.test(word);
  return {
    severity: 'warning',
    rule: 'yaml/ambiguous-bool',
    message: `unquoted ${word} is the boolean ${truthy} for kubectl (YAML 1.1) but the string "${word}" for YAML 1.2 tools (Flux, kustomize)`,
    location: { file, line, col, length: word.length },
    hint: `quote it ("${word}") for a string, or write ${truthy} for a boolean`,
  };
}

function collect(
  value: unknown,
  base: PathSeg[],
  src: PosSource,
  doc: number,
  range: readonly [number, number] | undefined,
  f: InputFile,
  diagnostics: Diagnostic[],
  out: ManifestDoc[],
): void {
  const loc = (): Diagnostic['location'] => {
    const { line, col } = src.get().locate([]);
    return { file: f.file, line, col };
  };
  if (typeof value !== 'object' || Array.isArray(value) || value === null) {
    diagnostics.push({
      severity: 'error',
      rule: 'input/not-an-object',
      message: `document ${doc + 1} is ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}, not a Kubernetes object`,
      location: loc(),
    });
    return;
  }
  const v = value as Record<string, unknown>;
  const apiVersion = str(v['apiVersion']);
  const kind = str(v['kind']);
  if (apiVersion === undefined && kind === undefined) {
    // values files, kustomize configs and the like sit beside manifests: not objects, not errors
    diagnostics.push({
      severity: 'info',
      rule: 'input/not-a-manifest',
      message: `document ${doc + 1} has no apiVersion and no kind: skipped`,
      location: loc(),
    });
    return;
  }
  if (apiVersion?.startsWith('kustomize.config.k8s.io/')) return;
  if (apiVersion === 'v1alpha1' && kind !== undefined) {
    // Kubernetes has no group-less v1alpha1: this is a Talos machine-config document (a patch beside the manifests)
    diagnostics.push({
      severity: 'info',
      rule: 'input/not-a-manifest',
      message: `document ${doc + 1} is a Talos machine-config document (${kind}): checked against Talos's schema when castle.yaml's talos block names it`,
      location: loc(),
    });
    return;
  }
  if (!apiVersion || !kind) {
    const missing = !apiVersion ? 'apiVersion' : 'kind';
    diagnostics.push({
      severity: 'error',
      rule: 'schema/type-meta',
      message: `Object '${missing === 'kind' ? 'Kind' : 'apiVersion'}' is missing or not a string`,
      location: loc(),
    });
    return;
  }
  if (kind === 'List' && apiVersion === 'v1' && Array.isArray(v['items'])) {
    v['items'].forEach((item, n) => collect(item, [...base, 'items', n], src, doc, range, f, diagnostics, out));
    return;
  }
  const meta = (typeof v['metadata'] === 'object' && v['metadata'] !== null ? v['metadata'] : {}) as Record<string, unknown>;
  out.push(
    new Manifest(f.file, doc, range, base, v, apiVersion, kind, str(meta['name']) ?? str(meta['generateName']) ?? '', str(meta['namespace']), f.via, src),
  );
}

/**
 * A ManifestDoc as a class, its positions got through a PosSource: an object literal with getters
 * (closures over the document) gives each object its own hidden class, which V8 keeps in the old
 * generation, and through which the document's values outlive young-generation collections until a
 * full one (on the bench's findings corpus, a third of all it allocates, and most of its GC time).
 */
class Manifest implements ManifestDoc {
  readonly #src: PosSource;

  constructor(
    readonly file: string,
    readonly doc: number,
    readonly range: readonly [number, number] | undefined,
    readonly base: readonly PathSeg[],
    readonly value: Record<string, unknown>,
    readonly apiVersion: string,
    readonly kind: string,
    readonly name: string,
    readonly namespace: string | undefined,
    readonly via: string | undefined,
    src: PosSource,
  ) {
    this.#src = src;
  }

  get pos(): DocPositions {
    return this.#src.get();
  }

  get hasPos(): boolean {
    return this.#src.built;
  }
}

/** The positions of one YAML document (all its objects, for a `kind: List`). */
interface PosSource {
  get(): DocPositions;
  /** get() costs no parse */
  readonly built: boolean;
}

class BuiltPosSource implements PosSource {
  readonly built = true;
  constructor(readonly pos: DocPositions) {}
  get(): DocPositions {
    return this.pos;
  }
}

/** A line-read document's positions: read again on the first finding, or recorded by the read (`tracked`). */
class LinePosSource implements PosSource {
  #pos: DocPositions | undefined;

  constructor(
    readonly f: InputFile,
    readonly range: readonly [number, number],
    readonly lines: FileLines,
    readonly tracked: { readonly value: unknown; readonly root: Root } | undefined,
  ) {}

  get built(): boolean {
    return this.tracked !== undefined || this.#pos !== undefined;
  }

  get(): DocPositions {
    return (this.#pos ??= new LineDocPositions(this.f.file, this.f.text, this.range, this.lines.get(), this.tracked));
  }
}

/** A file's line index, made when first needed. */
class FileLines {
  #index: LineIndex | undefined;
  constructor(readonly text: string) {}
  get(): LineIndex {
    return (this.#index ??= new LineIndex(this.text));
  }
}
