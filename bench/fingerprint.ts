// `npm run bench -- fingerprint`: MB/s of table data per fingerprint pass on a real PostgreSQL, digest format 2
// (bench/fingerprint/baseline-v2.ts: COPY binary, MurmurHash3 of each row in Node) against the current format 3
// (src/data/fingerprint.ts: row hashes computed in PostgreSQL), and the scan ceiling of this machine (the same reads
// with nothing hashed: bench/fingerprint/scan-ceiling.ts), interleaved in the same rounds so a busy machine weighs on
// all alike.
//   gate path:  fingerprintCluster(conn)                       (what the backup gate runs)
//   proof path: fingerprintCluster(conn, { reference: gate }) + compareFingerprints (what the proof runs)
// "all" passes read every database; single-database passes show pgbench data, wide TOASTed rows and a keyless table
// apart. CPU seconds of the server and of this process are printed too: unlike MB/s, they hardly depend on other load.
// Options: --size 1GB (pgbench table data; default 1GB), --extra 400MB (wide + keyless tables), --runs N (default 3),
// --parallel 1,2,3 (connections for the current implementation; default its own default), --keep DIR (seed once into
// DIR and reuse it; the server is stopped at the end either way), --no-classes (whole-cluster passes only).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { connConfig, postmasterPid, stopPostgres } from '../src/data/postgres.js';
import { sleep } from '../src/os/sleep.js';
import { compareFingerprints, DEFAULT_PARALLEL, fingerprintCluster, type Fingerprint } from '../src/data/fingerprint.js';
import type { Result } from '../src/core/result.js';
import * as v2 from './fingerprint/baseline-v2.js';
import { scanCluster } from './fingerprint/scan-ceiling.js';
import { DATABASES, scaleFor, seededCluster } from './fingerprint/seed.js';

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(MB|GB|M|G)$/i.exec(s.trim());
  if (!m) throw new Error(`expected a size such as 100MB or 1GB (got '${s}')`);
  return Number(m[1]) * (m[2]!.toUpperCase().startsWith('G') ? 1e9 : 1e6);
}

function must<T>(what: string, r: Result<T>): T {
  if (!r.ok) throw new Error(`${what}: ${r.reason}`);
  return r.value;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Pass {
  readonly name: string;
  readonly impl: 'v2' | 'v3' | 'scan';
  readonly run: () => Promise<{ mbs: number; bytes: number; ms: number }>;
}

const TICK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

/**
 * CPU seconds used so far by the server (the postmaster, its live children, and the children it reaped: a pass's
 * backends exit when it ends) and by this process: what a pass costs whatever else runs on the machine.
 */
function cpuNow(postmaster: number): { server: number; node: number } {
  const stat = (pid: number): string[] | null => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    } catch {
      return null;
    }
  };
  let server = 0;
  const pm = stat(postmaster);
  // fields after "(comm) ": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
  if (pm) server += Number(pm[11]) + Number(pm[12]) + Number(pm[13]) + Number(pm[14]);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = stat(Number(d));
    if (f && Number(f[1]) === postmaster) server += Number(f[11]) + Number(f[12]);
  }
  const u = process.cpuUsage();
  return { server: server / TICK, node: (u.user + u.system) / 1e6 };
}

export async function benchFingerprint(argv: string[]): Promise<void> {
  const arg = (k: string): string | undefined => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = parseSize(arg('--size') ?? '1GB');
  const extra = parseSize(arg('--extra') ?? '400MB');
  const runs = Math.max(1, Number(arg('--runs') ?? 3));
  const keep = arg('--keep');
  const parallels = (arg('--parallel') ?? String(DEFAULT_PARALLEL)).split(',').map(Number);
  const classes = !argv.includes('--no-classes');
  const say = (t: string) => console.log(t);

  const seeded = await seededCluster({ ...(keep ? { dir: keep } : {}), scale: scaleFor(size), extraBytes: extra, log: () => {} });
  const cl = seeded.cluster;
  try {
    const conn = connConfig(cl);
    delete conn.database;
    say(
      `fingerprint bench: PostgreSQL ${cl.major} in ${seeded.dir}${seeded.seedSeconds ? ` (seeded in ${seeded.seedSeconds.toFixed(0)} s: pgbench -s ${scaleFor(size)}, ${(extra / 1e6).toFixed(0)} MB wide + keyless)` : ' (kept seed)'}; ${runs} rounds, order rotated`,
    );
    // warm the page cache and take the gates once: the proof passes compare with these
    const gateV2 = must('v2 gate', await v2.fingerprintCluster(conn));
    const gateV3 = must('v3 gate', await fingerprintCluster(conn));
    const tableMb = (f: { tables: readonly { database: string; bytes: number }[] }, db?: string) =>
      f.tables.filter((t) => !db || t.database === db).reduce((s, t) => s + t.bytes, 0) / 1e6;
    say(
      `table data (pg_table_size): ${tableMb(gateV3).toFixed(0)} MB in ${gateV3.databases.length} databases: ` +
        DATABASES.map((d) => `${d} ${tableMb(gateV3, d).toFixed(0)} MB`).join(', '),
    );

    const fig = (f: { tableBytes: number; durationMs: number }) => ({ mbs: f.tableBytes / 1e6 / (f.durationMs / 1000), bytes: f.tableBytes, ms: f.durationMs });
    const passes: Pass[] = [
      { name: 'gate  all', impl: 'v2', run: async () => fig(must('v2', await v2.fingerprintCluster(conn))) },
      {
        name: 'proof all',
        impl: 'v2',
        run: async () => {
          const t = Date.now();
          const f = must('v2 proof', await v2.fingerprintCluster(conn, { reference: gateV2 }));
          const d = v2.compareFingerprints(gateV2, f);
          if (d.length) throw new Error(`v2 proof differs: ${d[0]!.detail}`);
          return { mbs: f.tableBytes / 1e6 / ((Date.now() - t) / 1000), bytes: f.tableBytes, ms: Date.now() - t };
        },
      },
    ];
    for (const p of parallels) {
      const label = parallels.length > 1 ? ` p${p}` : '';
      passes.push({ name: `gate  all${label}`, impl: 'v3', run: async () => fig(must('v3', await fingerprintCluster(conn, { parallel: p }))) });
      passes.push({
        name: `proof all${label}`,
        impl: 'v3',
        run: async () => {
          const t = Date.now();
          const f = must('v3 proof', await fingerprintCluster(conn, { reference: gateV3, parallel: p }));
          const d = compareFingerprints(gateV3, f);
          if (d.length) throw new Error(`v3 proof differs: ${d[0]!.detail}`);
          return { mbs: f.tableBytes / 1e6 / ((Date.now() - t) / 1000), bytes: f.tableBytes, ms: Date.now() - t };
        },
      });
    }
    // the ceiling: the same reads with nothing hashed (scan-ceiling.ts), on the current implementation's connections
    const scan = async (dbs: readonly string[]) => {
      const s = await scanCluster(conn, dbs, parallels[0] ?? DEFAULT_PARALLEL);
      return { mbs: s.bytes / 1e6 / (s.ms / 1000), bytes: s.bytes, ms: s.ms };
    };
    passes.push({ name: 'gate  all', impl: 'scan', run: () => scan(gateV3.databases) });
    if (classes)
      for (const db of ['pgbench', 'wide', 'keyless']) {
        passes.push({ name: `gate  ${db}`, impl: 'v2', run: async () => fig(must('v2', await v2.fingerprintCluster(conn, { databases: [db] }))) });
        passes.push({ name: `gate  ${db}`, impl: 'v3', run: async () => fig(must('v3', await fingerprintCluster(conn, { databases: [db] }))) });
        passes.push({ name: `gate  ${db}`, impl: 'scan', run: () => scan([db]) });
      }

    const got = new Map<Pass, number[]>(passes.map((p) => [p, []]));
    const cpu = new Map<Pass, { server: number; node: number; mb: number }[]>(passes.map((p) => [p, []]));
    const pm = postmasterPid(cl)!;
    for (let r = 0; r < runs; r++) {
      // rotate the order so neither implementation always runs first or last in a round
      const order = passes.map((_, i) => passes[(i + r) % passes.length]!);
      const line: string[] = [];
      for (const p of order) {
        const c0 = cpuNow(pm);
        const x = await p.run();
        await sleep(200); // the postmaster reaps the pass's backends: their CPU moves to its children's total
        const c1 = cpuNow(pm);
        got.get(p)!.push(x.mbs);
        cpu.get(p)!.push({ server: c1.server - c0.server, node: c1.node - c0.node, mb: x.bytes / 1e6 });
        line.push(`${p.impl} ${p.name.trim()} ${x.mbs.toFixed(0)}`);
      }
      say(`round ${r + 1} (MB/s): ${line.join(' | ')}`);
    }

    say(
      `\nMB/s of table data per pass (median of ${runs}; min-max), format 3 (row hashes computed in PostgreSQL, ${parallels.join('/')} connections) against format 2 (COPY binary, MurmurHash3 in Node, ${v2.DEFAULT_PARALLEL} connections), and the scan ceiling (count(*) over the same block ranges and connections: nothing hashed, no column read; no fingerprint read through PostgreSQL passes it):`,
    );
    const names = [...new Set(passes.map((p) => p.name))];
    for (const n of names) {
      const a = passes.find((p) => p.name === n && p.impl === 'v2') ?? passes.find((p) => p.name === n.replace(/ p\d+$/, '') && p.impl === 'v2');
      const b = passes.find((p) => p.name === n && p.impl === 'v3');
      const c = passes.find((p) => p.name === n.replace(/^proof/, 'gate ').replace(/ p\d+$/, '') && p.impl === 'scan');
      const cell = (p?: Pass) => {
        const xs = p ? got.get(p)! : [];
        return xs.length ? `${median(xs).toFixed(0).padStart(5)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})` : '    -';
      };
      // the ratio of medians, and the median of the per-round ratios (both ran in the same round)
      const ra = a ? got.get(a)! : [];
      const rb = b ? got.get(b)! : [];
      const ratios = ra.length && rb.length ? rb.map((x, i) => x / ra[i]!) : [];
      const rc = c ? got.get(c)! : [];
      say(
        `  ${n.padEnd(16)} v2 ${cell(a).padEnd(16)} v3 ${cell(b).padEnd(16)} scan ${cell(c).padEnd(16)}${ratios.length ? ` v3/v2 ${(median(rb) / median(ra)).toFixed(2)} (per round ${ratios.map((x) => x.toFixed(2)).join(', ')})` : ''}${rb.length && rc.length ? `, v3/scan ${(median(rb) / median(rc)).toFixed(2)}` : ''}`,
      );
    }
    say(
      `\nCPU seconds per GB of table data (median; server = postmaster and backends, node = this process), and the MB/s that CPU would allow at most on 2 idle cores:`,
    );
    for (const p of passes) {
      const xs = cpu.get(p)!;
      const srv = median(xs.map((x) => (x.server / x.mb) * 1000));
      const nd = median(xs.map((x) => (x.node / x.mb) * 1000));
      say(
        `  ${p.impl} ${p.name.padEnd(16)} server ${srv.toFixed(2)} s + node ${nd.toFixed(2)} s = ${(srv + nd).toFixed(2)} s/GB -> ${(2000 / (srv + nd)).toFixed(0)} MB/s`,
      );
    }
  } finally {
    await stopPostgres(cl).catch(() => undefined);
    if (!keep) rmSync(seeded.dir, { recursive: true, force: true });
  }
}
