import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { RE2JS } from 're2js';
import { jsEquivalent } from '../../src/validate/check/regex.js';
import { ROOT } from './helpers.js';

// A pattern runs as a JS RegExp only where it means what RE2 means: compared on every pattern of the
// shipped CRDs and a set of tricky ones, over seeded random strings.

const TRICKY = [
  '^.*$',
  '^a.b$',
  '[[:print:]]+',
  '^[[:alpha:]][[:alnum:]_]*$',
  '^[^[:space:]]+$',
  'x{2,3}',
  '^(a|b)+?c$',
  '[\\d\\w-]+',
  '^[\\-.]+$',
  '\\.$',
  '^$',
  'a|',
  '[a-]',
  '^[^a]$',
  '\\/path',
  '(?:ab)*',
  '^\\^\\$$',
  '[.]',
  '^(\\+|-)?[0-9]+$',
];
// case-insensitive as a whole, compared over strings of letters that fold together
const FOLDED = ['(?i:PASSWORD)', '(?i)^[a-z]+$', '(?i)^[^a-z]+$', '(?i:ks|é)', '(?i)^\\w+$', '(?i)^[[:upper:]]$', '(?i:(a|b)+c)', '(?i)'];
const CASES = ['a', 'A', 'b', 'B', 'c', 'C', 's', 'S', '\u017f', 'k', 'K', '\u212a', 'é', 'É', 'ß', '\u1e9e', 'σ', 'ς', 'Σ', '0', '_', ' '];
const REFUSED = [
  '(?i:a)b',
  '(?i:a)|(b)',
  'x(?i)a',
  '(?is)a',
  '(?i:a(?s:.))',
  '\\pL',
  '\\s',
  '\\b',
  '[[:^alpha:]]',
  '[]a]',
  'a{1001}',
  '\\Qa.b\\E',
  '\\z',
  '(?P<n>a)',
  '\\1',
];
const ALPHABET = [
  'a',
  'b',
  'c',
  'Z',
  '0',
  '9',
  '-',
  '.',
  '_',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u2028',
  'é',
  '😀',
  ':',
  '/',
  '+',
  '$',
  '^',
  '[',
  ']',
  '\u00a0',
  '\u0085',
];

function seeded(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
}

function crdPatterns(): string[] {
  const out = new Set<string>();
  for (const f of ['pgo-v5.8.9-postgresclusters.yaml', 'eso-v0.16.2-externalsecrets.yaml', 'eso-v0.16.2-secretstores.yaml']) {
    for (const m of readFileSync(join(ROOT, 'schemas/crds', f), 'utf8').matchAll(/^\s*pattern: (.*)$/gm)) out.add(m[1]!.trim().replace(/^'(.*)'$/, '$1'));
  }
  return [...out];
}

describe('CRD patterns as JS RegExps', () => {
  it('match exactly what RE2 matches, on 400 random strings each', () => {
    const rnd = seeded(14);
    let compared = 0;
    let js = 0;
    for (const p of [...crdPatterns(), ...TRICKY]) {
      const re = jsEquivalent(p);
      if (!re) continue;
      js++;
      const re2 = RE2JS.compile(p);
      for (let i = 0; i < 400; i++) {
        let s = '';
        for (let n = rnd(12); n > 0; n--) s += ALPHABET[rnd(ALPHABET.length)];
        assert.equal(re.test(s), re2.matcher(s).find(), `${p} on ${JSON.stringify(s)}`);
        compared++;
      }
    }
    assert.ok(js >= 25 && compared >= 10_000, `${js} patterns, ${compared} strings`);
  });

  it('match case-insensitively exactly what RE2 matches, on 400 random strings each', () => {
    const rnd = seeded(15);
    let matched = 0;
    for (const p of FOLDED) {
      const re = jsEquivalent(p);
      assert.ok(re !== undefined && re.flags.includes('i'), p);
      const re2 = RE2JS.compile(p);
      for (let i = 0; i < 400; i++) {
        // a word the pattern matches, its letters' case changed at random, or random letters
        let s = '';
        if (i % 2 === 0) for (const c of 'password') s += rnd(3) === 0 ? c.toUpperCase() : c === 's' && rnd(2) === 0 ? '\u017f' : c;
        else for (let n = rnd(6); n > 0; n--) s += CASES[rnd(CASES.length)];
        const found: boolean = re.test(s);
        assert.equal(found, re2.matcher(s).find(), `${p} on ${JSON.stringify(s)}`);
        if (found) matched++;
      }
    }
    assert.ok(matched > 1000, `${matched} matches`);
  });

  it('takes only patterns RE2 takes, and matches as RE2 does: 200,000 random patterns', () => {
    // pieces of patterns, valid or not on their own: RE2 is loaded only for a pattern jsEquivalent refuses, so one it
    // takes must be one RE2 takes (else a CRD's invalid pattern would go unreported)
    const PIECES = [
      'a',
      'b',
      'A',
      '(',
      ')',
      '[',
      ']',
      '{',
      '}',
      ',',
      '0',
      '1',
      '2',
      '9',
      '*',
      '+',
      '?',
      '|',
      '^',
      '$',
      '.',
      '\\',
      'd',
      'w',
      '-',
      ':',
      '(?:',
      '(?i)',
      '(?i:',
      '[:alpha:]',
      '[[:digit:]]',
      '/',
      ' ',
      '{2}',
      '{1,}',
      '{,2}',
      '\\.',
      '\\d',
    ];
    const STRINGS = ['a', 'b', 'A', 'B', '1', '2', '9', ' ', '\n', '\r', '-', '.', ':', '{', '}', ',', '/', 'é', '😀', '_', '\u017f'];
    const rnd = seeded(16);
    let taken = 0;
    for (let i = 0; i < 200_000; i++) {
      let p = '';
      for (let n = 1 + rnd(7); n > 0; n--) p += PIECES[rnd(PIECES.length)];
      const re = jsEquivalent(p);
      if (!re) continue;
      taken++;
      let re2: RE2JS;
      try {
        re2 = RE2JS.compile(p);
      } catch (e) {
        assert.fail(`${JSON.stringify(p)} runs as ${String(re)} but RE2 refuses it: ${(e as Error).message}`);
      }
      if (taken % 10 !== 0) continue;
      for (let j = 0; j < 10; j++) {
        let s = '';
        for (let n = rnd(6); n > 0; n--) s += STRINGS[rnd(STRINGS.length)];
        assert.equal(re.test(s), re2.matcher(s).find(), `${p} on ${JSON.stringify(s)}`);
      }
    }
    assert.ok(taken > 40_000, `${taken} patterns taken`);
  });

  it('loads RE2 only for a pattern that needs it', () => {
    const run = (patterns: string[]): string =>
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { re2Test } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/src/validate/check/regex.js')).href)};
           import { createRequire } from 'node:module';
           const verdicts = ${JSON.stringify(patterns)}.map((p) => String(re2Test(p, 'Password1')));
           const loaded = Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('re2js'));
           process.stdout.write(verdicts.join(' ') + ' ' + loaded);`,
        ],
        { encoding: 'utf8' },
      );
    assert.equal(run(['(?i:PASSWORD)', '^[a-z]+$', '[[:alnum:]]+']), 'true false true false');
    assert.equal(run(['(?i:PASSWORD)', '\\pL']), 'true true true');
    assert.match(run(['(?i:a)(']), /^RE2JSSyntaxException: error parsing regexp: missing closing \): `\(\?i:a\)\(` true$/);
  });

  it('leaves to RE2 what reads differently in JS', () => {
    for (const p of REFUSED) assert.equal(jsEquivalent(p), undefined, p);
  });
});
