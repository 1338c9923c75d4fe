import type { Diagnostic, SourceLocation } from './diagnostic.js';

/**
 * A castle file larger than this is not parsed: no real castle.yaml comes near it, and the YAML parser holds
 * ~250 bytes per input byte (a 3.9 MB file took 750 MB and 40 s on this 2-core machine, 0.8 MB 240 MB and 6 s).
 */
export const MAX_TEXT_FILE_BYTES = 1024 * 1024;

export function tooLarge(file: string, size: number, what: string, maxBytes = MAX_TEXT_FILE_BYTES): Diagnostic {
  return {
    severity: 'error',
    rule: 'input/too-large',
    message: `${what} is ${(size / 1e6).toFixed(1)} MB, over the ${maxBytes / 1024 / 1024} MB limit: not parsed`,
    location: { file, line: 1, col: 1 },
    hint: `is this the right file? a ${what} is a few KB`,
  };
}

/** Line and column (1-based) of a byte offset, counting characters as UTF-8 sequences up to it. */
function byteLocation(file: string, buf: Buffer, offset: number): SourceLocation {
  let line = 1;
  let start = 0;
  for (let i = buf.indexOf(10); i !== -1 && i < offset; i = buf.indexOf(10, i + 1)) {
    line++;
    start = i + 1;
  }
  const col = buf.subarray(start, offset).toString('utf8').length + 1;
  return { file, line, col, length: 1 };
}

/** The first byte at which `buf` stops being UTF-8. */
function firstInvalidUtf8(buf: Buffer): number {
  let lo = 0;
  let hi = buf.length;
  const ok = (n: number): boolean => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  // binary search for the shortest invalid prefix (a streaming decode accepts a cut sequence)
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ok(mid + 1)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The text of a file a person writes (castle.yaml), or a located diagnostic when it is not one: too big,
 * binary (a NUL byte), or not UTF-8. Parsing such a file would print garbage or hold hundreds of MB.
 */
export function decodeTextFile(
  file: string,
  buf: Buffer,
  what: string,
  maxBytes = MAX_TEXT_FILE_BYTES,
): { ok: true; text: string } | { ok: false; diagnostic: Diagnostic } {
  if (buf.length > maxBytes) return { ok: false, diagnostic: tooLarge(file, buf.length, what, maxBytes) };
  const nul = buf.indexOf(0);
  if (nul !== -1)
    return {
      ok: false,
      diagnostic: {
        severity: 'error',
        rule: 'input/binary',
        message: `${what} is a binary file (a NUL byte here): not parsed`,
        location: byteLocation(file, buf, nul),
        hint: `give the YAML ${what}`,
      },
    };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(buf) };
  } catch {
    const at = firstInvalidUtf8(buf);
    return {
      ok: false,
      diagnostic: {
        severity: 'error',
        rule: 'input/encoding',
        message: `${what} is not valid UTF-8 (byte 0x${(buf[at] ?? 0).toString(16).padStart(2, '0')} here)`,
        location: byteLocation(file, buf, at),
        hint: 'save it as UTF-8',
      },
    };
  }
}
