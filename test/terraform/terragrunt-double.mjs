#!/usr/bin/env node
// A test double of Terragrunt (>= 0.73) as a wrapper around the terraform double: it forwards
// init/plan/apply/destroy/output as they are and other commands after `run --`, initialises a unit
// that was never initialised (Terragrunt's auto-init), refuses to prompt without non-interactive
// mode, and prints its own log lines (text, on stderr) around Terraform's output, as Terragrunt does.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TF = fileURLToPath(new URL('./terraform-double.mjs', import.meta.url));
const log = (level, msg) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${level.padEnd(6)} ${msg}\n`);
let args = process.argv.slice(2);
const SHORTCUTS = new Set(['init', 'plan', 'apply', 'destroy', 'output', 'validate', 'refresh', 'version']);
if (args[0] === 'run') {
  const sep = args.indexOf('--');
  args = sep < 0 ? args.slice(1) : args.slice(sep + 1);
} else if (!SHORTCUTS.has(args[0])) {
  log('ERROR', `Terragrunt command ${args[0]} is not a shortcut: use \`terragrunt run -- ${args.join(' ')}\``);
  process.exit(1);
}
if (process.env.TG_NON_INTERACTIVE !== 'true' && args.includes('-auto-approve') === false && (args[0] === 'apply' || args[0] === 'destroy')) {
  log('ERROR', 'would prompt for confirmation: run with --non-interactive');
  process.exit(1);
}
if (args[0] !== 'init' && !existsSync('.terraform')) {
  log('INFO', 'Running command: terraform init (auto-init)');
  const i = spawnSync(process.execPath, [TF, 'init', '-input=false', '-no-color'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (i.status !== 0) process.exit(i.status ?? 1);
}
log('INFO', `Running command: terraform ${args.join(' ')}`);
const r = spawnSync(process.execPath, [TF, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
