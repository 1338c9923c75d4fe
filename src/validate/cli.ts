import type { Command } from 'commander';

/** `castle validate` and `castle schemas` (issue 4). */
export function registerValidateCommands(_program: Command): void {}
