import type { Diagnostic } from '../diag/diagnostic.js';

// The order findings are printed in, within one file.

/** within one file: by line, then column; Array.prototype.sort is stable, so a tie keeps the order found */
export function byLine(a: Diagnostic, b: Diagnostic): number {
  return (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0);
}

/**
 * Drops repeated findings (same place, rule and message), keeping the first: `diags` is one file's,
 * sorted by byLine, which keeps the order found among findings at one place, so a repeat is in the
 * run of findings at its place; only such runs are compared.
 */
export function dedupeSorted(diags: Diagnostic[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (let i = 0; i < diags.length;) {
    let j = i + 1;
    while (j < diags.length && byLine(diags[i]!, diags[j]!) === 0) j++;
    if (j === i + 1) out.push(diags[i]!);
    else {
      const seen = new Set<string>();
      for (let k = i; k < j; k++) {
        const d = diags[k]!;
        const key = `${d.location?.file}:${d.location?.line}:${d.location?.col}:${d.rule}:${d.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(d);
      }
    }
    i = j;
  }
  return out;
}
