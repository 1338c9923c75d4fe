import { createRequire } from 'node:module';

type Commander = typeof import('commander');

/**
 * commander, required: its ESM entry re-exports its CommonJS one, which Node first parses for the
 * names it exports. Loading it took 20 ms of every `castle` run that way, 13 ms required.
 * Types come from `import type { ... } from 'commander'`, the very same classes.
 */
export const { Command, CommanderError, Option } = createRequire(import.meta.url)('commander') as Commander;
