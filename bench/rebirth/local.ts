// A throwaway copy of examples/local for the rebirth bench: its own temp dir, data dir, object store and
// free loopback ports. Everything it starts is stopped by its own commands and pid files.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventEnvelope } from '../../src/events.js';
import { castleProcesses } from '../../src/data/rebirth.js';
import { copyLocalExample } from '../../test/helpers/local-castle.js';

export const CLI = resolve(fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
  readonly events: EventEnvelope[];
}

export interface BenchCastle {
  readonly base: string;
  readonly dir: string;
  readonly file: string;
  /** the same castle, its gate without fingerprint */
  readonly fileNoGateFp: string;
  readonly dataDir: string;
  readonly s3Dir: string;
  readonly ports: { s3: number; postgres: number; pgbouncer: number; blog: number };
  /** the PostgresCluster's data root: <dataDir>/postgres/blog-db */
  readonly pgRoot: string;
  cli(args: readonly string[]): Promise<CliRun>;
  /** castle down --no-backup --i-accept-data-loss, the S3 daemon by its pid file, the temp dir */
  destroy(keep: boolean): Promise<void>;
}

export async function benchCastle(): Promise<BenchCastle> {
  // a 1 GB rebirth outlives the example's 2 minutes; the budget is reported, never enforced
  const { base, dir, file, yaml, dataDir, s3Dir, ports } = await copyLocalExample('castle-bench-', (y) => y.replace(/^budget: .*$/m, 'budget: 30m'));
  const noFp = yaml.replace(/\{backup: \{\}/, '{backup: {fingerprint: false}');
  if (noFp === yaml) throw new Error('examples/local/castle.yaml: the gate step `{backup: {}` was not found');
  const fileNoGateFp = join(dir, 'castle-nogatefp.yaml');
  writeFileSync(fileNoGateFp, noFp);
  const env: NodeJS.ProcessEnv = { ...process.env, CASTLE_PLAIN: '1', NO_COLOR: '1' };

  const cli = (args: readonly string[]): Promise<CliRun> =>
    new Promise((res, rej) => {
      const t0 = performance.now();
      const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', rej);
      child.on('close', (code) => {
        const wallMs = performance.now() - t0;
        const events: EventEnvelope[] = [];
        if (args.includes('--json'))
          for (const line of stdout.split('\n'))
            if (line.startsWith('{'))
              try {
                events.push(JSON.parse(line) as EventEnvelope);
              } catch {
                /* not an event */
              }
        res({ code, stdout, stderr, wallMs, events });
      });
    });

  return {
    base,
    dir,
    file,
    fileNoGateFp,
    dataDir,
    s3Dir,
    ports,
    pgRoot: join(dataDir, 'postgres', 'blog-db'),
    cli,
    async destroy(keep) {
      await cli(['down', '--no-backup', '--i-accept-data-loss', '--no-preflight']).catch(() => undefined);
      const cmdline = (pid: number): string => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      };
      const stop = async (pids: number[], sig: NodeJS.Signals): Promise<void> => {
        for (const pid of pids)
          try {
            process.kill(pid, sig);
          } catch {
            /* gone */
          }
        for (let i = 0; i < 50 && pids.some((p) => existsSync(`/proc/${p}`)); i++) await new Promise((r) => setTimeout(r, 100));
      };
      // the S3 daemon, by its pid file
      const pidFile = join(s3Dir, 's3.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        if (pid > 0 && cmdline(pid).includes(s3Dir)) await stop([pid], 'SIGTERM');
      }
      // when down could not run (interrupted mid-rebirth, the castle still locked): the postmaster by its pid file,
      // then anything else started with a path in this temp dir
      const pmFile = join(dataDir, 'postgres', 'blog-db', 'pgdata', 'postmaster.pid');
      if (existsSync(pmFile)) {
        const pid = Number(readFileSync(pmFile, 'utf8').split('\n')[0]);
        if (pid > 0 && cmdline(pid).includes(base)) await stop([pid], 'SIGQUIT');
      }
      const left = castleProcesses(base);
      if (left.length) {
        await stop(left, 'SIGTERM');
        await stop(
          left.filter((p) => existsSync(`/proc/${p}`)),
          'SIGKILL',
        );
      }
      if (!keep) rmSync(base, { recursive: true, force: true });
    },
  };
}
