import { readFileSync } from 'node:fs';

/** A file's text, or undefined when there is no path or it cannot be read (as if absent). */
export function readText(abs: string | undefined): string | undefined {
  if (abs === undefined) return undefined;
  try {
    return readFileSync(abs, 'utf8');
  } catch {
    return undefined;
  }
}
