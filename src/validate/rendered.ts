import type { Diagnostic, Severity } from '../diag/diagnostic.js';

// A file's findings are rendered for the output as soon as its analysis comes in, while the main
// thread would otherwise wait for the worker: on 10,000 documents with 40,000 findings, rendering
// them all at the end kept the output waiting 0.17 s after the last file (`npm run bench -- validate`).
// References are still settled at the end: a later file may provide what an earlier one needs.

/** Renders one finding as the output prints it (`source`: a file's text, for snippets), and takes the rendered ones back in order. */
export interface RenderingSink {
  render(d: Diagnostic, source: (file: string) => string | undefined): string;
  addRendered(severity: Severity, text: string): void;
}

/** Where a finding came from, which orders findings at the same place as the end of the run always did: the file's own, then references, then the run's. */
export const enum Origin {
  Own = 0,
  Need = 1,
  Late = 2,
}

interface Rendered {
  readonly line: number;
  readonly col: number;
  readonly origin: Origin;
  /** arrival: the order found among findings at the same place */
  readonly seq: number;
  /** the ObjectIndex key that drops it when something provides it by the end (a reference's finding) */
  readonly needKey: string | undefined;
  readonly rule: string;
  readonly message: string;
  readonly severity: Severity;
  readonly text: string;
}

/** A finding to render, with the key of what would meet it when it is a missing reference. */
export interface Pending {
  readonly d: Diagnostic;
  readonly origin: Origin;
  readonly needKey?: string;
}

const byPlace = (a: Rendered, b: Rendered): number => a.line - b.line || a.col - b.col || a.origin - b.origin || a.seq - b.seq;

/**
 * Rendered findings held per file until the end of the run, up to `budget` characters: a file that
 * would pass it is not taken (its findings stay in the spool, rendered at the end), so memory stays
 * bounded however many findings a run has; a file already held takes all its later findings.
 */
export class RenderedFiles {
  readonly #files = new Map<string, Rendered[]>();
  #chars = 0;
  #seq = 0;

  constructor(
    readonly sink: RenderingSink,
    readonly textOf: (file: string) => string | undefined,
    readonly budget: number,
  ) {}

  /** whether `file`'s findings are held here: those of a file not held go to the spool */
  holds(file: string): boolean {
    return this.#files.has(file);
  }

  /** whether a file not held yet can be: the budget is checked before each file, so it is passed by one file's findings at most */
  fits(): boolean {
    return this.#chars < this.budget;
  }

  /** renders one file's findings (in the order found) and holds them */
  add(file: string, found: readonly Pending[]): void {
    let text: string | undefined | null = null;
    const source = (f: string): string | undefined => {
      if (f !== file) return this.textOf(f);
      if (text === null) text = this.textOf(f);
      return text;
    };
    let held = this.#files.get(file);
    if (!held) this.#files.set(file, (held = []));
    for (const p of found) {
      const r: Rendered = {
        line: p.d.location?.line ?? 0,
        col: p.d.location?.col ?? 0,
        origin: p.origin,
        seq: this.#seq++,
        needKey: p.needKey,
        rule: p.d.rule,
        message: p.d.message,
        severity: p.d.severity,
        text: this.sink.render(p.d, source),
      };
      this.#chars += r.text.length;
      held.push(r);
    }
  }

  /**
   * Gives `file`'s findings to the sink, in the printed order and without repeats, leaving out those
   * of references `met` by the end; `late`: the run's findings about this file, found at its end.
   * Returns the counts given.
   */
  flush(file: string, met: (needKey: string) => boolean, late: readonly Diagnostic[]): { errors: number; warnings: number } {
    if (late.length > 0)
      this.add(
        file,
        late.map((d) => ({ d, origin: Origin.Late })),
      );
    const all = this.#files.get(file) ?? [];
    this.#files.delete(file);
    // in the order found until now (most files' findings are in order of place already)
    if (!isSorted(all)) all.sort(byPlace);
    let errors = 0;
    let warnings = 0;
    // repeats (same place, rule and message) are compared only among the findings kept at one place
    let first: Rendered | undefined;
    let seen: Set<string> | undefined;
    for (const r of all) {
      if (r.needKey !== undefined && met(r.needKey)) continue;
      if (first && r.line === first.line && r.col === first.col) {
        seen ??= new Set([`${first.rule}:${first.message}`]);
        const key = `${r.rule}:${r.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
      } else {
        first = r;
        seen = undefined;
      }
      if (r.severity === 'error') errors++;
      else if (r.severity === 'warning') warnings++;
      this.sink.addRendered(r.severity, r.text);
    }
    this.#chars -= all.reduce((n, r) => n + r.text.length, 0);
    return { errors, warnings };
  }

  /** the files held, for the end of the run */
  files(): IterableIterator<string> {
    return this.#files.keys();
  }
}

function isSorted(rs: readonly Rendered[]): boolean {
  for (let i = 1; i < rs.length; i++) if (byPlace(rs[i - 1]!, rs[i]!) > 0) return false;
  return true;
}
