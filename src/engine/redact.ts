/** Masks registered secret values wherever text leaves the engine: logs, events, reports, errors. */
export class Redactor {
  readonly #values = new Set<string>();
  #pattern: RegExp | undefined;

  add(value: string | undefined): void {
    // Very short values would mask ordinary words; such secrets are rejected at their source.
    if (!value || value.length < 4 || this.#values.has(value)) return;
    this.#values.add(value);
    const sorted = [...this.#values].sort((a, b) => b.length - a.length);
    this.#pattern = new RegExp(sorted.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }

  redact(text: string): string {
    return this.#pattern ? text.replace(this.#pattern, '***') : text;
  }

  /** Deep copy of a JSON-like value with every string redacted. */
  redactValue<T>(value: T): T {
    if (!this.#pattern) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return walk(value) as T;
  }
}
