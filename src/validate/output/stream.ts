import type { Diagnostic } from '../../diag/diagnostic.js';
import { formatDiagnostic } from '../../diag/printer.js';
import type { ValidateRun } from '../index.js';
import { jsonEmpty, jsonHead, jsonItem, jsonTail, summaryLine } from './render.js';

/** Output is written in pieces of about this size. */
const CHUNK = 1 << 20;

/**
 * Prints `castle validate`'s text or JSON output as the findings come, byte for byte what
 * renderChunks prints for the whole result. Both go straight out: the counts, known only at the end,
 * come after the findings (in JSON, `ok` and `stats` follow `diagnostics`), so nothing waits in
 * memory or in a temporary file.
 */
export class StreamRenderer {
  readonly #format: 'text' | 'json';
  readonly #out: NodeJS.WritableStream;
  #buf = '';
  #errors = 0;
  #warnings = 0;
  #count = 0;
  #written = 0;
  #gone = false;

  /** `chunk`: output is written in pieces of about this many characters */
  constructor(
    format: 'text' | 'json',
    out: NodeJS.WritableStream,
    readonly chunk = CHUNK,
  ) {
    this.#format = format;
    this.#out = out;
    // the reader went away (`castle validate | head`): the rest is not printed, and that is no crash
    out.on('error', () => {
      this.#gone = true;
    });
  }

  /** findings printed so far */
  get count(): number {
    return this.#count;
  }

  /** characters handed to the output before finish() */
  get written(): number {
    return this.#written;
  }

  /** a promise when a piece was written: the caller waits for it (a slow reader, and the event loop's turn) */
  add(d: Diagnostic, source: (file: string) => string | undefined): Promise<void> | undefined {
    if (d.severity === 'error') this.#errors++;
    else if (d.severity === 'warning') this.#warnings++;
    if (this.#format === 'text') this.#buf += `${formatDiagnostic(d, source)}\n`;
    // as JSON.stringify(whole, null, 2) prints it: the items of `diagnostics` at depth 2
    else this.#buf += `${this.#count === 0 ? jsonHead() : ',\n'}${jsonItem(d)}`;
    this.#count++;
    return this.#buf.length > this.chunk ? this.#flush() : undefined;
  }

  /** the end of the output, once every finding is added; `ok` and `stats` as the JSON shows them */
  async finish(run: ValidateRun): Promise<void> {
    try {
      if (this.#format === 'text') {
        const e = this.#errors;
        const w = this.#warnings;
        await this.#write(`${this.#buf}${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}\n${summaryLine(run.stats)}\n`);
        return;
      }
      const whole = { ok: run.ok, stats: run.stats };
      await this.#write(this.#count === 0 ? `${jsonEmpty(whole)}\n` : `${this.#buf}\n  ]${jsonTail(whole)}\n`);
    } finally {
      this.#buf = '';
    }
  }

  /**
   * Written in order, as it comes. The promise waits for a slow reader, then lets the event loop turn: a pipe's
   * written pieces are let go only then, and a run that never turned it held its whole output (+30 MB here).
   */
  #flush(): Promise<void> {
    const s = this.#buf;
    this.#buf = '';
    this.#written += s.length;
    return this.#write(s).then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  }

  /** waits for a slow reader */
  #write(s: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.#gone || this.#out.write(s)) resolve();
      else {
        // each wait takes its listeners off again: a big output to a slow pipe waits thousands of times
        const done = (): void => {
          this.#out.off('drain', done);
          this.#out.off('error', done);
          resolve();
        };
        this.#out.once('drain', done);
        this.#out.once('error', done);
      }
    });
  }
}
