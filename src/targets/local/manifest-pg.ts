import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

export const DEFAULT_PG_ROOT = '/usr/lib/postgresql';

/** Majors with a server binary under `<root>/<major>/bin/postgres`, ascending (Debian's layout). */
export function installedPostgresMajors(root = DEFAULT_PG_ROOT): number[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e) && existsSync(path.join(root, e, 'bin', 'postgres')))
    .map(Number)
    .sort((a, b) => a - b);
}

export function postgresBinDir(major: number, root = DEFAULT_PG_ROOT): string {
  return path.join(root, String(major), 'bin');
}
