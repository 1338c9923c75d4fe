import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { importTerragrunt } from '../targets/terraform/import/index.js';
import { CliExit, EXIT_INVALID, valueOrExit } from './common.js';

interface ImportFlags {
  out: string;
  name?: string;
  binary: string;
  force?: boolean;
  stdout?: boolean;
}

export function registerImportCommand(program: Command): void {
  const imp = program.command('import').description('write a castle.yaml from an existing tree');
  imp
    .command('terragrunt <dir>')
    .description('one layer per terragrunt.hcl under DIR, its dependency blocks as edges')
    .option('-o, --out <file>', 'castle file to write', 'castle.yaml')
    .option('--name <name>', "the castle's name (default: the folder's)")
    .option('--binary <binary>', 'terragrunt, terraform or tofu', 'terragrunt')
    .option('--force', 'overwrite an existing castle file')
    .option('--stdout', 'print instead of writing the file')
    .action(async (dir: string, o: ImportFlags) => {
      if (!['terragrunt', 'terraform', 'tofu'].includes(o.binary)) throw new CliExit(EXIT_INVALID, `--binary ${o.binary}: use terragrunt, terraform or tofu`);
      const out = resolve(o.out);
      if (!o.stdout && existsSync(out) && !o.force) throw new CliExit(EXIT_INVALID, `${out} exists: use --force to overwrite it, or -o another file`);
      const r = valueOrExit(await importTerragrunt(dir, { out, binary: o.binary, ...(o.name ? { name: o.name } : {}) }));
      if (o.stdout) process.stdout.write(r.yaml);
      else {
        writeFileSync(out, r.yaml);
        process.stdout.write(`wrote ${out}: ${r.layers} layers\n`);
      }
    });
}
