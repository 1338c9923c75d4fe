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
  /** the piece being filled: pieces are encoded into it as they come, not joined into a string first */
  #bytes: Buffer | undefined;
  #used = 0;
  /** characters in #bytes */
  #chars = 0;
  /** a piece's buffer the output is done with (its write's callback came): filled again instead of a new one */
  #free: Buffer | undefined;
  /** the size of a piece's buffer: `chunk` bytes and room for the finding that passes them (a longer one grows it) */
  readonly #room: number;
  #errors = 0;
  #warnings = 0;
  #count = 0;
  #written = 0;
  #gone = false;

  /**
   * `chunk`: output is written in pieces of about this many bytes. `reuse`: the output is done with a
   * buffer once its write's callback comes, so the buffer is filled again: true of the process's
   * stdout (a file, a pipe, a terminal), not of every Writable (a PassThrough passes the very buffer on).
   */
  constructor(
    format: 'text' | 'json',
    out: NodeJS.WritableStream,
    readonly chunk = CHUNK,
    readonly reuse = out === process.stdout,
  ) {
    this.#format = format;
    this.#out = out;
    this.#room = chunk + 4096;
    // the reader went away (`castle validate | head`): the rest is not printed, and that is no crash
    out.on('error', () => {
      this.#gone = true;
    });
  }

  /** findings printed so far */
  get count(): number {
    return this.#count;
  }

  /** UTF-16 characters given to the output's write() so far (finish() included), in pieces of a little over `chunk` bytes */
  get written(): number {
    return this.#written;
  }

  /** a promise when a piece was written: the caller waits for it (a slow reader, and the event loop's turn) */
  add(d: Diagnostic, source: (file: string) => string | undefined): Promise<void> | undefined {
    if (d.severity === 'error') this.#errors++;
    else if (d.severity === 'warning') this.#warnings++;
    if (this.#format === 'text') this.#put(`${formatDiagnostic(d, source)}\n`);
    // as JSON.stringify(whole, null, 2) prints it: the items of `diagnostics` at depth 2
    else this.#put(`${this.#count === 0 ? jsonHead() : ',\n'}${jsonItem(d)}`);
    this.#count++;
    return this.#used > this.chunk ? this.#flush() : undefined;
  }

  /** the end of the output, once every finding is added; `ok` and `stats` as the JSON shows them */
  async finish(run: ValidateRun): Promise<void> {
    if (this.#format === 'text') {
      const e = this.#errors;
      const w = this.#warnings;
      this.#put(`${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}\n${summaryLine(run.stats)}\n`);
    } else {
      const whole = { ok: run.ok, stats: run.stats };
      this.#put(this.#count === 0 ? `${jsonEmpty(whole)}\n` : `\n  ]${jsonTail(whole)}\n`);
    }
    const { bytes, used } = this.#take();
    if (bytes) await this.#write(bytes.subarray(0, used));
  }

  /**
   * Encodes `s` at the end of the piece. Encoding into a buffer that is filled again costs a fifth of
   * encoding a joined string into a new one per piece (40,000 JSON findings: 18 ms against 85, most
   * of it the new buffer's pages).
   */
  #put(s: string): void {
    // UTF-8 takes at most 3 bytes for each UTF-16 unit
    const most = s.length * 3;
    if (!this.#bytes) {
      const size = Math.max(this.#room, most);
      const free = this.#free;
      this.#free = undefined;
      this.#bytes = free && free.length >= size ? free : Buffer.allocUnsafe(size);
    } else if (this.#used + most > this.#bytes.length) {
      // a piece longer than the room left: a bigger buffer, the bytes so far copied over
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.#bytes.length, this.#used + most));
      this.#bytes.copy(bigger, 0, 0, this.#used);
      this.#bytes = bigger;
    }
    this.#used += this.#bytes.write(s, this.#used);
    this.#chars += s.length;
  }

  /** the piece filled so far, which is no longer this renderer's to fill */
  #take(): { bytes: Buffer | undefined; used: number } {
    const taken = { bytes: this.#bytes, used: this.#used };
    this.#written += this.#chars;
    this.#bytes = undefined;
    this.#used = 0;
    this.#chars = 0;
    return taken;
  }

  /**
   * Written in order, as it comes. The promise waits for a slow reader, then lets the event loop turn: a pipe's
   * written pieces are let go only then, and a run that never turned it held its whole output (+30 MB here).
   */
  #flush(): Promise<void> {
    const { bytes, used } = this.#take();
    if (!bytes) return Promise.resolve();
    // a buffer grown for one long finding is not kept for the rest of the run
    const released =
      this.reuse && bytes.length <= 2 * this.#room
        ? (): void => {
            this.#free = bytes;
          }
        : undefined;
    return this.#write(bytes.subarray(0, used), released).then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  }

  /** waits for a slow reader; `released`: the output is done with the bytes */
  #write(b: Buffer, released?: () => void): Promise<void> {
    return new Promise((resolve) => {
      if (this.#gone || this.#out.write(b, released)) resolve();
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
