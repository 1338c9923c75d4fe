import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from '../../diag/diagnostic.js';
import { formatDiagnostic } from '../../diag/printer.js';
import type { ValidateRun } from '../index.js';
import { jsonItem, summaryLine } from './render.js';

/** Output is written in pieces of about this size. */
const CHUNK = 1 << 20;

/**
 * Prints `castle validate`'s text or JSON output as the findings come, byte for byte what
 * renderChunks prints for the whole result. Text goes straight out; JSON starts with the counts,
 * known only at the end, so its findings wait in a temporary file instead of in memory.
 */
export class StreamRenderer {
  readonly #format: 'text' | 'json';
  readonly #out: NodeJS.WritableStream;
  #buf = '';
  #errors = 0;
  #warnings = 0;
  #count = 0;
  #dir: string | undefined;
  #fd: number | undefined;
  #size = 0;
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

  /** bytes of JSON waiting in the temporary file */
  get spilled(): number {
    return this.#size;
  }

  add(d: Diagnostic, source: (file: string) => string | undefined): void {
    if (d.severity === 'error') this.#errors++;
    else if (d.severity === 'warning') this.#warnings++;
    if (this.#format === 'text') this.#buf += `${formatDiagnostic(d, source)}\n`;
    // as JSON.stringify(whole, null, 2) prints it: the items of `diagnostics` at depth 2
    else this.#buf += `${this.#count === 0 ? '' : ',\n'}${jsonItem(d)}`;
    this.#count++;
    if (this.#buf.length > this.chunk) this.#spill();
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
      const head = JSON.stringify({ version: 1, ok: run.ok, stats: run.stats, diagnostics: [] }, null, 2);
      if (this.#count === 0) {
        await this.#write(`${head}\n`);
        return;
      }
      await this.#write(`${head.slice(0, head.lastIndexOf('[]'))}[\n`);
      if (this.#fd !== undefined) {
        const chunk = Buffer.allocUnsafe(CHUNK);
        for (let at = 0; at < this.#size;) {
          const n = readSync(this.#fd, chunk, 0, Math.min(CHUNK, this.#size - at), at);
          at += n;
          await this.#write(Buffer.from(chunk.subarray(0, n)));
        }
      }
      await this.#write(`${this.#buf}\n  ]\n}\n`);
    } finally {
      this.#buf = '';
      if (this.#fd !== undefined) closeSync(this.#fd);
      if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    }
  }

  #spill(): void {
    if (this.#format === 'text') {
      // no head to wait for; written in order (stdout is synchronous for files, and for pipes on Linux)
      if (!this.#gone) this.#out.write(this.#buf);
    } else {
      if (this.#fd === undefined) {
        this.#dir = mkdtempSync(join(tmpdir(), 'castle-validate-out-'));
        this.#fd = openSync(join(this.#dir, 'diagnostics.json'), 'w+', 0o600);
      }
      const b = Buffer.from(this.#buf, 'utf8');
      writeSync(this.#fd, b, 0, b.length, this.#size);
      this.#size += b.length;
    }
    this.#buf = '';
  }

  /** waits for a slow reader: the output is never held in memory whole */
  #write(s: string | Buffer): Promise<void> {
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
