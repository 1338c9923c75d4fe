import { CST, Parser } from 'yaml';

/**
 * A fast path from YAML text to plain values for the common shape of manifests: block and flow
 * collections, plain/quoted/block scalars, YAML 1.2 core schema. It builds values straight from
 * `yaml`'s CST, skipping its Document model (about half the cost). Anything it does not fully handle
 * (anchors, aliases, tags, merge keys, explicit keys, duplicate keys, any parse error, unusual layout)
 * throws `Unsupported`, and the caller parses the file with the full `yaml` Document API instead, which
 * reports positions and errors. Positions are only needed for diagnostics, so they are computed lazily.
 */
export class Unsupported extends Error {}

const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^[-+]?[0-9]+$/;
const INT_OCT = /^0o[0-7]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

/** go-yaml v2 (kubectl's YAML 1.1) reads these plain scalars as booleans; YAML 1.2 tools read strings */
export const YAML11_BOOL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

let ambiguous: number[] | undefined;

/** YAML 1.2 core schema resolution of a plain scalar, as the `yaml` library does it */
export function plainScalar(s: string): unknown {
  if (NULL.test(s)) return null;
  const c = s.charCodeAt(0);
  // only strings that start like a number or a keyword can resolve to anything but a string
  if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46) {
    if (INT.test(s)) return Number(s);
    if (INT_HEX.test(s)) return parseInt(s.slice(2), 16);
    if (INT_OCT.test(s)) return parseInt(s.slice(2), 8);
    if (FLOAT.test(s) || FLOAT_EXP.test(s)) return parseFloat(s);
    if (FLOAT_SPECIAL.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity;
    return s;
  }
  if (BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  return s;
}

function fail(): never {
  throw new Unsupported();
}

function checkStart(tokens: readonly CST.SourceToken[] | undefined, allowed: string): void {
  if (!tokens) return;
  for (const t of tokens) {
    switch (t.type) {
      case 'newline':
      case 'comment':
        break;
      case 'space':
        if (t.source.includes('\t')) fail();
        break;
      default:
        if (!allowed.includes(t.type)) fail();
    }
  }
}

function scalar(tok: CST.FlowScalar | CST.BlockScalar): unknown {
  if (tok.type === 'block-scalar') {
    for (const p of tok.props) if (p.type !== 'block-scalar-header' && p.type !== 'space' && p.type !== 'comment' && p.type !== 'newline') fail();
  }
  let bad = false;
  const r = CST.resolveAsScalar(tok, true, () => {
    bad = true;
  });
  if (bad || !r) fail();
  if (r.type !== 'PLAIN') return r.value;
  if (ambiguous && YAML11_BOOL.test(r.value)) ambiguous.push(tok.offset);
  return plainScalar(r.value);
}

function keyOf(tok: CST.Token | null | undefined): string {
  if (!tok || (tok.type !== 'scalar' && tok.type !== 'single-quoted-scalar' && tok.type !== 'double-quoted-scalar')) fail();
  if (tok.source.includes('\n')) fail();
  const v = scalar(tok);
  if (tok.type === 'scalar' && (tok.source === '<<' || v === null)) fail();
  const k = typeof v === 'string' ? v : String(v);
  if (k === '__proto__') fail();
  return k;
}

function hasNewline(tokens: readonly CST.SourceToken[]): boolean {
  for (const t of tokens) if (t.type === 'newline') return true;
  return false;
}

function value(tok: CST.Token | undefined, depth: number): unknown {
  if (depth > 200) fail();
  if (!tok) return null;
  switch (tok.type) {
    case 'scalar':
    case 'single-quoted-scalar':
    case 'double-quoted-scalar':
    case 'block-scalar':
      return scalar(tok);
    case 'block-map': {
      const out: Record<string, unknown> = {};
      for (const it of tok.items) {
        checkStart(it.start, '');
        if (!it.sep && !it.key && !it.explicitKey) continue; // a comment line inside the map
        if (it.explicitKey || !it.sep) fail();
        if (it.key && 'indent' in it.key && it.key.indent !== tok.indent) fail();
        let ind = false;
        for (const t of it.sep) {
          if (t.type === 'map-value-ind') ind = true;
          else if (t.type !== 'space' && t.type !== 'newline' && t.type !== 'comment') fail();
        }
        if (!ind) fail();
        const k = keyOf(it.key);
        if (Object.prototype.hasOwnProperty.call(out, k)) fail();
        const v = it.value;
        // `a: b: c` and `a: - b` are errors for the composer: a block collection must start on a new line
        if ((v?.type === 'block-map' || v?.type === 'block-seq') && !hasNewline(it.sep)) fail();
        out[k] = value(v, depth + 1);
      }
      return out;
    }
    case 'block-seq': {
      const out: unknown[] = [];
      for (const it of tok.items) {
        checkStart(it.start, 'seq-item-ind');
        if (!it.start.some((t) => t.type === 'seq-item-ind')) {
          if (it.value) fail();
          continue; // a comment line inside the sequence
        }
        out.push(value(it.value, depth + 1));
      }
      return out;
    }
    case 'flow-collection': {
      const isMap = tok.start.source === '{';
      const endTok = tok.end[0];
      if (!endTok || endTok.type !== (isMap ? 'flow-map-end' : 'flow-seq-end')) fail();
      for (const t of tok.end) if (t.type !== endTok.type && t.type !== 'space' && t.type !== 'newline' && t.type !== 'comment') fail();
      const map: Record<string, unknown> = {};
      const seq: unknown[] = [];
      tok.items.forEach((it, i) => {
        let commas = 0;
        for (const t of it.start) {
          if (t.type === 'comma') commas++;
          else if (t.type !== 'space' && t.type !== 'newline' && t.type !== 'comment') fail();
        }
        if (commas !== (i === 0 ? 0 : 1) || (it.key === undefined && it.value === undefined)) fail();
        if (isMap) {
          if (!it.sep || !it.sep.some((t) => t.type === 'map-value-ind')) fail();
          for (const t of it.sep) if (t.type !== 'map-value-ind' && t.type !== 'space' && t.type !== 'newline' && t.type !== 'comment') fail();
          if (it.value?.type === 'block-map' || it.value?.type === 'block-seq') fail();
          const k = keyOf(it.key);
          if (Object.prototype.hasOwnProperty.call(map, k)) fail();
          map[k] = value(it.value, depth + 1);
        } else {
          if (it.key !== undefined || it.sep !== undefined) fail();
          if (it.value?.type === 'block-map' || it.value?.type === 'block-seq') fail();
          seq.push(value(it.value, depth + 1));
        }
      });
      // a trailing comma leaves an empty last item: the composer accepts it
      return isMap ? map : seq;
    }
    default:
      return fail();
  }
}

/**
 * The documents' values, in the order `parseAllDocuments` numbers them; throws `Unsupported`.
 * `ambiguousAt`, when given, receives the offsets of plain yes/no/on/off values (see YAML11_BOOL).
 */
export function fastParse(text: string, ambiguousAt?: number[], ranges?: [number, number][]): unknown[] {
  ambiguous = ambiguousAt;
  try {
    return parseStream(text, ranges);
  } finally {
    ambiguous = undefined;
  }
}

function parseStream(text: string, ranges: [number, number][] | undefined): unknown[] {
  const out: unknown[] = [];
  const bounds: [number, number][] = [];
  for (const tok of new Parser().parse(text)) {
    switch (tok.type) {
      case 'document': {
        if (bounds.length) bounds[bounds.length - 1]![1] = tok.offset;
        bounds.push([tok.offset, text.length]);
        for (const t of tok.start) if (t.type !== 'doc-start' && t.type !== 'space' && t.type !== 'newline' && t.type !== 'comment') fail();
        for (const t of tok.end ?? []) if (t.type !== 'space' && t.type !== 'newline' && t.type !== 'comment') fail();
        out.push(value(tok.value, 0));
        break;
      }
      case 'byte-order-mark':
      case 'space':
      case 'comment':
      case 'newline':
        break;
      case 'doc-end':
        for (const t of tok.end ?? []) if (t.type !== 'space' && t.type !== 'newline' && t.type !== 'comment') fail();
        break;
      default:
        fail();
    }
  }
  if (ranges) ranges.push(...bounds);
  return out;
}
