import { readFileSync } from 'node:fs';

/** Castle's version, from its package.json (dist/src/core/ -> the package root), read once. */
export const castleVersion: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
