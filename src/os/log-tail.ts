import { readFileSync } from 'node:fs';

/** The last `lines` lines of a log file (only those matching `filter` when given); [] when unreadable. */
export function tailLines(file: string, lines: number, filter?: RegExp): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  let all = text.trimEnd().split('\n');
  if (filter) all = all.filter((l) => filter.test(l));
  return all.slice(-lines);
}
