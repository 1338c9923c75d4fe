/**
 * Hand-written beside the `yaml` package because it reads plain manifests several times faster, end
 * to end through the CLI (`npm run bench -- validate`, CPU time on 2 shared cores): the homelab tree
 * copied 100 times (3,700 documents) in 1.42-1.69 s against 2.38 s with `yaml` alone (1.4-1.7x), and
 * 10,000 clean PostgresClusters and ExternalSecrets in 1.72 s against 7.54-7.66 s (4.4x).
 * It reads the plain shape most manifests have (block maps and sequences, one-line scalars and flow
 * collections, literal block scalars). Anything else (tabs, CR, a BOM or other whitespace than spaces,
 * anchors, tags, folded or multi-line scalars, odd indentation, duplicate keys) throws `Unsupported`, and the caller reads the
 * file with the `yaml` package, which also reports errors. test/validate/yaml-differential.test.ts
 * holds it to the `yaml` package's values on a seeded generated corpus.
 */

import { flat } from './heap.js';

/** thrown where the line reader does not read a file: the caller reads it with the `yaml` package */
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

/** YAML11_BOOL.test, its regular expression run only on the strings short enough and starting with y, n or o */
function yaml11Bool(s: string): boolean {
  if (s.length > 3) return false;
  const c = s.charCodeAt(0) | 32;
  return (c === 121 || c === 110 || c === 111) && YAML11_BOOL.test(s);
}

/** YAML 1.2 core schema resolution of a plain scalar, as the `yaml` library does it */
export function plainScalar(s: string): unknown {
  const c = s.charCodeAt(0);
  // only an empty string, `~` and words that start with n, N, t, T, f or F can be null or a boolean
  if (s === '' || c === 126 || c === 110 || c === 78) {
    if (NULL.test(s)) return null;
  }
  // only strings that start like a number or a keyword can resolve to anything but a string
  if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46) {
    if (INT.test(s)) return Number(s);
    if (INT_HEX.test(s)) return parseInt(s.slice(2), 16);
    if (INT_OCT.test(s)) return parseInt(s.slice(2), 8);
    if (FLOAT.test(s) || FLOAT_EXP.test(s)) return parseFloat(s);
    if (FLOAT_SPECIAL.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity;
    return s;
  }
  if ((c === 116 || c === 84 || c === 102 || c === 70) && BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  return s;
}

/**
 * The positions of a map's or list's children, recorded when the reader is asked to: its entries in
 * order as [key, key start, key end, value start, value end, the child's own Entries or 0] (key start
 * -1: no key, a list item; a block value's end is END), flat: a file with findings records one per
 * value, and a Map entry, a span object and two tuples per value made the tracked read of 20 files of the bench's findings corpus,
 * with one locate per document, take 296-339 ms against 111-165 ms (best of 15 passes, 2 shared cores).
 * A tree walked beside the value rather than a Map keyed by each container: the Map's inserts and
 * rehashes were 20 of the 450 MB a pass over the 10,000-document findings corpus allocated.
 */
export type Entries = (string | number | Entries)[];

/** what one entry of Entries takes */
export const STRIDE = 6;

/**
 * The entries being recorded, on one stack: an open map's or list's entries sit above its parent's
 * (a child ends before its parent records the entry that holds it), and a container that ends takes
 * its own off as an array of their exact size. Arrays grown by push, one per container, were 42 of
 * the 357 MB a pass over the findings corpus allocated.
 */
class Scratch {
  readonly #a: (string | number | Entries)[] = [];
  top = 0;

  add(key: string | number, keyStart: number, keyEnd: number, start: number, end: number, child: Entries | 0): void {
    const a = this.#a;
    let t = this.top;
    a[t++] = key;
    a[t++] = keyStart;
    a[t++] = keyEnd;
    a[t++] = start;
    a[t++] = end;
    a[t++] = child;
    this.top = t;
  }

  /** the entries recorded since `base`, taken off the stack */
  take(base: number): Entries {
    const e = this.#a.slice(base, this.top);
    this.top = base;
    return e;
  }
}

/** the end of a value that runs over several lines: its location is underlined to the end of its first line (a small integer, stored unboxed) */
export const END = 2 ** 30 - 1;

interface Line {
  /** offset of the line's first character in the text */
  start: number;
  indent: number;
  /** the line from its indentation on, trailing spaces trimmed */
  text: string;
  /** the same, untrimmed: literal block scalars keep trailing spaces */
  full: string;
}

// regular expressions the reader runs per key or value, made once: a literal in a function is a new RegExp each time it runs
const QUOTE_OR_FLOW_START = /^["'[{]/;
const FLOW_OR_COMMENT = /[#,[\]{}]/;
/**
 * What JavaScript's trim functions take beside spaces and newlines (tabs and CR are refused already):
 * YAML reads these as content (\`a: \u00a0b\` is " b"), so a file that holds one is left to the \`yaml\` package.
 */
const OTHER_WHITESPACE = /[\v\f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;
const FLOW_PLAIN_FORBIDDEN_START = /^[&*!%@`?|>"'#-]/;

function fail(): never {
  throw new Unsupported();
}

const SEPARATOR = /^---(?:[ ]+(?:#.*)?)?$/;
const FORBIDDEN_START = /^[&*!%@`?|>\]}]|^[-:,](?:[ ]|$)/;

class Reader {
  i = 0;
  /** where the value last read by inline() ends */
  end = 0;
  /** where the value last read by block() starts (and, when it is null, ends) */
  start = 0;
  constructor(
    readonly lines: readonly Line[],
    /** the lines of this document: the first `count` of \`lines\` */
    readonly count: number,
    readonly ambiguous: number[] | undefined,
    readonly scratch: Scratch | undefined,
  ) {}

  /** the entries of the map or list last read (when tracking): its parent takes them right after */
  entries: Entries | 0 = 0;

  /** the entries of `v`, just read: a map's or list's, else 0 */
  #childEntries(v: unknown): Entries | 0 {
    return typeof v === 'object' && v !== null ? this.entries : 0;
  }

  /** next line with content, skipping blank and comment lines */
  peek(): Line | undefined {
    while (this.i < this.count) {
      const l = this.lines[this.i]!;
      if (l.text === '' || l.text.startsWith('#')) this.i++;
      else return l;
    }
    return undefined;
  }

  /** `nullAt`: where a null value is placed (after the key's colon or the dash, and the spaces after it) */
  block(minIndent: number, depth: number, nullAt = 0): unknown {
    const l = this.peek();
    this.start = nullAt;
    if (!l || l.indent < minIndent) return null;
    if (depth > 100) fail();
    let v: unknown;
    if (isSeqItem(l.text)) v = this.seq(l.indent, depth);
    else if (keyEnd(l.text) !== -1) v = this.map(l.indent, undefined, depth);
    // a multi-line or indented bare scalar: left to the \`yaml\` package
    else return fail();
    // set after the children's reads, which set it too
    this.start = l.start;
    return v;
  }

  seq(indent: number, depth: number): unknown[] {
    const out: unknown[] = [];
    const base = this.scratch?.top ?? 0;
    for (let l = this.peek(); l && l.indent === indent && isSeqItem(l.text); l = this.peek()) {
      this.i++;
      // the item's text after the dash and its spaces, sliced once
      const from = afterSpaces(l.text, 1);
      const spaces = from - 1;
      if (from === l.text.length || l.text.charCodeAt(from) === 35) {
        const v = this.block(indent + 1, depth + 1, l.start + afterSpaces(l.full, 1));
        this.scratch?.add(out.length, -1, -1, this.start, v === null ? this.start : END, this.#childEntries(v));
        out.push(v);
        continue;
      }
      const body = l.text.slice(from);
      const col = indent + 1 + spaces;
      const at = l.start + (col - l.indent);
      if (isSeqItem(body)) fail();
      if (keyEnd(body) !== -1 && !QUOTE_OR_FLOW_START.test(body)) {
        const m = this.map(col, { start: at, indent: col, text: body, full: l.full === l.text ? body : l.full.slice(col - l.indent) }, depth + 1);
        this.scratch?.add(out.length, -1, -1, at, END, this.entries);
        out.push(m);
        continue;
      }
      const v = this.inline(body, at, indent, depth);
      this.scratch?.add(out.length, -1, -1, at, this.end, this.#childEntries(v));
      out.push(v);
    }
    if (this.scratch) this.entries = this.scratch.take(base);
    return out;
  }

  map(indent: number, first: Line | undefined, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const base = this.scratch?.top ?? 0;
    let l: Line | undefined = first;
    if (!l) l = this.peek();
    while (l && l.indent === indent && !isSeqItem(l.text)) {
      if (l !== first) this.i++;
      const end = keyEnd(l.text);
      if (end === -1) fail();
      const key = knownKey(l.text, end) ?? this.key(l.text.slice(0, end), l.start);
      // the own-property check only when the key reads as something: most keys are new
      if (out[key] !== undefined && Object.prototype.hasOwnProperty.call(out, key)) fail();
      // where the value starts, without slicing the rest twice (spaces are the only whitespace in a file read here)
      const text = l.text;
      const from = afterSpaces(text, end + 1);
      if (from === text.length || text.charCodeAt(from) === 35) {
        if (from < text.length && from === end + 1) fail();
        const next = this.peek();
        // a block sequence may sit at its key's indentation
        if (next && next.indent === indent && isSeqItem(next.text)) {
          const v = this.seq(indent, depth + 1);
          this.scratch?.add(key, l.start, l.start + end, next.start, END, this.entries);
          out[key] = v;
        } else {
          const v = this.block(indent + 1, depth + 1, l.start + afterSpaces(l.full, end + 1));
          this.scratch?.add(key, l.start, l.start + end, this.start, v === null ? this.start : END, this.#childEntries(v));
          out[key] = v;
        }
      } else {
        if (from === end + 1) fail();
        const at = l.start + from;
        const v = this.inline(text.slice(from), at, indent, depth);
        out[key] = v;
        this.scratch?.add(key, l.start, l.start + end, at, this.end, this.#childEntries(v));
      }
      l = this.peek();
    }
    if (this.scratch) this.entries = this.scratch.take(base);
    return out;
  }

  key(raw: string, at: number): string {
    const k = raw.trimEnd();
    if (k === '' || k !== raw) fail();
    let v: unknown;
    if (k[0] === '"' || k[0] === "'") {
      const q = quoted(k, 0);
      if (q.end !== k.length) fail();
      v = q.value;
    } else {
      if (FORBIDDEN_START.test(k) || FLOW_OR_COMMENT.test(k) || k === '<<') fail();
      if (this.ambiguous && yaml11Bool(k)) this.ambiguous.push(at);
      v = plainScalar(k);
      if (v === null) fail();
    }
    const s = typeof v === 'string' ? v : String(v);
    if (s === '__proto__') fail();
    // a plain key that reads as itself (most keys) is the same key wherever it is written; not `on` and the like, which are reported where they are
    if (s === raw && !yaml11Bool(k)) rememberKey(s);
    return s;
  }

  /** a value that starts on its key's (or dash's) line */
  inline(text: string, at: number, parentIndent: number, depth: number): unknown {
    const c = text[0];
    if (c === '|') {
      this.end = END;
      return this.literal(text, parentIndent);
    }
    if (c === '[' || c === '{') {
      const f = new Flow(text, at, this.ambiguous, this.scratch);
      const v = f.value(depth);
      this.entries = f.entries;
      this.end = at + f.i;
      f.end();
      this.noContinuation(parentIndent);
      return v;
    }
    if (c === '"' || c === "'") {
      const q = quoted(text, 0);
      trailing(text.slice(q.end));
      this.noContinuation(parentIndent);
      this.end = at + q.end;
      return q.value;
    }
    const plain = plainText(text);
    const v = plainValue(plain, at, this.ambiguous);
    this.end = at + plain.length;
    this.noContinuation(parentIndent);
    return v;
  }

  /** a more-indented line right after a one-line value would continue it: not this tier's job */
  noContinuation(parentIndent: number): void {
    const n = this.peek();
    if (n && n.indent > parentIndent) fail();
  }

  literal(header: string, parentIndent: number): string {
    const m = /^\|([-+]?)(?:[ ]+#.*|[ ]*)$/.exec(header);
    if (!m) fail();
    const chomp = m[1];
    const body: string[] = [];
    let indent = -1;
    while (this.i < this.count) {
      const l = this.lines[this.i]!;
      if (l.text === '') {
        // whitespace-only lines more indented than the content keep their spaces: other tiers
        if (indent !== -1 && l.indent > indent) fail();
        if (indent === -1 && l.indent > 0) fail();
        body.push('');
        this.i++;
        continue;
      }
      if (indent === -1) {
        if (l.indent <= parentIndent) break;
        indent = l.indent;
      }
      if (l.indent < indent) break;
      body.push(' '.repeat(l.indent - indent) + l.full);
      this.i++;
    }
    if (indent !== -1) {
      // the block ends at a less indented line: it must belong to an enclosing structure
      const n = this.peek();
      if (n && n.indent > parentIndent) fail();
    }
    // trailing blank lines belong to the chomping, not to the content
    let last = body.length;
    while (last > 0 && body[last - 1] === '') last--;
    const content = body.slice(0, last);
    // blank lines kept by `+` may have been comment-free: a trailing `# x` line at lower indent ends it
    if (content.length === 0) return chomp === '+' ? '\n'.repeat(body.length) : '';
    const text = content.join('\n');
    switch (chomp) {
      case '-':
        return text;
      case '+':
        return `${text}\n${'\n'.repeat(body.length - last)}`;
      default:
        return `${text}\n`;
    }
  }
}

/**
 * Plain keys read before, by length and first character, for the thread: the keys of a tree repeat
 * (apiVersion, metadata, name), and a key found here costs no slice, no checks, and no lookup of a new
 * string in V8's table of property names (else the duplicate-key check is the block map reader's most
 * costly line). At most KEYS_PER_SLOT of each, so a lookup compares a few strings at most; each a flat
 * copy, which keeps no file's text in memory.
 */
const KEYS: (string[] | undefined)[] = [];
const KEYS_PER_SLOT = 16;

/** where keys of this length and first character are kept */
function slot(length: number, first: number): number {
  return length * 128 + (first & 127);
}

/** the key `t` starts with, `end` characters long (its colon at `end`), when it was read before */
function knownKey(t: string, end: number): string | undefined {
  const list = KEYS[slot(end, t.charCodeAt(0))];
  if (list !== undefined) for (let i = 0; i < list.length; i++) if (t.startsWith(list[i]!)) return list[i];
  return undefined;
}

function rememberKey(k: string): void {
  const list = (KEYS[slot(k.length, k.charCodeAt(0))] ??= []);
  if (list.length < KEYS_PER_SLOT) list.push(flat(k));
}

/** `from` plus the spaces at `from` in `s` */
function afterSpaces(s: string, from: number): number {
  let p = from;
  while (s.charCodeAt(p) === 32) p++;
  return p;
}

/** a one-line plain value: up to a ` #` comment, trailing spaces trimmed */
function plainText(text: string): string {
  const hash = text.indexOf(' #');
  return (hash === -1 ? text : text.slice(0, hash)).trimEnd();
}

function isSeqItem(t: string): boolean {
  return t === '-' || t.startsWith('- ');
}

/** index of the `:` that ends a block mapping key, or -1 */
function keyEnd(t: string): number {
  if (t[0] === '"' || t[0] === "'") {
    let q: { end: number };
    try {
      q = quoted(t, 0);
    } catch {
      return -1;
    }
    return t[q.end] === ':' && (q.end + 1 === t.length || t[q.end + 1] === ' ') ? q.end : -1;
  }
  for (let i = 0; i < t.length; i++) {
    const ch = t.charCodeAt(i);
    // `#` after a space, `:` before a space or the end
    if (ch === 35 && i > 0 && t.charCodeAt(i - 1) === 32) return -1;
    if (ch === 58 && (i + 1 === t.length || t.charCodeAt(i + 1) === 32)) return i;
  }
  return -1;
}

function trailing(rest: string): void {
  const r = rest.trimStart();
  if (r === '') return;
  if (r.startsWith('#') && r.length < rest.length) return;
  fail();
}

const ESCAPES: Record<string, string> = {
  '\\': '\\',
  '"': '"',
  '/': '/',
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  b: '\b',
  f: '\f',
  e: '\x1b',
  a: '\x07',
  v: '\v',
  ' ': ' ',
  N: '\x85',
  _: '\xa0',
  L: '\u2028',
  P: '\u2029',
  '\t': '\t',
};

/** a one-line quoted scalar starting at `i` */
function quoted(t: string, i: number): { value: string; end: number } {
  const q = t[i];
  let out = '';
  let j = i + 1;
  while (j < t.length) {
    const ch = t[j]!;
    if (q === "'") {
      if (ch === "'") {
        if (t[j + 1] === "'") {
          out += "'";
          j += 2;
          continue;
        }
        return { value: out, end: j + 1 };
      }
      out += ch;
      j++;
      continue;
    }
    if (ch === '"') return { value: out, end: j + 1 };
    if (ch === '\\') {
      const e = t[j + 1];
      if (e === undefined) fail();
      if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = t.slice(j + 2, j + 2 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail();
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail();
        out += String.fromCodePoint(cp);
        j += 2 + n;
        continue;
      }
      const r = ESCAPES[e];
      if (r === undefined) fail();
      out += r;
      j += 2;
      continue;
    }
    out += ch;
    j++;
  }
  return fail();
}

/** `v`: the value's text, as plainText cuts it */
function plainValue(v: string, at: number, ambiguous: number[] | undefined): unknown {
  if (v === '' || FORBIDDEN_START.test(v) || v.includes(': ') || v.endsWith(':') || v.includes('\t')) fail();
  if (ambiguous && yaml11Bool(v)) ambiguous.push(at);
  return plainScalar(v);
}

/** `[a, {b: c}]` and `{k: v}` on one line */
class Flow {
  i = 0;
  constructor(
    readonly t: string,
    readonly at: number,
    readonly ambiguous: number[] | undefined,
    readonly scratch: Scratch | undefined,
  ) {}

  /** as Reader.entries */
  entries: Entries | 0 = 0;

  ws(): void {
    while (this.t.charCodeAt(this.i) === 32) this.i++;
  }

  /** [spanStart, spanEnd) of the value value() last returned, in the file (two numbers: a tuple per value was a tenth of the reader's garbage) */
  spanStart = 0;
  spanEnd = 0;

  value(depth: number): unknown {
    if (depth > 100) fail();
    this.ws();
    const start = this.i;
    const c = this.t[this.i];
    let v: unknown;
    if (c === '[') v = this.seq(depth);
    else if (c === '{') v = this.map(depth);
    else if (c === '"' || c === "'") {
      const q = quoted(this.t, this.i);
      this.i = q.end;
      v = q.value;
    } else {
      v = this.plain();
      this.spanStart = this.at + start;
      return v;
    }
    this.spanStart = this.at + start;
    this.spanEnd = this.at + this.i;
    return v;
  }

  plain(): unknown {
    const start = this.i;
    const t = this.t;
    while (this.i < t.length) {
      const ch = t.charCodeAt(this.i);
      // , ] } [ {
      if (ch === 44 || ch === 93 || ch === 125 || ch === 91 || ch === 123) break;
      if (ch === 58) {
        // `:` before a space, , ] } or the end
        const next = this.i + 1 < t.length ? t.charCodeAt(this.i + 1) : -1;
        if (next === 32 || next === 44 || next === 93 || next === 125 || next === -1) break;
      }
      // `#` after a space
      if (ch === 35 && t.charCodeAt(this.i - 1) === 32) fail();
      this.i++;
    }
    const v = this.t.slice(start, this.i).trimEnd();
    this.spanStart = this.at + start;
    this.spanEnd = this.at + start + v.length;
    if (v === '' || FLOW_PLAIN_FORBIDDEN_START.test(v) || v.includes('\t')) fail();
    if (this.ambiguous && yaml11Bool(v)) this.ambiguous.push(this.at + start);
    return plainScalar(v);
  }

  seq(depth: number): unknown[] {
    this.i++;
    const out: unknown[] = [];
    const base = this.scratch?.top ?? 0;
    this.ws();
    if (this.t[this.i] === ']') {
      this.i++;
      if (this.scratch) this.entries = this.scratch.take(base);
      return out;
    }
    for (;;) {
      const v = this.value(depth + 1);
      this.scratch?.add(out.length, -1, -1, this.spanStart, this.spanEnd, typeof v === 'object' && v !== null ? this.entries : 0);
      this.ws();
      if (this.t[this.i] === ':') fail();
      out.push(v);
      const c = this.t[this.i];
      this.i++;
      if (c === ']') {
        if (this.scratch) this.entries = this.scratch.take(base);
        return out;
      }
      if (c !== ',') fail();
      this.ws();
      if (this.t[this.i] === ']' || this.t[this.i] === ',') fail();
    }
  }

  map(depth: number): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    const base = this.scratch?.top ?? 0;
    this.ws();
    if (this.t[this.i] === '}') {
      this.i++;
      if (this.scratch) this.entries = this.scratch.take(base);
      return out;
    }
    for (;;) {
      this.ws();
      const kc = this.t[this.i];
      if (kc === '[' || kc === '{') fail();
      const k = this.value(depth + 1);
      const kStartAt = this.spanStart;
      const kEndAt = this.spanEnd;
      // `<<`, plain or quoted, reads as the string "<<"
      if (k === null || (typeof k === 'string' && (k === '__proto__' || k === '<<'))) fail();
      const key = typeof k === 'string' ? k : String(k);
      if (Object.prototype.hasOwnProperty.call(out, key)) fail();
      this.ws();
      if (this.t[this.i] !== ':' || this.t[this.i + 1] !== ' ') fail();
      this.i++;
      const v = this.value(depth + 1);
      this.scratch?.add(key, kStartAt, kEndAt, this.spanStart, this.spanEnd, typeof v === 'object' && v !== null ? this.entries : 0);
      out[key] = v;
      this.ws();
      const c = this.t[this.i];
      this.i++;
      if (c === '}') {
        if (this.scratch) this.entries = this.scratch.take(base);
        return out;
      }
      if (c !== ',') fail();
      this.ws();
      if (this.t[this.i] === '}' || this.t[this.i] === ',') fail();
    }
  }

  end(): void {
    trailing(this.t.slice(this.i));
  }
}

/** Each document's Root, in order (lineParse). */
export interface Positions {
  readonly roots: (Root | undefined)[];
}

/** where a document's value sits ([start, end]), and the Entries of its children when it is a map or a list */
export type Root = readonly [number, number, Entries | 0];

/**
 * Takes each document as soon as it is read: its value, its [start, end) in the text, and (with
 * `track`) where its values are. A caller that checks each document as it comes holds one document's
 * values at a time, so they die young instead of surviving the young-generation collections that a
 * whole file's values live through.
 */
export type DocVisitor = (value: unknown, start: number, end: number, root: Root | undefined) => void;

/**
 * `ranges`, when given, receives each document's [start, end) offsets in the text; `positions`,
 * when given, where every value is (only asked for documents that have a finding).
 */
export function lineParse(text: string, ambiguous?: number[], ranges?: [number, number][], positions?: Positions): unknown[] {
  const out: unknown[] = [];
  lineRead(
    text,
    (value, start, end, root) => {
      out.push(value);
      ranges?.push([start, end]);
      positions?.roots.push(root);
    },
    ambiguous,
    positions !== undefined,
  );
  return out;
}

/**
 * Reads `text` a document at a time, giving each to `visit`. Throws Unsupported where it does not
 * read the text, possibly after some documents were visited (a caller then reads the whole text again
 * with the `yaml` package); `ambiguous` receives, before a document is visited, where its YAML 1.1
 * booleans are.
 */
export function lineRead(text: string, visit: DocVisitor, ambiguous?: number[], track = false): void {
  if (text.charCodeAt(0) === 0xfeff || text.includes('\t') || text.includes('\r') || OTHER_WHITESPACE.test(text)) fail();
  const scratch = track ? new Scratch() : undefined;
  // one document's lines at a time, in Line objects used again for each document: an object per line was 22 of the 334 MB a findings pass allocated
  const pool: Line[] = [];
  let count = 0;
  let current = false;
  let docStart = 0;
  const add = (start: number, indent: number, text: string, full: string): void => {
    const l = pool[count];
    if (l === undefined) pool.push({ start, indent, text, full });
    else {
      l.start = start;
      l.indent = indent;
      l.text = text;
      l.full = full;
    }
    count++;
  };
  let start = 0;
  while (start <= text.length) {
    // the empty rest after a final newline is no line (a `|+` block would keep it as one)
    if (start === text.length && start > 0) break;
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let indent = 0;
    while (start + indent < end && text.charCodeAt(start + indent) === 32) indent++;
    // the line from its indentation on, one slice per line
    const full = text.slice(start + indent, end);
    const body = full.trimEnd();
    if (indent === 0 && full.startsWith('---') && (full.length === 3 || full[3] === ' ' || full[3] === '\t')) {
      if (!SEPARATOR.test(full)) fail();
      // each document read as soon as its lines are known
      if (current) readDocument(pool, count, ambiguous, scratch, visit, docStart, start);
      current = true;
      count = 0;
      docStart = start;
    } else if (indent === 0 && full.startsWith('...')) {
      fail();
    } else if (body !== '' && !body.startsWith('#')) {
      if (indent === 0 && body.startsWith('%')) fail();
      if (!current) {
        current = true;
        count = 0;
        docStart = start;
      }
      add(start + indent, indent, body, full);
    } else if (current) {
      add(start + indent, indent, body.startsWith('#') ? body : '', body.startsWith('#') ? full : '');
    }
    if (end === text.length) break;
    start = end + 1;
  }
  if (current) readDocument(pool, count, ambiguous, scratch, visit, docStart, text.length);
}

/** one document's value, from its lines, given to `visit` */
function readDocument(
  lines: readonly Line[],
  count: number,
  ambiguous: number[] | undefined,
  scratch: Scratch | undefined,
  visit: DocVisitor,
  start: number,
  end: number,
): void {
  const r = new Reader(lines, count, ambiguous, scratch);
  const first = r.peek();
  let v: unknown = null;
  let root: Root = [0, 0, 0];
  if (first) {
    if (first.indent !== 0) fail();
    if (isSeqItem(first.text) || keyEnd(first.text) !== -1) {
      v = r.block(0, 0);
      root = [first.start, END, scratch && typeof v === 'object' && v !== null ? r.entries : 0];
    } else {
      r.i++;
      v = r.inline(first.text, first.start, -1, 0);
      root = [first.start, r.end, scratch && typeof v === 'object' && v !== null ? r.entries : 0];
    }
  }
  if (r.peek()) fail();
  visit(v, start, end, scratch ? root : undefined);
}
