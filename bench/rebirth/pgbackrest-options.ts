// `npm run bench -- pgbackrest-options --size 1GB --rounds 3`: which pgBackRest options restore the castle fastest from
// its local S3 endpoint. One bench castle (a copy of examples/local), one pgbench seed; each storage variant (compress
// type, repo bundling, block incremental) gets its own repo path in the same bucket, a full backup, a few changed rows
// and an incremental backup (what a gate takes); then rounds of restores of each variant's newest backup into a scratch
// directory with process-max 1, 2 and 4, in an order rotated each round, and a --delta restore over an intact copy
// (the case "where files survive"). Block incremental is a beta feature in pgBackRest 2.45 (`beta=y`). Ends with the physical copy + fsync of the same data dir as the floor.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../src/os/exec.js';
import { isRoot } from '../../src/os/passwd.js';
import { pgCluster } from '../../src/data/postgres.js';
import { benchCastle, type BenchCastle } from './local.js';

interface Variant {
  readonly key: string;
  /** repo1 options written into the variant's config */
  readonly repo: readonly string[];
  readonly global: readonly string[];
}

const VARIANTS: readonly Variant[] = [
  { key: 'lz4', repo: [], global: ['compress-type=lz4'] },
  { key: 'lz4+bundle', repo: ['repo1-bundle=y'], global: ['compress-type=lz4'] },
  { key: 'lz4+bundle+block', repo: ['repo1-bundle=y', 'repo1-block=y'], global: ['compress-type=lz4', 'beta=y'] },
  { key: 'none+bundle', repo: ['repo1-bundle=y'], global: ['compress-type=none'] },
  { key: 'zst1+bundle', repo: ['repo1-bundle=y'], global: ['compress-type=zst', 'compress-level=1'] },
];

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

export async function benchPgbackrestOptions(argv: string[]): Promise<void> {
  const arg = (name: string, dflt: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 ? (argv[i + 1] ?? dflt) : dflt;
  };
  const sizeArg = arg('--size', '1GB');
  const m = /^(\d+(?:\.\d+)?)\s*(MB|GB)$/i.exec(sizeArg);
  if (!m) throw new Error(`--size: expected e.g. 100MB or 1GB (got '${sizeArg}')`);
  const size = Number(m[1]) * (m[2]!.toUpperCase() === 'GB' ? 1e9 : 1e6);
  const rounds = Math.max(1, Number(arg('--rounds', '3')));
  const pms = arg('--process-max', '1,2,4').split(',').map(Number);
  const only = arg('--variants', VARIANTS.map((v) => v.key).join(',')).split(',');
  const variants = VARIANTS.filter((v) => only.includes(v.key));
  const say = (t: string) => console.log(t);
  let bc: BenchCastle | undefined;
  try {
    bc = await benchCastle();
    const up = await bc.cli(['up']);
    if (up.code !== 0) throw new Error(`castle up failed: ${up.stderr.slice(-1500)}`);
    const pgVersion = Number(readFileSync(join(bc.pgRoot, 'pgdata', 'PG_VERSION'), 'utf8').trim());
    const pc = pgCluster({ root: bc.pgRoot, port: bc.ports.postgres, pgVersion });
    if (!pc.ok) throw new Error(pc.reason);
    const cl = pc.value;
    const asUser = cl.osUser && isRoot() ? cl.osUser : null;
    const run = async (cmd: string, args: string[]): Promise<string> => {
      const r = await exec(cmd, args, { asUser, quietStdout: true, cwd: bc!.pgRoot });
      if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.slice(-800)}${r.stdout.slice(-400)}`);
      return r.stdout;
    };
    const scale = Math.max(1, Math.round(size / 15e6));
    await run(join(cl.binDir, 'pgbench'), [
      '-h',
      cl.socketDir,
      '-p',
      String(cl.port),
      '-U',
      cl.superuser,
      '-i',
      '-I',
      'dtGvp',
      '-s',
      String(scale),
      '-q',
      'blog',
    ]);
    const files = Number(execFileSync('bash', ['-c', `find ${cl.dataDir} -type f | wc -l`], { encoding: 'utf8' }).trim());
    const du = Number(execFileSync('du', ['-sb', cl.dataDir], { encoding: 'utf8' }).split('\t')[0]);
    const pgbrVersion = execFileSync('pgbackrest', ['version'], { encoding: 'utf8' }).trim();
    say(`${pgbrVersion}; pgbench scale ${scale}: data dir ${(du / 1e6).toFixed(0)} MB in ${files} files; ${rounds} rounds, process-max ${pms.join('/')}`);

    // one config per variant: the castle's own, with its repo1 under another path and the variant's options
    const base = readFileSync(join(bc.pgRoot, 'pgbackrest', 'pgbackrest.conf'), 'utf8');
    const confs = new Map<string, string>();
    for (const v of variants) {
      const text = base
        .replace(/^compress-type=.*$/m, v.global.join('\n'))
        .replace(/^repo1-path=.*$/m, `repo1-path=/bench-options/${v.key.replace(/\+/g, '-')}\n${v.repo.join('\n')}`)
        .replace(/^repo2-.*$/gm, '');
      const f = join(bc.pgRoot, 'pgbackrest', `bench-${v.key.replace(/\+/g, '-')}.conf`);
      writeFileSync(f, text, { mode: 0o600 });
      if (asUser) execFileSync('chown', [asUser, f]);
      confs.set(v.key, f);
    }
    const br = (v: string, args: string[]): Promise<string> => run('pgbackrest', [`--config=${confs.get(v)!}`, '--stanza=db', ...args]);
    const backupRow: string[] = [];
    /** bytes of the data dir each variant's newest backup restores (pgBackRest's backup size; pg_wal is not in it) */
    let bytes = 0;
    for (const v of variants) {
      await br(v.key, ['stanza-create']);
      let t = performance.now();
      await br(v.key, ['backup', '--type=full', '--no-archive-check']);
      const fullMs = performance.now() - t;
      // what a gate sees: some rows changed since the last backup
      await run(join(cl.binDir, 'pgbench'), ['-h', cl.socketDir, '-p', String(cl.port), '-U', cl.superuser, '-n', '-t', '2000', 'blog']);
      t = performance.now();
      await br(v.key, ['backup', '--type=incr', '--no-archive-check']);
      const incrMs = performance.now() - t;
      const info = JSON.parse(await br(v.key, ['info', '--output=json'])) as { backup: { info: { size: number; repository: { delta: number } } }[] }[];
      const bks = info[0]!.backup;
      bytes = bks.at(-1)!.info.size;
      backupRow.push(
        `  ${v.key.padEnd(18)} full ${(fullMs / 1000).toFixed(1)} s (${(bks[0]!.info.repository.delta / 1e6).toFixed(0)} MB stored), ` +
          `incr ${(incrMs / 1000).toFixed(2)} s (${(bks.at(-1)!.info.repository.delta / 1e6).toFixed(1)} MB stored)`,
      );
    }
    say('backups (full, then incr after pgbench -t 2000):');
    for (const r of backupRow) say(r);

    const scratch = join(bc.pgRoot, 'bench-restore');
    const fresh = async (): Promise<void> => {
      rmSync(scratch, { recursive: true, force: true });
      await run('mkdir', ['-m', '700', scratch]);
    };
    const restore = async (v: string, pm: number, delta = false): Promise<number> => {
      execFileSync('sync');
      const t = performance.now();
      await br(v, ['restore', `--pg1-path=${scratch}`, `--process-max=${pm}`, ...(delta ? ['--delta'] : []), '--type=immediate', '--target-action=promote']);
      return performance.now() - t;
    };
    const cases = variants.flatMap((v) => pms.map((pm) => ({ v: v.key, pm })));
    const times = new Map<string, number[]>();
    const deltas = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      const order = cases.map((_, i) => cases[(i + r * 3) % cases.length]!);
      for (const c of order) {
        await fresh();
        const ms = await restore(c.v, c.pm);
        const k = `${c.v} pm${c.pm}`;
        times.set(k, [...(times.get(k) ?? []), ms]);
        // the same restore again over the intact files: what --delta costs where files survive
        if (c.pm === 2) deltas.set(c.v, [...(deltas.get(c.v) ?? []), await restore(c.v, 2, true)]);
      }
      say(`round ${r + 1}: ${order.map((c) => `${c.v} pm${c.pm} ${(times.get(`${c.v} pm${c.pm}`)!.at(-1)! / 1000).toFixed(2)}`).join(', ')}`);
    }
    rmSync(scratch, { recursive: true, force: true });
    // the floor: the data dir copied + fsync
    const floor: number[] = [];
    for (let r = 0; r < rounds; r++) {
      execFileSync('sync');
      const t = performance.now();
      execFileSync('cp', ['-a', cl.dataDir, scratch]);
      execFileSync('sync', ['-f', scratch]);
      floor.push(performance.now() - t);
      rmSync(scratch, { recursive: true, force: true });
    }
    say('');
    say(`restore of the newest (incr) backup from the local S3 endpoint, ${(bytes / 1e6).toFixed(0)} MB of backup, median of ${rounds} (MB/s, s):`);
    for (const [k, xs] of times) {
      const med = median(xs);
      const d = deltas.get(k.replace(/ pm\d+$/, ''));
      say(
        `  ${k.padEnd(24)} ${(bytes / 1e6 / (med / 1000)).toFixed(0).padStart(5)} MB/s  ${(med / 1000).toFixed(2)} s  [${xs.map((x) => (x / 1000).toFixed(2)).join(' ')}]` +
          (k.endsWith('pm2') && d ? `; --delta over intact files ${(median(d) / 1000).toFixed(2)} s` : ''),
      );
    }
    say(
      `  physical copy + fsync     ${(du / 1e6 / (median(floor) / 1000)).toFixed(0).padStart(5)} MB/s  ${(median(floor) / 1000).toFixed(2)} s (the whole data dir, ${(du / 1e6).toFixed(0)} MB)`,
    );
  } finally {
    await bc?.destroy(argv.includes('--keep'));
  }
}
