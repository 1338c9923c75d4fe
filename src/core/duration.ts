// Durations as people read and write them. `formatDuration` is for measured times (keeps a tenth of a
// second so phases can be compared), `formatDurationCompact` for round numbers such as budgets, and
// `parseDuration` reads what a castle.yaml author types for `budget` / `timeout`.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** `850ms`, `12.3s`, `1m02.3s`, `1h02m`. Rounds once, up front, so `59.96s` becomes `1m00.0s`, never `60.0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 0) return '-' + formatDuration(-ms);
  if (Math.round(ms) < SECOND) return `${Math.round(ms)}ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  if (tenths < 36000) {
    const minutes = Math.floor(tenths / 600);
    const seconds = ((tenths % 600) / 10).toFixed(1).padStart(4, '0');
    return `${minutes}m${seconds}s`;
  }
  const totalMinutes = Math.round(ms / MINUTE);
  const hours = Math.floor(totalMinutes / 60);
  return `${hours}h${String(totalMinutes % 60).padStart(2, '0')}m`;
}

/** `12m`, `1h30m`, `1m30s`, `500ms`: only the units that are not zero, so a budget reads as it was written. */
export function formatDurationCompact(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 0) return '-' + formatDurationCompact(-ms);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}

// Largest first: a duration must name its units in this order, each at most once (`1h30m`, not `30m1h`).
const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['h', HOUR],
  ['m', MINUTE],
  ['s', SECOND],
  ['ms', 1],
];

const NUMBER = /^(?:\d+(?:\.\d+)?|\.\d+)$/;
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)/y;

/**
 * `500ms`, `90s`, `12m`, `1h30m`, `1m02.3s`, `1h`; a plain number is seconds. Returns whole milliseconds,
 * or `undefined` for anything else (empty, negative, unknown or repeated units, units out of order).
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (NUMBER.test(s)) return Math.round(Number(s) * SECOND);
  let total = 0;
  let lastRank = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (!m) return undefined;
    const rank = UNITS.findIndex(([unit]) => unit === m[2]);
    if (rank <= lastRank) return undefined;
    lastRank = rank;
    total += Number(m[1]) * (UNITS[rank]?.[1] ?? 0);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}
