import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCrdFiles, findKubeconform, writeKubeconformSchemas } from './kubeconform.js';

/**
 * `npm run bench -- validate [--sizes 1000,10000,100000] [--rounds 3] [--copies 100]`
 *
 * `castle validate` as a user runs it: a new CLI process each time, with an empty schema cache
 * (cold) and with the cache that run filled (warm). Two corpora of PostgresClusters and
 * ExternalSecrets in multi-document files of 100 documents (about 3,000 lines each): `clean` (no
 * finding) and `findings` (every document has some: a namespace, a ConfigMap, a StorageClass and a
 * store not in the set, a PostgresCluster without a restore source, a template key not fetched).
 * Prints docs/s (wall and CPU), the process's peak RSS (GNU time) and the findings, at each size,
 * and the cost per document at each size (time and memory must be linear in documents and findings).
 * kubeconform (`-n 2 -strict`, see kubeconform.ts) runs on the same files in the same run when it is
 * found, alternating with Castle's warm runs (`--rounds`: the median run of each is printed, and the
 * ratio of the medians); else Castle's figures before issue 14 (same machine) are printed beside. Then a realistic
 * tree (the homelab fixture, copied N times) with and without the line YAML reader, the figure
 * line-yaml.ts's header quotes.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
/**
 * Castle is run as the `castle` command runs: by sh, which reads the CLI's second line and runs Node with its options
 * (see src/cli/main.ts); the `node` it finds first on PATH is the one running this bench.
 */
const CASTLE_ENV = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}` };
const TIME = '/usr/bin/time';

/** issue 14: Castle before, measured the same way (new process, cache warm), and kubeconform as the issue quotes it */
const PREVIOUS: Record<string, string> = {
  clean: '10,000 docs in 2.9 s = 3,450 docs/s',
  findings: '500 docs in 21 s = 24 docs/s; 10,000 docs: minutes, 2.6 GB peak',
  kubeconform: 'kubeconform v0.6.4 -n 2 -strict: about 4,400 docs/s on either shape (target: 8,800 docs/s), 53 MB',
};

/** `creds`: the ExternalSecret beside it, which makes its credentials Secret */
function postgres(i: number, findings: boolean, creds: number): string {
  const ns = findings ? `team-${i % 50}` : 'bench';
  return `apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata:
  name: db-${i}
  namespace: ${ns}
  labels: {app.kubernetes.io/name: db-${i}, tier: data}
spec:
  postgresVersion: 16
  instances:
    - name: instance1
      replicas: 2
      dataVolumeClaimSpec:
        accessModes: [ReadWriteOnce]
        storageClassName: ${findings ? `fast-${i % 7}` : 'standard'}
        resources: {requests: {storage: 10Gi}}
${
  findings
    ? `  databaseInitSQL:
    name: init-sql-${i}
    key: init.sql
`
    : `  dataSource:
    pgbackrest:
      stanza: db
      configuration: [{secret: {name: creds-${creds}}}]
      repo: {name: repo1, s3: {bucket: b, endpoint: s3.amazonaws.com, region: eu-central-1}}
`
}  backups:
    pgbackrest:
      configuration: [{secret: {name: creds-${creds}}}]
      global:
        repo1-retention-full: "14"
        repo1-retention-full-type: time
      repos:
        - name: repo1
          schedules: {full: "0 1 * * 0", differential: "0 1 * * 1-6"}
          s3: {bucket: b, endpoint: s3.amazonaws.com, region: eu-central-1}
  patroni:
    dynamicConfiguration:
      postgresql:
        parameters:
          max_connections: 200
          shared_buffers: 256MB
  users:
    - name: app
      databases: [app]
      options: "NOSUPERUSER"
`;
}

function externalSecret(i: number, findings: boolean): string {
  const ns = findings ? `team-${i % 50}` : 'bench';
  return `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: creds-${i}
  namespace: ${ns}
spec:
  refreshInterval: 1h
  secretStoreRef: {kind: ClusterSecretStore, name: ${findings ? 'vault' : 'store'}}
  target:
    name: creds-${i}
    creationPolicy: Owner
    template:
      engineVersion: v2
      data:
        s3.conf: |
          [global]
          repo1-s3-key={{ .KEY }}
          repo1-s3-key-secret={{ .${findings ? 'SECRETS' : 'SECRET'} }}
  data:
    - secretKey: KEY
      remoteRef: {key: bench/s3, property: key}
    - secretKey: SECRET
      remoteRef: {key: bench/s3, property: secret}
`;
}

const HEADER = `apiVersion: v1
kind: Namespace
metadata: {name: bench}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: rancher.io/local-path
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: store}
spec:
  provider:
    fake:
      data: [{key: bench/s3, value: x}]
`;

/** n documents in files of 100, alternating PostgresCluster and ExternalSecret */
export function writeCorpus(dir: string, n: number, findings: boolean): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '000-base.yaml'), HEADER);
  const perFile = 100;
  const body = n - 3;
  for (let f = 0; f * perFile < body; f++) {
    const parts: string[] = [];
    for (let i = f * perFile; i < Math.min(body, (f + 1) * perFile); i++)
      parts.push(i % 2 === 0 ? postgres(i, findings, i + 1 < body ? i + 1 : i - 1) : externalSecret(i, findings));
    writeFileSync(join(dir, `${String(f + 1).padStart(4, '0')}.yaml`), parts.join('---\n'));
  }
}

interface Run {
  ms: number;
  /** user + system CPU of the process: on a shared machine, wall time also measures the neighbours */
  cpuMs: number;
  rssMiB: number;
  documents: number;
  errors: number;
  warnings: number;
  status: number | null;
}

/** the command under GNU time, its output to a file (only the head, with the counts, is read back: it can be 100 MB) */
function timed(
  cmd: string,
  args: string[],
  out: string,
  env: NodeJS.ProcessEnv = process.env,
): { ms: number; cpuMs: number; rssMiB: number; status: number | null; stderr: string } {
  const fd = openSync(out, 'w');
  const t = performance.now();
  const r = spawnSync(TIME, ['-f', '%M %U %S', cmd, ...args], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
  const ms = performance.now() - t;
  closeSync(fd);
  const m = /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return {
    ms,
    cpuMs: (Number(m?.[2] ?? 0) + Number(m?.[3] ?? 0)) * 1000,
    rssMiB: Math.round(Number(m?.[1] ?? 0) / 1024),
    status: r.status,
    stderr: r.stderr,
  };
}

function castle(args: string[], out: string): Run {
  const r = timed('/bin/sh', [CLI, 'validate', '--format', 'json', ...args], out, CASTLE_ENV);
  let stats = { documents: 0, errors: -1, warnings: -1 };
  try {
    // the counts come last in the JSON output, after the findings
    const fd = openSync(out, 'r');
    const size = fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, 8192));
    const n = readSync(fd, tail, 0, tail.length, size - tail.length);
    closeSync(fd);
    const text = tail.subarray(0, n).toString('utf8');
    stats = (JSON.parse(`{${text.slice(text.lastIndexOf('\n  "ok": '))}`) as { stats: typeof stats }).stats;
  } catch {
    process.stdout.write(`  castle failed (exit ${r.status}): ${r.stderr.slice(0, 400)}\n`);
  }
  return { ms: r.ms, cpuMs: r.cpuMs, rssMiB: r.rssMiB, documents: stats.documents, errors: stats.errors, warnings: stats.warnings, status: r.status };
}

/** the run of median wall time (its CPU and RSS with it), of an odd or even number of runs */
function median<T extends { ms: number }>(runs: readonly T[]): T {
  return [...runs].sort((a, b) => a.ms - b.ms)[Math.floor((runs.length - 1) / 2)]!;
}

const rate = (docs: number, ms: number): number => Math.round((docs / ms) * 1000);

function line(label: string, r: Run): string {
  return `${label.padEnd(26)} ${String(r.documents).padStart(7)} docs  wall ${(r.ms / 1000).toFixed(2).padStart(6)} s = ${String(rate(r.documents, r.ms)).padStart(6)} docs/s  cpu ${(r.cpuMs / 1000).toFixed(2).padStart(6)} s = ${String(rate(r.documents, r.cpuMs)).padStart(6)} docs/s  peak RSS ${String(r.rssMiB).padStart(4)} MiB  ${String(r.errors + r.warnings).padStart(7)} findings`;
}

export async function benchValidate(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const sizes = (arg('--sizes') ?? arg('--docs') ?? '1000,10000,100000')
    .split(',')
    .map(Number)
    .filter((x) => x > 3);
  const copies = Number(arg('--copies') ?? 100);
  const rounds = Math.max(1, Number(arg('--rounds') ?? 3));
  if (!existsSync(TIME)) throw new Error(`${TIME} (GNU time) is needed for the peak RSS`);
  const kubeconform = findKubeconform();
  const dir = mkdtempSync(join(tmpdir(), 'castle-bench-validate-'));
  const out = join(dir, 'stdout');
  try {
    console.log(
      `castle validate through the CLI (a new process per run: sh dist/src/cli/main.js, which runs Node as its second line says); node ${process.version}; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} on ${availableParallelism()} cores`,
    );
    const schemaLocation = kubeconform ? writeKubeconformSchemas(defaultCrdFiles(ROOT), join(dir, 'kubeconform-schemas')) : '';
    if (kubeconform) console.log(`kubeconform: ${kubeconform} -n 2 -strict -summary -ignore-missing-schemas -schema-location ${schemaLocation}`);
    const warmBy = new Map<string, Run[]>();
    for (const n of sizes) {
      for (const shape of ['clean', 'findings'] as const) {
        const corpus = join(dir, `${shape}-${n}`);
        writeCorpus(corpus, n, shape === 'findings');
        const cache = join(dir, `cache-${shape}-${n}`);
        const cold = castle(['--cache-dir', cache, corpus], out);
        // warm runs alternate with kubeconform's, so that both see the same minutes of a shared machine
        const warms: Run[] = [];
        const ks: ReturnType<typeof timed>[] = [];
        let summary = '';
        for (let r = 0; r < rounds; r++) {
          warms.push(castle(['--cache-dir', cache, corpus], out));
          if (kubeconform) {
            const args = ['-n', '2', '-strict', '-summary', '-ignore-missing-schemas', '-schema-location', schemaLocation, corpus];
            ks.push(timed(kubeconform, args, out));
            summary = readFileSync(out, 'utf8').trim().split('\n').pop() ?? '';
          }
        }
        const warm = median(warms);
        const of = rounds > 1 ? ` (median of ${rounds})` : '';
        console.log(line(`${shape} ${n} cold`, cold));
        console.log(line(`${shape} ${n} warm`, warm) + of);
        warmBy.set(shape, [...(warmBy.get(shape) ?? []), warm]);
        if (kubeconform) {
          const k = median(ks);
          console.log(
            `${`kubeconform ${shape} ${n}`.padEnd(26)} ${String(n).padStart(7)} docs  wall ${(k.ms / 1000).toFixed(2).padStart(6)} s = ${String(rate(n, k.ms)).padStart(6)} docs/s  cpu ${(k.cpuMs / 1000).toFixed(2).padStart(6)} s = ${String(rate(n, k.cpuMs)).padStart(6)} docs/s  peak RSS ${String(k.rssMiB).padStart(4)} MiB${of}  (${summary})`,
          );
          console.log(
            `${''.padEnd(26)} castle warm / kubeconform: ${(rate(warm.documents, warm.ms) / rate(n, k.ms)).toFixed(2)}x in wall docs/s (target 2x), ${(rate(warm.documents, warm.cpuMs) / rate(n, k.cpuMs)).toFixed(2)}x in CPU docs/s${rounds > 1 ? `; wall of each round: castle ${warms.map((w) => (w.ms / 1000).toFixed(2)).join(' ')}, kubeconform ${ks.map((x) => (x.ms / 1000).toFixed(2)).join(' ')}` : ''}`,
          );
        }
        rmSync(corpus, { recursive: true, force: true });
        rmSync(cache, { recursive: true, force: true });
      }
    }
    // linear: what each further document (and finding) costs from one size to the next stays flat
    for (const [shape, runs] of warmBy) {
      const steps = runs.slice(1).map((r, i) => {
        const p = runs[i]!;
        const docs = r.documents - p.documents;
        const found = r.errors + r.warnings - (p.errors + p.warnings);
        return `${p.documents} -> ${r.documents}: ${(((r.cpuMs - p.cpuMs) * 1000) / docs).toFixed(0)} µs CPU and ${(((r.rssMiB - p.rssMiB) * 1024) / docs).toFixed(2)} KiB peak RSS per further document${found > 0 ? ` (${(found / docs).toFixed(1)} findings each)` : ''}`;
      });
      if (steps.length) console.log(`${shape} warm, marginal cost: ${steps.join('; ')}`);
    }
    if (!kubeconform) {
      console.log(
        'kubeconform is not installed (KUBECONFORM=/path or on PATH; see bench/kubeconform.ts): figures from issue 14, same machine, before this change:',
      );
      for (const [k, v] of Object.entries(PREVIOUS)) console.log(`  ${k}: ${v}`);
    }

    // a realistic tree: the homelab fixture (Flux, HelmReleases, PGO, ESO, a blog app) copied N times
    const tree = join(dir, 'homelab');
    for (let i = 0; i < copies; i++)
      cpSync(join(ROOT, 'test/validate/fixtures/homelab'), join(tree, `site-${String(i).padStart(3, '0')}`), { recursive: true });
    const cache = join(dir, 'cache-homelab');
    castle(['--cache-dir', cache, '--no-kustomize', tree], out);
    const fast = castle(['--cache-dir', cache, '--no-kustomize', tree], out);
    const full = castle(['--cache-dir', cache, '--no-kustomize', '--no-fast-yaml', tree], out);
    console.log(line(`homelab x${copies}, line reader`, fast));
    console.log(line(`homelab x${copies}, yaml only`, full));
    console.log(
      `line reader gain on the homelab tree, end to end: ${(full.cpuMs / fast.cpuMs).toFixed(2)}x in CPU, ${(full.ms / fast.ms).toFixed(2)}x in wall time`,
    );
    const cf = join(dir, 'clean-10000');
    writeCorpus(cf, 10_000, false);
    const cache2 = join(dir, 'cache-clean-10000-b');
    castle(['--cache-dir', cache2, cf], out);
    const f2 = castle(['--cache-dir', cache2, cf], out);
    const y2 = castle(['--cache-dir', cache2, '--no-fast-yaml', cf], out);
    console.log(line('clean 10000, line reader', f2));
    console.log(line('clean 10000, yaml only', y2));
    console.log(`line reader gain on the clean corpus, end to end: ${(y2.cpuMs / f2.cpuMs).toFixed(2)}x in CPU, ${(y2.ms / f2.ms).toFixed(2)}x in wall time`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
