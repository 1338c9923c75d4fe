import path from 'node:path';
import { installedPgMajors, PG_ROOT } from '../../data/postgres.js';

// The data layer owns how installed PostgreSQL servers are found; the manifest model reuses it.
export const DEFAULT_PG_ROOT = PG_ROOT;
export const installedPostgresMajors = installedPgMajors;

export function postgresBinDir(major: number, root = DEFAULT_PG_ROOT): string {
  return path.join(root, String(major), 'bin');
}
