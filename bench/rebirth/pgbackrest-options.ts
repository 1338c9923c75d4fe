// `npm run bench -- pgbackrest-options --size 1GB --rounds 3`: which pgBackRest options restore the castle fastest from
// its local S3 endpoint. One bench castle (a copy of examples/local), one pgbench seed; each storage variant (compress
// type, repo bundling and bundle size, block incremental) gets its own repo path in the same bucket, a full backup, a few
// changed rows and an incremental backup (what a gate takes); then rounds of restores of each variant's newest backup into
// a scratch directory with each --process-max, in an order rotated each round, and a --delta restore over an intact copy
// (the case "where files survive"). Block incremental is a beta feature in pgBackRest 2.45 (`beta=y`). Per restore it
// reads pgBackRest's log for when the largest file was done: a restore cannot end before it (one process restores a
// file), and the "tail" after it is the small files' work still queued. It also reads the CPU the S3 endpoint spent.
// Ends with the physical copy + fsync of the same data dir as the floor.

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

const ZST1 = ['compress-type=zst', 'compress-level=1'];
const VARIANTS: readonly Variant[] = [
  { key: 'zst1', repo: ['repo1-bundle=n'], global: ZST1 },
  // pgBackRest's own bundle size
  { key: 'zst1+bundle20m', repo: ['repo1-bundle=y', 'repo1-bundle-size=20MiB'], global: ZST1 },
  { key: 'zst1+bundle4m', repo: ['repo1-bundle=y', 'repo1-bundle-size=4MiB'], global: ZST1 },
  // pgBackRest's smallest
  { key: 'zst1+bundle1m', repo: ['repo1-bundle=y', 'repo1-bundle-size=1MiB'], global: ZST1 },
  { key: 'zst1+bundle4m+block', repo: ['repo1-bundle=y', 'repo1-bundle-size=4MiB', 'repo1-block=y'], global: [...ZST1, 'beta=y'] },
  { key: 'lz4+bundle4m', repo: ['repo1-bundle=y', 'repo1-bundle-size=4MiB'], global: ['compress-type=lz4'] },
  { key: 'none+bundle4m', repo: ['repo1-bundle=y', 'repo1-bundle-size=4MiB'], global: ['compress-type=none'] },
];

/** From pgBackRest's restore log (log-level-file=detail): seconds from the start to the largest file done, and to the end. */
function restoreTimeline(log: string): { largestS: number; endS: number } | null {
  const begin = log.lastIndexOf('restore command begin');
  if (begin < 0) return null;
  const lines = log.slice(log.lastIndexOf('\n', begin) + 1).split('\n');
  const at = (l: string): number => {
    const m = /^\S+ (\d+):(\d+):(\d+\.\d+)/.exec(l);
    return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : NaN;
  };
  const unit: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
  const t0 = at(lines[0]!);
  let largest = { bytes: -1, t: NaN };
  let end = NaN;
  for (const l of lines) {
    const f = /restore file \S+ \((\d+(?:\.\d+)?)(B|KB|MB|GB),/.exec(l);
    if (f) {
      const bytes = Number(f[1]) * unit[f[2]!]!;
      if (bytes > largest.bytes) largest = { bytes, t: at(l) };
    }
    if (/restore command end/.test(l)) end = at(l);
  }
  return Number.isFinite(end) && Number.isFinite(largest.t) ? { largestS: largest.t - t0, endS: end - t0 } : null;
}

/** user + system CPU of a process so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms) */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

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
  const pms = arg('--process-max', '4,6').split(',').map(Number);
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
      // the castle's own compression and bundle lines give way to the variant's (pgBackRest refuses an option set twice)
      const text = base
        .replace(/^(compress-level|repo1-bundle|repo1-bundle-size|repo1-block|beta)=.*$/gm, '')
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
    const s3Pid = Number(readFileSync(join(bc.s3Dir, 's3.pid'), 'utf8').trim());
    const restoreLog = join(bc.pgRoot, 'pgbackrest', 'log', 'db-restore.log');
    const restore = async (v: string, pm: number, delta = false): Promise<number> => {
      execFileSync('sync');
      const t = performance.now();
      await br(v, ['restore', `--pg1-path=${scratch}`, `--process-max=${pm}`, ...(delta ? ['--delta'] : []), '--type=immediate', '--target-action=promote']);
      return performance.now() - t;
    };
    const cases = variants.flatMap((v) => pms.map((pm) => ({ v: v.key, pm })));
    const times = new Map<string, number[]>();
    const tails = new Map<string, number[]>();
    const s3Cpu = new Map<string, number[]>();
    const deltas = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      // rotated by one case a round, so that no case always follows the same one
      const order = cases.map((_, i) => cases[(i + r) % cases.length]!);
      for (const c of order) {
        await fresh();
        const cpu0 = cpuMs(s3Pid);
        const ms = await restore(c.v, c.pm);
        const k = `${c.v} pm${c.pm}`;
        times.set(k, [...(times.get(k) ?? []), ms]);
        s3Cpu.set(k, [...(s3Cpu.get(k) ?? []), cpuMs(s3Pid) - cpu0]);
        const tl = restoreTimeline(readFileSync(restoreLog, 'utf8'));
        if (tl) tails.set(k, [...(tails.get(k) ?? []), tl.endS - tl.largestS]);
        // the same restore again over the intact files: what --delta costs where files survive
        if (c.pm === pms[0]) deltas.set(c.v, [...(deltas.get(c.v) ?? []), await restore(c.v, c.pm, true)]);
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
    say(
      `restore of the newest (incr) backup from the local S3 endpoint, ${(bytes / 1e6).toFixed(0)} MB of backup, median of ${rounds} ` +
        '(MB/s, s [each run]; tail = s from the largest file done to the end; CPU of the S3 endpoint):',
    );
    for (const [k, xs] of times) {
      const med = median(xs);
      const d = deltas.get(k.replace(/ pm\d+$/, ''));
      const tail = tails.get(k) ?? [];
      say(
        `  ${k.padEnd(28)} ${(bytes / 1e6 / (med / 1000)).toFixed(0).padStart(5)} MB/s  ${(med / 1000).toFixed(2)} s  [${xs.map((x) => (x / 1000).toFixed(2)).join(' ')}]` +
          `  tail ${tail.length ? median(tail).toFixed(2) : '?'} s  S3 CPU ${median(s3Cpu.get(k) ?? [NaN]).toFixed(0)} ms` +
          (k === `${k.replace(/ pm\d+$/, '')} pm${pms[0]}` && d ? `; --delta over intact files ${(median(d) / 1000).toFixed(2)} s` : ''),
      );
    }
    say(
      `  physical copy + fsync     ${(du / 1e6 / (median(floor) / 1000)).toFixed(0).padStart(5)} MB/s  ${(median(floor) / 1000).toFixed(2)} s (the whole data dir, ${(du / 1e6).toFixed(0)} MB)`,
    );
  } finally {
    await bc?.destroy(argv.includes('--keep'));
  }
}
