import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliExit, EXIT_INVALID, EXIT_OK } from './common.js';

interface Template {
  readonly dir: string;
  /** said after writing it */
  readonly note?: string;
}

/** The first one is the default: the embedded local castle. */
const TEMPLATES: Record<string, Template> = {
  local: { dir: 'examples/local', note: 'secrets (S3 keys, generated passwords) go to secrets.env, mode 600: keep it out of git\n' },
  layers: { dir: 'examples/engine' },
};
const DEFAULT_TEMPLATE = Object.keys(TEMPLATES)[0]!;

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('write a starter castle: the local castle (PostgreSQL, pgBackRest, pgBouncer, S3, blog) or plain layers')
    .argument('[dir]', 'where to write it', '.')
    .option('--template <name>', `one of: ${Object.keys(TEMPLATES).join(', ')}`, DEFAULT_TEMPLATE)
    .option('--force', 'overwrite an existing castle.yaml')
    .action((dirArg: string, o: { template: string; force?: boolean }) => {
      const template = TEMPLATES[o.template];
      if (!template) throw new CliExit(EXIT_INVALID, `--template ${o.template}: use ${Object.keys(TEMPLATES).join(' or ')}`);
      const src = fileURLToPath(new URL(`../../../${template.dir}`, import.meta.url));
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
          (template.note ?? ''),
      );
      process.exitCode = EXIT_OK;
    });
}
