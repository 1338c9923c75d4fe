#!/usr/bin/env node
import { Command } from 'commander';
import { registerValidateCommands } from '../validate/cli.js';

// Exit codes: 0 success, 1 failed run (or validation errors), 2 invalid input / bad usage.
const program = new Command();
program.name('castle').description('Ephemeral infrastructure: destroy a castle and bring it back, with its data, proven.').version('0.1.0');
program.exitOverride((err) => {
  // commander's own usage errors (unknown option, missing argument) are bad usage: exit 2
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
  process.exit(2);
});

registerValidateCommands(program);

await program.parseAsync(process.argv);
