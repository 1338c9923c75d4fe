import { isAbsolute, relative } from 'node:path';

/** A path as diagnostics show it: relative to the working directory when under it, else absolute. */
export function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}
