import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from './cli.js';
import { freePort } from './ports.js';

const EXAMPLE = resolve(fileURLToPath(new URL('../../../examples/local', import.meta.url)));

export { freePort };

export interface ExampleCopy {
  /** the temp dir holding the castle, its data dir and its object store */
  readonly base: string;
  readonly dir: string;
  readonly file: string;
  readonly yaml: string;
  readonly dataDir: string;
  readonly s3Dir: string;
  readonly ports: { s3: number; postgres: number; pgbouncer: number; blog: number };
}

/** examples/local in a temp dir, on free loopback ports, with its own data dir and object store. */
export async function copyLocalExample(prefix: string, edit: (yaml: string) => string = (y) => y): Promise<ExampleCopy> {
  const base = mkdtempSync(join(tmpdir(), prefix));
  // the unprivileged user that runs postgres must traverse it
  chmodSync(base, 0o755);
  const dir = join(base, 'castle');
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/(\.castle|secrets\.env)$/.test(src) });
  const ports = { s3: await freePort(), postgres: await freePort(), pgbouncer: await freePort(), blog: await freePort() };
  const dataDir = join(base, 'data');
  const s3Dir = join(base, 's3');
  const yaml = edit(
    readFileSync(join(dir, 'castle.yaml'), 'utf8')
      .replace(
        /^  secrets: .*$/m,
        (l) =>
          `${l}\n  dataDir: ${dataDir}\n  objectStore: {dir: ${s3Dir}, port: ${ports.s3}}\n  ports: {postgres: ${ports.postgres}, pgbouncer: ${ports.pgbouncer}}`,
      )
      .replaceAll('8080', String(ports.blog)),
  );
  const file = join(dir, 'castle.yaml');
  writeFileSync(file, yaml);
  return { base, dir, file, yaml, dataDir, s3Dir, ports };
}

export interface LocalCastle {
  readonly dir: string;
  readonly dataDir: string;
  readonly s3Dir: string;
  readonly ports: { s3: number; postgres: number; pgbouncer: number; blog: number };
  castle(args: readonly string[]): { code: number | null; stdout: string; stderr: string };
  secret(key: string): string;
  setSecret(key: string, value: string): void;
  /** stops everything this castle started (by its own commands and pid files) and deletes its folders */
  destroy(): void;
}

/** examples/local in a temp dir, on free loopback ports, with its own data dir and object store. */
export async function localCastle(edit?: (yaml: string) => string): Promise<LocalCastle> {
  const { base, dir, dataDir, s3Dir, ports } = await copyLocalExample('castle-local-', edit);
  const env: NodeJS.ProcessEnv = { ...process.env, CASTLE_PLAIN: '1', NO_COLOR: '1' };
  delete env['NODE_TEST_CONTEXT'];
  const castle = (args: readonly string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env, timeout: 300_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const secretsFile = join(dir, 'secrets.env');
  const secret = (key: string): string => {
    const line = readFileSync(secretsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${key}=`));
    if (!line) throw new Error(`no ${key} in secrets.env`);
    return line.slice(key.length + 1).replace(/^['"]|['"]$/g, '');
  };
  const setSecret = (key: string, value: string): void => {
    const lines = readFileSync(secretsFile, 'utf8')
      .split('\n')
      .map((l) => (l.startsWith(`${key}=`) ? `${key}=${value}` : l));
    writeFileSync(secretsFile, lines.join('\n'), { mode: 0o600 });
  };
  return {
    dir,
    dataDir,
    s3Dir,
    ports,
    castle,
    secret,
    setSecret,
    destroy() {
      castle(['down', '--no-backup', '--i-accept-data-loss']);
      const pidFile = join(s3Dir, 's3.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        const cmd = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
        if (cmd.includes(s3Dir)) spawnSync('kill', [String(pid)]);
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
