import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { parseFile, type ManifestDoc } from '../../src/validate/documents.js';
import { lineParse, Unsupported, YAML11_BOOL } from '../../src/validate/line-yaml.js';
import { parseSource } from '../../src/validate/source.js';
import type { Diagnostic } from '../../src/diag/diagnostic.js';

// The line reader must give the `yaml` package's result on every input, or defer to it. A seeded
// generator writes manifests with every feature that matters (tabs, anchors and aliases, multi-line
// scalars, flow style, comments, BOMs, CRLF, several documents), then mutates them.

function seeded(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    // xorshift32: a full period, no bias worth caring about for n << 2^32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

const PLAIN = [
  'app',
  'nginx:1.27',
  '10Gi',
  '50m',
  '0x1F',
  '0o17',
  '017',
  '1e3',
  '1.5',
  '-0',
  '.inf',
  '.NaN',
  '~',
  'null',
  'Null',
  'true',
  'False',
  'yes',
  'on',
  'Off',
  'n',
  'a b',
  'a#b',
  'x:y',
  'http://x',
  '-1',
  '+2',
  "it's",
  'a,b',
  'é',
  'x{{ .KEY }}',
  '${APP}',
  '${CAP:=5Gi}',
  '12:30',
  '2024-01-01',
];
const QUOTED = ['"a\\tb"', '"\\u00e9"', '"x: y"', "'it''s'", '"#"', '"\\x41"', '"yes"', "''", '""', '"a\\\\b"', '"\\/"'];
const KEYS = [
  'name',
  'app.kubernetes.io/name',
  'data',
  'spec',
  'replicas',
  'on',
  'y',
  '"quoted key"',
  "'single'",
  '1',
  '2.0',
  'true',
  'null',
  'a b',
  'key-with-dash',
  '<<',
];

class Gen {
  /** a noisy file may get tabs, odd separators and duplicate keys; a clean one only valid YAML shapes */
  noisy = false;
  /** a plain file has only what most manifests have: what the line reader is for */
  plain = false;

  constructor(private readonly rnd: (n: number) => number) {}

  pick<T>(xs: readonly T[]): T {
    return xs[this.rnd(xs.length)]!;
  }

  comment(): string {
    return this.rnd(6) === 0 ? ` # ${this.pick(['note', 'x: y', '- z', ''])}` : '';
  }

  scalar(ind: string): string {
    if (this.plain) {
      switch (this.rnd(6)) {
        case 0:
          return this.pick(QUOTED);
        case 1:
          return `${this.pick(['|', '|-'])}\n${ind}  line one\n${ind}  ${this.pick(['', '  indented', 'two # not a comment'])}\n${ind}  last`;
        case 2:
          return `{${this.pick(['', 'a: 1', 'a: 1, b: [x, y]', 'a: {b: c}', '"q": yes'])}}`;
        case 3:
          return `[${this.pick(['', '1, 2', 'a, [b, c]', '{a: b}', '"s", \'t\'', 'yes, no'])}]`;
        default:
          return this.pick(PLAIN);
      }
    }
    switch (this.rnd(12)) {
      case 0:
      case 1:
      case 2:
        return this.pick(PLAIN);
      case 3:
        return this.pick(QUOTED);
      case 4:
        return `${this.pick(['|', '|-', '|+', '>', '>-', '|2'])}\n${ind}  line one\n${ind}  ${this.pick(['', '  indented', 'line two # not a comment', '\tafter tab'])}\n${this.rnd(2) ? '\n' : ''}${ind}  last`;
      case 5:
        // multi-line plain and quoted scalars
        return this.pick([`first\n${ind}  second`, `"a\n${ind}  b"`, `'c\n\n${ind}  d'`]);
      case 6:
        return `{${this.pick(['', 'a: 1', 'a: 1, b: [x, y]', 'a: {b: c}', 'a: 1,', '"q": yes', 'x', ...(this.noisy ? ['k: v, k: w', 'a: b: c', '? k : v'] : [])])}}`;
      case 7:
        return `[${this.pick(['', '1, 2', 'a, [b, c]', '{a: b}', 'x,', 'a: b', '"s", \'t\'', 'yes, no', '1,\n' + ind + '  2'])}]`;
      case 8:
        return this.pick(['&a value', '*a', '!!str 1', '!!int "2"', '&b [1, 2]', '!custom x']);
      case 9:
        return '';
      case 10:
        return this.noisy ? this.pick(['a\tb', 'x\t', '"tab\there"']) : this.pick(PLAIN);
      default:
        return String(this.rnd(100000) - 500);
    }
  }

  node(ind: string, depth: number): string {
    const r = this.rnd(depth > 3 ? 2 : 5);
    if (r < 2) return ` ${this.scalar(ind)}${this.comment()}`;
    if (r === 2) return this.map(ind + this.pick(this.noisy ? ['  ', '    ', ' ', '\t', ' \t'] : ['  ', '  ', '    ', ' ']), depth + 1, true);
    return this.seq(ind + this.pick(this.noisy ? ['  ', '', '\t'] : ['  ', '', '  ']), depth + 1);
  }

  map(ind: string, depth: number, nested: boolean): string {
    const lines: string[] = [];
    const n = 1 + this.rnd(4);
    const used = new Set<string>();
    for (let i = 0; i < n; i++) {
      if (this.rnd(8) === 0) lines.push(`${ind}# comment ${i}`);
      if (this.rnd(12) === 0) lines.push('');
      const key = this.pick(this.plain ? KEYS.filter((k) => k !== '<<' && k !== 'null') : KEYS);
      if (!this.noisy && used.has(key)) continue;
      used.add(key);
      const sep = this.pick(this.noisy ? [':', ':\t', ' :', ':  '] : [':', ':', ':  ']);
      lines.push(`${ind}${key}${sep}${this.node(ind, depth)}`);
    }
    return (nested ? '\n' : '') + lines.join('\n');
  }

  seq(ind: string, depth: number): string {
    const lines: string[] = [];
    const n = 1 + this.rnd(3);
    for (let i = 0; i < n; i++) {
      // a map item's keys line up with its first key, two columns after the dash
      if (this.rnd(3) === 0)
        lines.push(`${ind}-${this.noisy ? this.pick([' ', '  ', '\t']) : ' '}${this.map(`${ind}  `, depth + 1, false).replace(/^\s+/, '')}`);
      else lines.push(`${ind}-${this.node(`${ind}  `, depth + 1)}`);
    }
    return `\n${lines.join('\n')}`;
  }

  manifest(): string {
    const kind = this.pick(['ConfigMap', 'Secret', 'Service', 'Namespace']);
    const head = `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: ${this.pick(['a', 'b-1', 'Bad_Name', '"quoted"', '${APP}'])}${this.comment()}\n`;
    return head + this.map('', 1, false) + '\n';
  }

  file(): string {
    const mode = this.rnd(3);
    this.noisy = mode === 0;
    this.plain = mode === 1;
    const docs: string[] = [];
    const n = 1 + this.rnd(4);
    for (let i = 0; i < n; i++) docs.push(this.rnd(10) === 0 ? this.pick(['', '# only a comment\n', 'just a string\n', '- a list\n']) : this.manifest());
    const sep = this.plain ? this.pick(['---\n', '--- # doc\n']) : this.pick(['---\n', '--- # doc\n', '...\n---\n', ...(this.noisy ? ['---'] : [])]);
    let text = (this.rnd(5) === 0 ? this.pick(['---\n', '# header\n', ...(this.plain ? [] : ['%YAML 1.2\n---\n'])]) : '') + docs.join(sep);
    if (!this.plain && this.rnd(5) === 0) text = `\uFEFF${text}`;
    if (!this.plain && this.rnd(5) === 0) text = text.replace(/\n/g, '\r\n');
    if (this.rnd(8) === 0) text = text.trimEnd();
    return text;
  }

  /** small edits where readers tend to disagree: tabs in indentation, lost or doubled characters */
  mutate(text: string): string {
    let t = text;
    for (let m = this.rnd(3); m > 0; m--) {
      const p = this.rnd(t.length + 1);
      switch (this.rnd(5)) {
        case 0: {
          const ls = t.split('\n');
          const i = this.rnd(ls.length);
          ls[i] = ls[i]!.replace(/^( *)/, (s) => (s.length ? `${s.slice(0, -1)}\t` : '\t'));
          t = ls.join('\n');
          break;
        }
        case 1:
          t = t.slice(0, p) + t.slice(p + 1);
          break;
        case 2:
          t = t.slice(0, p) + this.pick([' ', '\t', '\n', ':', '-', '#', '"', "'", '{', ']', ',', '&x ', '*x', '|', '>', '\r']) + t.slice(p);
          break;
        case 3: {
          const ls = t.split('\n');
          ls.splice(this.rnd(ls.length), 0, ls[this.rnd(ls.length)]!);
          t = ls.join('\n');
          break;
        }
        default: {
          const ls = t.split('\n');
          const i = this.rnd(ls.length);
          ls[i] = ' '.repeat(this.rnd(4)) + ls[i]!.trimStart();
          t = ls.join('\n');
        }
      }
    }
    return t;
  }
}

/** what the full path reads: values of the documents without errors, and the yes/no/on/off offsets */
function reference(text: string): { values: unknown[]; errors: number; ambiguous: number[] } {
  const { source, badDocs } = parseSource('x.yaml', text);
  const ambiguous: number[] = [];
  for (const d of source.docs) {
    if (d.errors.length) continue;
    const walk = (n: unknown): void => {
      if (!n || typeof n !== 'object') return;
      const node = n as { type?: string; source?: unknown; range?: number[]; items?: unknown[]; key?: unknown; value?: unknown };
      if (node.type === 'PLAIN' && typeof node.source === 'string' && YAML11_BOOL.test(node.source) && node.range) ambiguous.push(node.range[0]!);
      for (const it of node.items ?? []) walk(it);
      if ('key' in node) walk(node.key);
      if ('value' in node && typeof node.value === 'object') walk(node.value);
    };
    walk(d.contents);
  }
  let errors = source.docs.reduce((n, d, i) => n + d.errors.length + (badDocs.has(i) ? 1 : 0), 0);
  const values = source.docs.map((d) => {
    if (d.errors.length) return undefined;
    try {
      return d.toJS({ maxAliasCount: 100 });
    } catch {
      errors++; // an alias before its anchor: Castle reports it as a YAML error
      return undefined;
    }
  });
  return { values, errors, ambiguous: ambiguous.sort((a, b) => a - b) };
}

export /** every path to a value inside v */
function paths(v: unknown, base: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push([...base, i], ...paths(x, [...base, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([...base, k], ...paths(x, [...base, k]));
  return out;
}

function corpus(seed: number, n: number): string[] {
  const g = new Gen(seeded(seed));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = g.file();
    out.push(i % 3 === 0 ? g.mutate(t) : t);
  }
  return out;
}

const SEED = 20261201;
const SIZE = 3000;

/**
 * Reads `text` with the yaml package only, and with the line reader (each document read again for its positions, and
 * with them recorded in the one read of the file): the same diagnostics, objects, and location of every path of each
 * object and of `extra` paths (a missing child, a path through a scalar). Returns how many objects and paths it compared.
 */
function sameWithLineReader(text: string, extra: (string | number)[][]): { objects: number; paths: number } {
  const run = (fastYaml: boolean, track = false): { diags: Diagnostic[]; docs: ManifestDoc[] } => {
    const diags: Diagnostic[] = [];
    return { docs: parseFile({ file: 'x.yaml', text }, diags, { fastYaml, track }), diags };
  };
  const why = JSON.stringify(text);
  const b = run(false);
  let objects = 0;
  let located = 0;
  for (const a of [run(true), run(true, true)]) {
    assert.deepEqual(a.diags, b.diags, `diagnostics differ on ${why}`);
    assert.equal(a.docs.length, b.docs.length, why);
    a.docs.forEach((d, i) => {
      const e = b.docs[i]!;
      assert.ok(isDeepStrictEqual(d.value, e.value), `object ${i} differs on ${why}`);
      for (const path of [...paths(d.value), ...extra]) {
        for (const key of [false, true])
          assert.deepEqual(d.pos.locate(path, key), e.pos.locate(path, key), `location of ${JSON.stringify(path)} (key: ${key}) differs on ${why}`);
        located++;
      }
      objects++;
    });
  }
  return { objects, paths: located };
}

describe('line reader against the yaml package (differential, seeded)', () => {
  it(`reads ${SIZE} generated files as yaml does, or defers to yaml`, () => {
    let fast = 0;
    let deferred = 0;
    let yamlErrors = 0;
    let tabs = 0;
    for (const text of corpus(SEED, SIZE)) {
      const ref = reference(text);
      if (ref.errors) yamlErrors++;
      if (/^ *\t/m.test(text)) tabs++;
      const ambiguous: number[] = [];
      const ranges: [number, number][] = [];
      let values: unknown[];
      try {
        values = lineParse(text, ambiguous, ranges);
      } catch (e) {
        assert.ok(e instanceof Unsupported || e instanceof RangeError, `unexpected ${String(e)} on ${JSON.stringify(text)}`);
        deferred++;
        continue;
      }
      fast++;
      const why = JSON.stringify(text);
      assert.equal(ref.errors, 0, `the line reader accepted what yaml rejects: ${why}`);
      assert.ok(isDeepStrictEqual(values, ref.values), `values differ on ${why}: ${JSON.stringify(values)} vs ${JSON.stringify(ref.values)}`);
      assert.deepEqual(
        [...ambiguous].sort((a, b) => a - b),
        ref.ambiguous,
        `yes/no/on/off offsets differ on ${why}`,
      );
      // each document's range, parsed alone, is that document: what locations rely on
      assert.equal(ranges.length, values.length);
      ranges.forEach((r, i) => {
        const alone = parseAllDocuments(text.slice(r[0], r[1]));
        const docs = Array.isArray(alone) ? alone : [];
        assert.ok(
          isDeepStrictEqual(
            docs.map((d) => d.toJS()),
            [values[i]],
          ) ||
            (values[i] === null && docs.length === 0),
          `document ${i} alone differs on ${why}`,
        );
      });
    }
    console.log(
      `differential: ${SIZE} files, ${fast} read by the line reader, ${deferred} deferred to yaml (${yamlErrors} with yaml errors, ${tabs} with a tab in indentation)`,
    );
    assert.ok(
      fast > 400 && deferred > 1000 && yamlErrors > 500 && tabs > 500,
      `corpus too narrow: fast ${fast}, deferred ${deferred}, errors ${yamlErrors}, tabs ${tabs}`,
    );
  });

  it('gives the same diagnostics, objects and locations with and without the line reader, positions recorded or not', () => {
    let compared = 0;
    let located = 0;
    for (const text of corpus(SEED + 1, 1500)) {
      const c = sameWithLineReader(text, [
        ['metadata', 'name'],
        ['spec', 'missing', 0],
        ['apiVersion', 'x'],
      ]);
      compared += c.objects;
      located += c.paths;
    }
    assert.ok(compared > 1200 && located > 20_000, `only ${compared} objects, ${located} paths compared`);
  });

  it('reads the edge cases of its fast paths as yaml does: whitespace after a colon or dash, null and boolean words, documents of different lengths, nested flow collections', () => {
    const head = 'apiVersion: v1\nkind: ConfigMap\n';
    const words = [
      '~',
      'null',
      'Null',
      'NULL',
      'nULL',
      'nulls',
      'n',
      'N',
      'no',
      'No',
      'NO',
      'nO',
      'on',
      'oN',
      'ON',
      'off',
      'Off',
      'OFF',
      'oFF',
      'y',
      'Y',
      'yes',
      'Yes',
      'YES',
      'yES',
      'yesno',
      'true',
      'True',
      'TRUE',
      'tRUE',
      'false',
      'False',
      'FALSE',
      'f',
      't',
      'F',
      'onoff',
      'o',
      'nope',
      '0',
      '-1',
      '.5',
    ];
    const texts = [
      // each word as a block value, a flow value, a key and a list item
      ...words.map((w) => `${head}data:\n  v: ${w}\n  f: {a: ${w}, b: [${w}]}\n  ${w}: x\n  l:\n    - ${w}\n`),
      // whitespace after a colon or a dash that is not a space: trimStart's set, which the reader must skip exactly as yaml reads it
      ...['\u00a0', '\u2000', '\u3000', '\ufeff', '\u000b', '\u000c', '\u0085', '\u2028'].flatMap((ws) => [
        `${head}data:\n  a:${ws}b\n`,
        `${head}data:\n  a: ${ws}b\n`,
        `${head}data:\n  a: ${ws}\n  c: d\n`,
        `${head}data:\n  l:\n    - ${ws}x\n    -${ws}y\n`,
        `${head}data:\n  l:\n  - ${ws}k: v\n`,
      ]),
      '${head}data:\n  a: \n  b: #c\n  c:   # c\n    d: e\n'.replace('${head}', head),
      // a long document, then shorter ones (the lines of each document reuse the objects of the one before)
      `${head}data:\n  a: "1"\n  b: |\n    l1\n    l2\n  c: {x: [1, 2]}\n---\n${head}data: {z: "9"}\n---\n${head}\n---\n${head}data:\n  s: |+\n    keep\n\n`,
      `${head}data: {}\n---\n${head}data:\n  a: b\n  c:\n    - d\n    - e: f\n      g: [h, {i: j}]\n`,
      // the last document is the one the reader defers: the whole file goes to yaml
      `${head}data: {a: b}\n---\n${head}data:\n  a: &x b\n  c: *x\n`,
      `${head}data:\n  a: b\n---\n${head}data:\n  a: b\n  a: c\n`,
      // flow collections, empty and nested, inside block ones: their positions are recorded on one stack
      `${head}data:\n  a: {b: [1, {c: d}], e: [], f: {}}\n  g: [{}, [], [[x]], {h: {i: [j]}}]\nitems:\n  - {a: 1}\n  - [x, y]\n  - - z\n    - {w: [v]}\n`,
    ];
    let fast = 0;
    let located = 0;
    for (const text of texts) {
      const why = JSON.stringify(text);
      const ref = reference(text);
      let values: unknown[] | undefined;
      const ambiguous: number[] = [];
      try {
        values = lineParse(text, ambiguous);
      } catch (e) {
        assert.ok(e instanceof Unsupported, `unexpected ${String(e)} on ${why}`);
      }
      if (values) {
        fast++;
        assert.equal(ref.errors, 0, `the line reader accepted what yaml rejects: ${why}`);
        assert.ok(isDeepStrictEqual(values, ref.values), `values differ on ${why}: ${JSON.stringify(values)} vs ${JSON.stringify(ref.values)}`);
        assert.deepEqual(
          ambiguous.sort((x, y) => x - y),
          ref.ambiguous,
          `yes/no/on/off offsets differ on ${why}`,
        );
      }
      located += sameWithLineReader(text, [['data', 'missing']]).paths;
    }
    // most of these must be read by the line reader itself, or the test says nothing about it
    assert.ok(fast >= 30 && located > 1000, `only ${fast} files read by the line reader, ${located} paths located`);
  });

  it('refuses a tab used as indentation, as yaml and kubectl do', () => {
    for (const text of [
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n\tdata:\n  a: b\n',
      'a:\n  \tb: c\n',
    ]) {
      assert.throws(() => lineParse(text), Unsupported);
      const diags: Diagnostic[] = [];
      assert.deepEqual(parseFile({ file: 't.yaml', text }, diags), []);
      assert.deepEqual(
        diags.map((d) => [d.rule, d.message]),
        [['yaml/syntax', 'Tabs are not allowed as indentation']],
      );
    }
  });
});
