import { Redactor } from '../secrets/redactor.js';

export { Redactor };

/** Deep copy of a JSON-like value with every string redacted (events are small: a walk is cheap). */
export function redactValue<T>(r: Redactor, value: T): T {
  if (r.size === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return r.redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
