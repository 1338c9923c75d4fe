import type { Command as CommandType } from 'commander';
import { Command, CommanderError } from '../core/commander.js';
import { castleVersion } from '../core/version.js';
import { CliExit, EXIT_INVALID } from './exit.js';

/**
 * The castle command with the subcommands `register` adds, run on process.argv. Exit codes (process.exitCode):
 * 0 success, 1 failed run (or validation errors), 2 invalid input / bad usage, 70 a bug.
 */
export async function runCastle(register: (program: CommandType) => void): Promise<void> {
  const program = new Command();
  program
    .name('castle')
    .description('Ephemeral infrastructure: destroy a castle and bring it back, with its data, proven.')
    .version(castleVersion)
    .exitOverride()
    .showHelpAfterError('(castle --help for usage)');
  register(program);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CliExit) {
      if (err.message) process.stderr.write(`castle: ${err.message}\n`);
      process.exitCode = err.code;
    } else if (err instanceof CommanderError) {
      // help and version are not errors; everything else commander rejects is bad usage
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : EXIT_INVALID;
    } else {
      process.stderr.write(`castle: internal error (a bug, please report it): ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 70;
    }
  }
}
