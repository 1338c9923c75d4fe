// Masks registered secret values in any text headed for logs, events, reports or error messages.

const MASK = '***';
// Lines of a multi-line secret are masked on their own only when long enough to be secret material;
// masking `[global]` or `}` everywhere would wreck logs without protecting anything.
const MIN_LINE_LENGTH = 16;

export class Redactor {
  readonly #values = new Set<string>();
  #sorted: string[] | undefined;

  /** registers a value (and its base64 and URL-encoded forms, which templates and URLs produce) */
  add(value: string | undefined | null): void {
    if (value === undefined || value === null) return;
    const forms = new Set<string>();
    const trimmed = value.trim();
    if (trimmed.length === 0) return;
    forms.add(value);
    forms.add(trimmed);
    if (trimmed.includes('\n')) {
      for (const line of trimmed.split(/\r?\n/)) {
        const l = line.trim();
        if (l.length >= MIN_LINE_LENGTH) forms.add(l);
      }
    }
    forms.add(Buffer.from(value, 'utf8').toString('base64'));
    const enc = encodeURIComponent(value);
    if (enc !== value) forms.add(enc);
    for (const f of forms) if (f.length > 0) this.#values.add(f);
    this.#sorted = undefined;
  }

  /** how many distinct forms are registered */
  get size(): number {
    return this.#values.size;
  }

  redact(text: string): string {
    if (this.#values.size === 0 || text.length === 0) return text;
    // Longest first, so a value containing another is masked whole.
    this.#sorted ??= [...this.#values].sort((a, b) => b.length - a.length);
    let out = text;
    for (const v of this.#sorted) {
      if (out.includes(v)) out = out.split(v).join(MASK);
    }
    return out;
  }

  /** the message of an unknown thrown value, redacted */
  redactError(err: unknown): string {
    const msg = err instanceof Error ? err.message : String(err);
    return this.redact(msg);
  }
}
