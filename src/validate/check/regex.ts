import { RE2JS } from 're2js';

/**
 * CRD `pattern`s are Go RE2 (`[[:print:]]`, `(?i:...)`), which Node 20's RegExp rejects or reads
 * differently: they are matched with re2js, never rewritten or dropped.
 */
const compiled = new Map<string, RE2JS | Error>();

export function re2(pattern: string): RE2JS | Error {
  let re = compiled.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch (e) {
      re = e instanceof Error ? e : new Error(String(e));
    }
    compiled.set(pattern, re);
  }
  return re;
}

/** true/false, or the compile error of a pattern RE2 itself rejects */
export function re2Test(pattern: string, value: string): boolean | Error {
  const re = re2(pattern);
  if (re instanceof Error) return re;
  return re.matcher(value).find();
}
