/**
 * Durations as the API server reads `format: duration` (kube-openapi strfmt: Go's "1h30m", ISO-ish
 * "PT5M", and "12 hr", "3d", "4 weeks"), in seconds; undefined when not a duration.
 */
const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  nanosecond: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  microsecond: 1e-6,
  ms: 1e-3,
  milli: 1e-3,
  millisecond: 1e-3,
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  d: 86400,
  day: 86400,
  w: 604800,
  wk: 604800,
  week: 604800,
};

export function durationSeconds(v: string): number | undefined {
  const s = v.trim();
  if (s === '0') return 0;
  const body = s.replace(/^P(T)?/i, '');
  const re = /\s*(-?\d+(?:\.\d+)?)\s*([a-zµ]+)/giy;
  let total = 0;
  let pos = 0;
  let parts = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const unit = m[2]!.toLowerCase();
    const factor = UNIT_SECONDS[unit] ?? UNIT_SECONDS[unit.replace(/s$/, '')];
    if (factor === undefined) return undefined;
    total += Number(m[1]) * factor;
    pos = re.lastIndex;
    parts++;
  }
  if (parts === 0 || body.slice(pos).trim() !== '') return undefined;
  return total;
}
