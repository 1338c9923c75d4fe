import { writeSync } from 'node:fs';

/** Writes all of `text` at the file's position: writeSync may write less than it was given. */
export function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
}
