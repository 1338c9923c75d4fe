import type { RE2JS } from 're2js';
import { lazy } from '../builtins-lazy.js';

/**
 * re2js, loaded on first use (its CommonJS build: `require` is synchronous, as the checks are): loading it and
 * compiling the nine patterns of the bench's corpus took 31 ms of each run, which all run as JS RegExps.
 */
const re2jsModule = lazy<typeof import('re2js')>('re2js');

function re2js(): typeof RE2JS {
  return re2jsModule().RE2JS;
}

/**
 * CRD `pattern`s are Go RE2 (`[[:print:]]`, `(?i:...)`), which Node 20's RegExp rejects or reads
 * differently: they are matched with re2js. A pattern made only of constructs both engines read the
 * same way (literals, classes and ASCII POSIX classes, groups, alternation, quantifiers, ^ $ \d \w; `.`
 * written as [^\n])
 * runs as a JS RegExp with the `u` flag instead, about 10x faster; regex.test.ts compares the two.
 * So does such a pattern made case-insensitive as a whole (`(?i)x`, `(?i:x)`), with the `i` flag: both
 * engines fold case by Unicode's simple folding (`ſ` is an `s`, the Kelvin sign a `k`). PGO's
 * `!self.matches("(?i:PASSWORD)")` on every user's options is one: re2js took 54 ms for the first 5,000
 * matches of a run (its code not yet optimized) and 9 warm, the RegExp 1.
 */
export class PatternCache {
  readonly #compiled = new Map<string, RE2JS | RegExp | Error>();

  get(pattern: string): RE2JS | RegExp | Error {
    let re = this.#compiled.get(pattern);
    if (re === undefined) {
      // a pattern jsEquivalent takes is one RE2 takes too (regex.test.ts tries 200,000): RE2 judges the others
      re = jsEquivalent(pattern);
      if (re === undefined) {
        try {
          re = re2js().compile(pattern);
        } catch (e) {
          re = e instanceof Error ? e : new Error(String(e));
        }
      }
      this.#compiled.set(pattern, re);
    }
    return re;
  }

  /** true/false, or the compile error of a pattern RE2 itself rejects */
  test(pattern: string, value: string): boolean | Error {
    const re = this.get(pattern);
    if (re instanceof Error) return re;
    if (re instanceof RegExp) return re.test(value);
    return re.matcher(value).find();
  }
}

/** escapes that mean the same in RE2 and in a `u` RegExp, inside and outside classes */
const SAFE_ESCAPES = '.-+*?()[]{}|\\/^$dDwW';

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  digit: '0-9',
  lower: 'a-z',
  upper: 'A-Z',
  print: ' -~',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
  blank: '\\t ',
  space: '\\t\\n\\v\\f\\r ',
};

/** the same pattern as a JS RegExp, when every construct in it reads the same in both engines */
export function jsEquivalent(p: string): RegExp | undefined {
  const folded = CASE_INSENSITIVE.exec(p);
  // `(?i:a)|(b)` ends with a `)` that is not the group's: its inside `a)|(b` is no pattern, and is refused
  return folded ? translated(folded[1] ?? folded[2]!, 'iu') : translated(p, 'u');
}

/** `(?i)x` or `(?i:x)`, case-insensitive as a whole: x */
const CASE_INSENSITIVE = /^(?:\(\?i\)([^]*)|\(\?i:([^]*)\))$/;

function translated(p: string, flags: string): RegExp | undefined {
  if (/\(\?(?!:)/.test(p)) return undefined; // flags and named groups
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined || !SAFE_ESCAPES.includes(n)) return undefined;
      out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[') {
        // RE2's POSIX classes are ASCII: the same ranges, written out
        const posix = /^\[:([a-z]+):\]/.exec(p.slice(i));
        const range = posix ? POSIX[posix[1]!] : undefined;
        if (!range) return undefined;
        out += range;
        i += posix![0].length - 1;
        continue;
      }
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      // `[]a]` and `[^]a]` hold a `]` in RE2 and are empty classes in JS
      if (p[i + 1] === ']' || (p[i + 1] === '^' && p[i + 2] === ']')) return undefined;
      inClass = true;
      out += c;
      continue;
    }
    // RE2's `.` excludes only \n; JS's also \r, \u2028 and \u2029
    if (c === '.') {
      out += '[^\\n]';
      continue;
    }
    // RE2 refuses repeat counts over 1000
    if (c === '{' && /^\{\d{4,}/.test(p.slice(i))) return undefined;
    out += c;
  }
  try {
    return new RegExp(out, flags);
  } catch {
    return undefined;
  }
}

const shared = new PatternCache();

/** `shared.test`: the compiled patterns are kept for the process (a CRD has a few hundred) */
export function re2Test(pattern: string, value: string): boolean | Error {
  return shared.test(pattern, value);
}

const re2s = new Map<string, RE2JS | Error>();

/** the RE2 program itself, for the CEL regex library's find and findAll */
export function re2(pattern: string): RE2JS | Error {
  let re = re2s.get(pattern);
  if (re === undefined) {
    try {
      re = re2js().compile(pattern);
    } catch (e) {
      re = e instanceof Error ? e : new Error(String(e));
    }
    re2s.set(pattern, re);
  }
  return re;
}
