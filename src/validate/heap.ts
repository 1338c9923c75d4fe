import { v8 } from './builtins-lazy.js';
import { runInNewContext } from 'node:vm';

/** Past this much heap in use, one full collection pays for itself (see collectGarbage). */
const WORTH_BYTES = 64 * 1024 * 1024;

let gc: (() => void) | undefined;

/**
 * One full garbage collection of this thread, when its heap holds more than 64 MiB. V8 sizes the
 * old generation from what was live at its last full collection: the inputs' texts and a first run's
 * schema compile make that 150 MiB or more, and V8 then lets the garbage of the analysis grow to
 * several times that before it collects again. Called once those are dead: peak RSS at 100,000
 * documents with findings, cache cold, went from 507 MiB to 290 MiB. Node exposes `gc` only behind
 * a flag, which is set here for a new context's global (the main one is already made).
 */
export function collectGarbage(): void {
  if (process.memoryUsage().heapUsed < WORTH_BYTES) return;
  if (!gc) {
    v8().setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/**
 * A flat copy of `s`: a string built from slices of a file's text (a key, a finding's message) keeps
 * the whole text in memory for as long as it lives; the copy keeps only itself.
 */
export function flat(s: string): string {
  return ` ${s}`.slice(1);
}

/** at most this many characters are kept by `shared` for the process */
const SHARED_CHARS = 4 * 1024 * 1024;
const sharedCopies = new Map<string, string>();
let sharedChars = 0;

/**
 * `flat(s)`, one copy for equal strings: what a run holds until its end (the findings' messages, the
 * names its references look for) repeats (`Namespace "team-1" is not defined...` once per document
 * of that namespace), and each copy held is one more object every young-generation collection copies
 * and promotes. The bench's 10,000-document findings corpus holds 40,000 such strings, 15,000 of
 * them different.
 */
export function shared(s: string): string {
  let c = sharedCopies.get(s);
  if (c === undefined) {
    c = flat(s);
    if (sharedChars < SHARED_CHARS) {
      sharedCopies.set(c, c);
      sharedChars += c.length;
    }
  }
  return c;
}
