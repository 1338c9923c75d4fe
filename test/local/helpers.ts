import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { exec } from '../../src/os/exec.js';
import type { UserIds } from '../../src/os/passwd.js';
import { chownTree, ensureUser } from '../../src/os/user.js';

/** the repository root, from dist/test/local/ */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

import { freePort } from '../helpers/ports.js';

export { freePort };

export interface TestPostgres {
  readonly dir: string;
  readonly data: string;
  readonly socketDir: string;
  readonly port: number;
  readonly user: UserIds | undefined;
  readonly bin: string;
  superuser(database?: string): pg.Client;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

/** A throwaway PostgreSQL on a free loopback port, run as `castle` when we are root. */
export async function startTestPostgres(bin = '/usr/lib/postgresql/15/bin'): Promise<TestPostgres> {
  let user: UserIds | undefined;
  if (process.getuid?.() === 0) {
    const u = await ensureUser('castle');
    if (!u.ok) throw new Error(u.reason);
    user = u.value;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'castle-pg-'));
  const given = await chownTree(user, dir);
  if (!given.ok) throw new Error(given.reason);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const init = await exec(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync'],
    { asUser: user ?? null, cwd: dir },
  );
  if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off`;
  const start = await exec(path.join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', path.join(dir, 'pg.log'), '-w', '-t', '30', 'start'], {
    asUser: user ?? null,
    cwd: dir,
  });
  if (start.code !== 0) throw new Error(`pg_ctl start failed: ${start.stderr}${start.stdout}`);
  let stopped = false;
  return {
    dir,
    data,
    socketDir: dir,
    port,
    user,
    bin,
    superuser: (database = 'postgres') => new pg.Client({ host: dir, port, user: 'postgres', database }),
    stop: async (mode = 'fast') => {
      if (stopped) return;
      const r = await exec(path.join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop'], { asUser: user ?? null, cwd: dir });
      if (r.code === 0 || /not running|No such file/i.test(r.stderr)) stopped = true;
    },
  };
}
