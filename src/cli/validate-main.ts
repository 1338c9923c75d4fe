import { registerValidateCommands } from '../validate/cli.js';
import { runCastle } from './program.js';

/** `castle validate` and `castle schemas`: the validator's commands alone (bundled into one file, see main.ts) */
export function main(): Promise<void> {
  return runCastle((program) => registerValidateCommands(program));
}
