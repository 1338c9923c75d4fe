#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { castleVersion } from '../core/version.js';
import { registerValidateCommands } from '../validate/cli.js';
import { CliExit, EXIT_INVALID } from './common.js';
import { registerImportCommand } from './import-command.js';
import { registerInitCommand } from './init-command.js';
import { registerInspectCommands } from './inspect-commands.js';
import { registerPlanCommand } from './plan-command.js';
import { registerReportCommands } from './report-command.js';
import { registerRunCommands } from './run-commands.js';

// The pinned AWS SDK supports Node 20; its notice about future releases is not the user's concern.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

// Exit codes: 0 success, 1 failed run (or validation errors), 2 invalid input / bad usage.
const program = new Command();
program
  .name('castle')
  .description('Ephemeral infrastructure: destroy a castle and bring it back, with its data, proven.')
  .version(castleVersion)
  .exitOverride()
  .showHelpAfterError('(castle --help for usage)');

registerInitCommand(program);
registerImportCommand(program);
registerPlanCommand(program);
registerRunCommands(program);
registerInspectCommands(program);
registerReportCommands(program);
registerValidateCommands(program);

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
