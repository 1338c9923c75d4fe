import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliExit, EXIT_INVALID, EXIT_OK } from './common.js';

const TEMPLATES: Record<string, string> = {
  local: 'examples/local',
  layers: 'examples/engine',
};

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('write a starter castle: the local castle (PostgreSQL, pgBackRest, pgBouncer, S3, blog) or plain layers')
    .argument('[dir]', 'where to write it', '.')
    .option('--template <name>', `one of: ${Object.keys(TEMPLATES).join(', ')}`, 'local')
    .option('--force', 'overwrite an existing castle.yaml')
    .action((dirArg: string, o: { template: string; force?: boolean }) => {
      const from = TEMPLATES[o.template];
      if (!from) throw new CliExit(EXIT_INVALID, `--template ${o.template}: use ${Object.keys(TEMPLATES).join(' or ')}`);
      const src = fileURLToPath(new URL(`../../../${from}`, import.meta.url));
      const dir = resolve(dirArg);
      if (existsSync(join(dir, 'castle.yaml')) && !o.force) throw new CliExit(EXIT_INVALID, `${join(dir, 'castle.yaml')} exists: pass --force to overwrite it`);
      mkdirSync(dir, { recursive: true });
      // never copy a castle's state or secrets
      cpSync(src, dir, { recursive: true, filter: (p) => !/(^|\/)(\.castle|secrets\.env)$/.test(p) });
      const files = readdirSync(dir).filter((f) => f !== '.castle');
      const rel = relative(process.cwd(), dir) || '.';
      process.stdout.write(
        `wrote a ${o.template} castle in ${rel}: ${files.join(', ')}\n` +
          `next:\n  castle plan${rel === '.' ? '' : ` -f ${rel}/castle.yaml`}\n  castle up\n  castle rebirth\n` +
          (o.template === 'local' ? 'secrets (S3 keys, generated passwords) go to secrets.env, mode 600: keep it out of git\n' : ''),
      );
      process.exitCode = EXIT_OK;
    });
}
