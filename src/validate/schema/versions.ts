/**
 * Orders release versions (`1.31.4`, `0.16.2`, `1.35`) by their numbers, a shorter one first when it is a
 * prefix; a part that is not a number is compared as text. `localeCompare` with numeric collation did the
 * same, but building its collator took ~9 ms in each thread at the start of a run.
 */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p === q) continue;
    if (/^\d+$/.test(p) && /^\d+$/.test(q)) return Number(p) - Number(q);
    return p < q ? -1 : 1;
  }
  return x.length - y.length;
}
