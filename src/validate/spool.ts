import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Records held in memory before they go to disk, unless told otherwise: a small run never writes a file. */
const MEMORY_BYTES = 4 * 1024 * 1024;

/**
 * Records (findings, references not settled yet) in the order they were added, grouped by the file
 * they are about, so they can be given back file by file once every file is analysed (findings are
 * printed sorted by file, and the references of a file are only settled by the last one). Past a
 * budget they are written to a temporary file as JSON lines, so memory does not grow with their
 * number. Where no temporary file can be written (no such TMPDIR, read-only, full), they stay in
 * memory: that costs memory, never the run.
 */
export class Spool<T extends object> {
  /** file -> [offset, length] pairs of its segments on disk, in order */
  readonly #segments = new Map<string, number[]>();
  /** file -> records not written yet: JSON lines, or records as they are (see addRecord), and the bytes counted for them */
  readonly #pending = new Map<string, { items: (string | T)[]; bytes: number }>();
  #pendingBytes = 0;
  #dir: string | undefined;
  #fd: number | undefined;
  #size = 0;
  #count = 0;
  /** a temporary file could not be made or written: everything stays in memory from then on */
  #noDisk = false;

  /** `memoryBytes`: what is held before it goes to disk; `dir`: where the temporary file goes */
  constructor(
    readonly memoryBytes = MEMORY_BYTES,
    readonly dir = tmpdir(),
  ) {}

  /** bytes held in memory now: never much over `memoryBytes`, however many records were added, while the temporary file can be written */
  get held(): number {
    return this.#pendingBytes;
  }

  /** records added so far */
  get count(): number {
    return this.#count;
  }

  /** bytes written to disk so far */
  get spilled(): number {
    return this.#size;
  }

  add(key: string, record: T): void {
    this.addLine(key, JSON.stringify(record));
  }

  /** a record already in JSON (made in a worker thread: see PackedAnalysis) */
  addLine(key: string, line: string): void {
    this.#hold(key, line, line.length + 1);
  }

  /**
   * A record kept as it is until it goes to disk, `bytes` what it holds in memory: none of its strings
   * may be a slice of a bigger one (a file's text), which it would keep in memory uncounted.
   */
  addRecord(key: string, record: T, bytes: number): void {
    this.#hold(key, record, bytes);
  }

  #hold(key: string, item: string | T, bytes: number): void {
    const p = this.#pending.get(key);
    if (p) {
      p.items.push(item);
      p.bytes += bytes;
    } else this.#pending.set(key, { items: [item], bytes });
    this.#pendingBytes += bytes;
    this.#count++;
    if (this.#pendingBytes > this.memoryBytes && !this.#noDisk) this.#flush();
  }

  /** the keys that have records */
  files(): string[] {
    return [...new Set([...this.#segments.keys(), ...this.#pending.keys()])];
  }

  /** the records of `file`, in the order they were added; they are given back once */
  take(file: string): T[] {
    const out: T[] = [];
    const segs = this.#segments.get(file);
    if (segs && this.#fd !== undefined) {
      for (let i = 0; i < segs.length; i += 2) {
        const buf = Buffer.allocUnsafe(segs[i + 1]!);
        readSync(this.#fd, buf, 0, buf.length, segs[i]!);
        for (const line of buf.toString('utf8').split('\n')) if (line) out.push(JSON.parse(line) as T);
      }
      this.#segments.delete(file);
    }
    const p = this.#pending.get(file);
    if (p) {
      for (const item of p.items) out.push(typeof item === 'string' ? (JSON.parse(item) as T) : item);
      this.#pendingBytes -= p.bytes;
      this.#pending.delete(file);
    }
    return out;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#fd = undefined;
    this.#dir = undefined;
  }

  #flush(): void {
    try {
      if (this.#fd === undefined) {
        this.#dir = mkdtempSync(join(this.dir, 'castle-validate-'));
        this.#fd = openSync(join(this.#dir, 'spool.jsonl'), 'w+', 0o600);
      }
      // file by file, each taken out of memory once it is on disk: a failed write leaves the rest where it was
      for (const [file, { items, bytes }] of this.#pending) {
        let text = '';
        for (const item of items) text += `${typeof item === 'string' ? item : JSON.stringify(item)}\n`;
        const buf = Buffer.from(text, 'utf8');
        let done = 0;
        while (done < buf.length) done += writeSync(this.#fd, buf, done, buf.length - done, this.#size + done);
        const segs = this.#segments.get(file);
        if (segs) segs.push(this.#size, buf.length);
        else this.#segments.set(file, [this.#size, buf.length]);
        this.#size += buf.length;
        this.#pending.delete(file);
        this.#pendingBytes -= bytes;
      }
    } catch {
      this.#noDisk = true;
    }
  }
}
