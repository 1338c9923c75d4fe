import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { isDeepStrictEqual } from 'node:util';
import { validateManifests } from '../../src/validate/index.js';
import { lineParse, Unsupported } from '../../src/validate/line-yaml.js';
import { cleanup, crdCache, FIXTURES, tempDir, validateTexts } from './helpers.js';

// Acceptance: invalid YAML, YAML bombs, huge files, binary files, duplicate keys, unknown kinds:
// a diagnostic with a location each, no crash, bounded memory.

const BOMB = `apiVersion: v1
kind: ConfigMap
metadata: {name: bomb}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`;

function seeded(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
}

function fixtureTexts(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.yaml')) out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(FIXTURES);
  return out.sort();
}

const FRAGMENTS = [
  ':',
  ' ',
  '\n',
  '- ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '\t',
  '"',
  "'",
  '#',
  '&a ',
  '*a',
  '!!str ',
  '|',
  '>',
  '? ',
  '---\n',
  '  ',
  'x: y',
  '<<: ',
  '~',
  '0x1F',
  '\u0000',
  '\uFEFF',
];

function mutate(text: string, rnd: (n: number) => number): string {
  let t = text;
  for (let m = 1 + rnd(4); m > 0; m--) {
    const p = rnd(t.length + 1);
    switch (rnd(4)) {
      case 0:
        t = t.slice(0, p) + t.slice(p + 1 + rnd(4));
        break;
      case 1:
        t = t.slice(0, p) + FRAGMENTS[rnd(FRAGMENTS.length)]! + t.slice(p);
        break;
      case 2: {
        const ls = t.split('\n');
        ls.splice(rnd(ls.length), 0, ls[rnd(ls.length)]!);
        t = ls.join('\n');
        break;
      }
      default: {
        const ls = t.split('\n');
        const i = rnd(ls.length);
        ls[i] = ' '.repeat(rnd(5)) + ls[i]!.trimStart();
        t = ls.join('\n');
      }
    }
  }
  return t;
}

describe('broken inputs', () => {
  it('gives one located diagnostic per broken file and never crashes', async () => {
    const r = await validateTexts({
      'invalid.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n',
      'bomb.yaml': BOMB,
      'dup.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  name: e\n',
      'unknown.yaml': 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n',
      'scalar.yaml': 'just a string\n',
      'nokind.yaml': 'apiVersion: v1\nmetadata: {name: x}\n',
      'deep.yaml': '['.repeat(50_000),
    });
    const by = (file: string) => r.diagnostics.filter((d) => d.location?.file === file);
    assert.equal(by('invalid.yaml')[0]?.rule, 'yaml/syntax');
    assert.deepEqual([by('invalid.yaml')[0]?.location?.line, by('invalid.yaml')[0]?.location?.col], [5, 1]);
    assert.deepEqual(
      by('bomb.yaml').map((d) => d.rule),
      ['yaml/alias-limit'],
    );
    assert.deepEqual(
      by('dup.yaml').map((d) => [d.rule, d.location?.line]),
      [['yaml/duplicate-key', 5]],
    );
    assert.deepEqual(
      by('unknown.yaml').map((d) => [d.rule, d.severity]),
      [['schema/unknown-kind', 'info']],
    );
    assert.deepEqual(
      by('scalar.yaml').map((d) => d.rule),
      ['input/not-an-object'],
    );
    assert.deepEqual(
      by('nokind.yaml').map((d) => d.rule),
      ['schema/type-meta'],
    );
    assert.ok(by('deep.yaml').length >= 1 && by('deep.yaml').every((d) => d.rule === 'yaml/syntax'));
    assert.ok(r.diagnostics.every((d) => d.location && d.location.line >= 1 && d.location.col >= 1));
  });

  it('reports binary, non-UTF-8 and oversized files without parsing them', async () => {
    const dir = tempDir();
    const cwd = process.cwd();
    try {
      writeFileSync(join(dir, 'bin.yaml'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0x02]));
      writeFileSync(join(dir, 'latin1.yaml'), Buffer.from('kind: caf\xe9\n', 'latin1'));
      // UTF-8 encoded surrogates and overlong forms are not UTF-8 either; a byte order mark is, and is not part of the text
      writeFileSync(join(dir, 'surrogate.yaml'), Buffer.from([0x6b, 0x3a, 0x20, 0xed, 0xa0, 0x80, 0x0a]));
      writeFileSync(join(dir, 'overlong.yaml'), Buffer.from([0x6b, 0x3a, 0x20, 0xc0, 0xaf, 0x0a]));
      writeFileSync(join(dir, 'with-bom.yaml'), '\ufeffapiVersion: v1\nkind: ConfigMap\nmetadata: {name: bom}\n');
      writeFileSync(
        join(dir, 'big.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n' + '  k: v\n'.repeat(1) + '#'.repeat(300_000) + '\n',
      );
      process.chdir(dir);
      const r = await validateManifests(['.'], { cacheDir: await crdCache(), maxFileBytes: 200_000 });
      assert.deepEqual(
        r.diagnostics.map((d) => [d.location?.file, d.rule]),
        [
          ['big.yaml', 'input/too-large'],
          ['bin.yaml', 'input/binary'],
          ['latin1.yaml', 'input/encoding'],
          ['overlong.yaml', 'input/encoding'],
          ['surrogate.yaml', 'input/encoding'],
        ],
      );
    } finally {
      process.chdir(cwd);
      cleanup(dir);
    }
  });

  it('keeps memory bounded on a YAML bomb', async () => {
    const before = process.memoryUsage().heapUsed;
    const r = await validateTexts({ 'bomb.yaml': BOMB });
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(r.diagnostics[0]?.rule, 'yaml/alias-limit');
    // fully expanded, this document holds 9^9 strings (387 million); bounded means a few MB at most
    assert.ok(grown < 64 * 1024 * 1024, `heap grew by ${grown} bytes`);
  });

  it('survives 300 fuzzed manifests: no throw, every diagnostic located', async () => {
    const texts = fixtureTexts();
    const rnd = seeded(4242);
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`f${String(i).padStart(3, '0')}.yaml`] = mutate(texts[rnd(texts.length)]!, rnd);
    const r = await validateTexts(files);
    assert.equal(r.stats.files, 300);
    const unlocated = r.diagnostics.filter((d) => !d.location || d.location.line < 1 || d.location.col < 1);
    assert.deepEqual(unlocated, []);
    assert.ok(
      r.diagnostics.some((d) => d.rule.startsWith('yaml/')),
      'fuzzing produced YAML errors',
    );
  });
});

describe('fast YAML tiers', () => {
  for (const [name, parse] of [['line reader', lineParse]] as const) {
    it(`${name}: agrees with the yaml library, or defers to it, on 5,000 mutated inputs`, () => {
      const texts = fixtureTexts();
      const rnd = seeded(name.length * 777);
      let fast = 0;
      let deferred = 0;
      for (let i = 0; i < 5000; i++) {
        const src = texts[rnd(texts.length)]!;
        const lines = src.split('\n');
        const start = rnd(Math.max(1, lines.length - 10));
        const t = mutate(lines.slice(start, start + 2 + rnd(14)).join('\n'), rnd);
        let values: unknown[];
        try {
          values = parse(t);
        } catch (e) {
          assert.ok(e instanceof Unsupported || e instanceof RangeError, `unexpected ${String(e)} on ${JSON.stringify(t)}`);
          deferred++;
          continue;
        }
        fast++;
        const docs = parseAllDocuments(t, { uniqueKeys: true });
        const list = Array.isArray(docs) ? docs : [];
        assert.deepEqual(
          list.flatMap((d) => d.errors.map((e) => e.code)),
          [],
          `fast path accepted what yaml rejects: ${JSON.stringify(t)}`,
        );
        assert.ok(
          isDeepStrictEqual(
            values,
            list.map((d) => d.toJS()),
          ),
          `values differ on ${JSON.stringify(t)}`,
        );
      }
      assert.ok(fast > 1000 && deferred > 500, `fast ${fast}, deferred ${deferred}`);
    });
  }

  it('line reader reads every fixture as the yaml library does', () => {
    let read = 0;
    for (const t of fixtureTexts()) {
      const expected = parseAllDocuments(t).map((d) => d.toJS());
      try {
        assert.deepEqual(lineParse(t), expected);
        read++;
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
      }
    }
    assert.ok(read >= 25, `line reader handled ${read} fixtures`);
  });
});

describe('YAML 1.1 booleans', () => {
  it('warns on unquoted yes/no/on/off, on the fast path and the full path alike', async () => {
    const r = await validateTexts({
      'fast.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  feature: on\n  quoted: "yes"\n  word: Nope\n',
      // an anchor sends this file down the full `yaml` Document path
      'full.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: &n b}\ndata:\n  enabled: NO\n',
    });
    assert.deepEqual(
      r.diagnostics.map((d) => [d.location?.file, d.location?.line, d.location?.col, d.rule]),
      [
        ['fast.yaml', 5, 12, 'yaml/ambiguous-bool'],
        ['full.yaml', 5, 12, 'yaml/ambiguous-bool'],
      ],
    );
    assert.equal(r.diagnostics[0]!.message, 'unquoted on is the boolean true for kubectl (YAML 1.1) but the string "on" for YAML 1.2 tools (Flux, kustomize)');
  });
});

describe('kustomizations', () => {
  it('reports a listed resource that does not exist, at its line', async () => {
    const r = await validateTexts({
      'app/kustomization.yaml': 'resources:\n  - deployment.yaml\n  - gone.yaml\n',
      'app/deployment.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
    });
    assert.deepEqual(
      r.diagnostics.map((d) => [d.location?.file, d.location?.line, d.location?.col, d.rule, d.message]),
      [['app/kustomization.yaml', 3, 5, 'input/missing-resource', 'kustomization resource gone.yaml does not exist']],
    );
    assert.equal(r.stats.documents, 1);
  });

  it('only validates what a kustomization lists, not every file beside it', async () => {
    const r = await validateTexts({
      'app/kustomization.yaml': 'resources:\n  - a.yaml\n',
      'app/a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
      'app/values.yaml': 'replicaCount: [broken\n',
    });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.stats.files, 1);
  });
});

describe('locations in big multi-document files', () => {
  it('are exact for a finding deep in the file, parsing only its document', async () => {
    const docs: string[] = [];
    for (let i = 0; i < 400; i++) docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}}\ndata: {k: v${i}}\n`);
    docs[300] = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata: {k: v}\nbogus: 1\n';
    const text = docs.join('---\n');
    const r = await validateTexts({ 'many.yaml': text });
    const lines = text.split('\n');
    const badLine = lines.indexOf('  name: Bad_Name') + 1;
    const bogusLine = lines.indexOf('bogus: 1') + 1;
    assert.deepEqual(
      r.diagnostics.map((d) => [d.rule, d.location?.line, d.location?.col]),
      [
        ['names/subdomain', badLine, 9],
        ['schema/unknown-field', bogusLine, 1],
      ],
    );
    assert.ok(badLine > 1500);
  });
});

describe('object size', () => {
  it('refuses a document over the API server request limit without checking it further', async () => {
    const big =
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Big_Name}\ndata:\n' +
      Array.from({ length: 120_000 }, (_, i) => `  k${i}: "xxxxxxxxxxxxxxxxxx"\n`).join('');
    assert.ok(big.length > 3 * 1024 * 1024);
    const r = await validateTexts({
      'small.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n',
      'big.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n---\n${big}`,
    });
    assert.deepEqual(
      r.diagnostics.map((d) => [d.location?.file, d.location?.line, d.rule]),
      [['big.yaml', 4, 'input/object-too-large']],
    );
    assert.equal(r.stats.documents, 2);
  });
});
