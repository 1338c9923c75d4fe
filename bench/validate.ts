import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { validateManifests } from '../src/validate/index.js';
import { importSchemas } from '../src/validate/schemas-cmd.js';

/**
 * `npm run bench -- validate [--docs N]`: N documents (core kinds, PostgresClusters, ExternalSecrets)
 * validated cold (core schemas generated and CRDs compiled into an empty cache) then warm (cache
 * filled, compiled patterns and CEL programs reused), in one run.
 */

function deployment(i: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${i}
  namespace: bench
  labels: {app.kubernetes.io/name: app-${i}, tier: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: app-${i}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: app-${i}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{name: http, containerPort: 8080}]
          env: [{name: MODE, value: production}]
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {cpu: 1, memory: 256Mi}
          readinessProbe: {httpGet: {path: /healthz, port: http}}
`;
}

function service(i: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: app-${i}, namespace: bench}
spec:
  selector: {app.kubernetes.io/name: app-${i}}
  ports: [{name: http, port: 80, targetPort: http}]
`;
}

function configMap(i: number): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg-${i}, namespace: bench}
data:
  app.conf: |
    listen 8080
    workers ${i % 8}
`;
}

function postgres(i: number): string {
  // the ExternalSecret next to it in the mix provides the credentials
  const creds = `creds-${i % 10 === 5 ? i + 1 : i - 1}`;
  return `apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: db-${i}, namespace: bench}
spec:
  postgresVersion: 16
  instances:
    - name: instance1
      replicas: 1
      dataVolumeClaimSpec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 10Gi}}
  dataSource:
    pgbackrest:
      stanza: db
      configuration: [{secret: {name: ${creds}}}]
      repo: {name: repo1, s3: {bucket: b, endpoint: s3.amazonaws.com, region: eu-central-1}}
  backups:
    pgbackrest:
      configuration: [{secret: {name: ${creds}}}]
      repos:
        - name: repo1
          s3: {bucket: b, endpoint: s3.amazonaws.com, region: eu-central-1}
  users:
    - name: app
      databases: [app]
`;
}

function externalSecret(i: number): string {
  return `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: creds-${i}, namespace: bench}
spec:
  refreshInterval: 1h
  secretStoreRef: {kind: ClusterSecretStore, name: store}
  target:
    name: creds-${i}
    template:
      data:
        s3.conf: |
          [global]
          repo1-s3-key={{ .KEY }}
          repo1-s3-key-secret={{ .SECRET }}
  data:
    - {secretKey: KEY, remoteRef: {key: KEY}}
    - {secretKey: SECRET, remoteRef: {key: SECRET}}
`;
}

const MAKERS = [deployment, service, configMap, deployment, service, postgres, externalSecret, configMap, externalSecret, postgres];

/** n documents in files of 100: a Namespace and a ClusterSecretStore, then the mix above */
export function writeBenchManifests(manifests: string, n: number): void {
  mkdirSync(manifests, { recursive: true });
  const perFile = 100;
  const header = `apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n---\napiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: store}\nspec:\n  provider:\n    fake:\n      data: [{key: KEY, value: x}]\n`;
  writeFileSync(join(manifests, '000-base.yaml'), header);
  for (let f = 0; f * perFile < n - 2; f++) {
    const parts: string[] = [];
    for (let i = f * perFile; i < Math.min(n - 2, (f + 1) * perFile); i++) parts.push(MAKERS[i % MAKERS.length]!(i));
    writeFileSync(join(manifests, `${String(f + 1).padStart(3, '0')}.yaml`), parts.join('---\n'));
  }
}

function figures(label: string, docs: number, ms: number, errors: number): string {
  return `${label.padEnd(5)} ${String(docs).padStart(6)} docs in ${(ms / 1000).toFixed(2)} s = ${Math.round((docs / ms) * 1000)} docs/s (errors: ${errors})`;
}

export async function benchValidate(argv: string[]): Promise<void> {
  const n = Number(argv[argv.indexOf('--docs') + 1]) || 10_000;
  const crdDir = [process.env['CASTLE_CRDS'], resolve('schemas/crds'), resolve('../shared/crds')].find((p) => p && existsSync(p));
  if (!crdDir) throw new Error('CRDs not found: set CASTLE_CRDS to the directory with the PGO and ESO CRDs');
  const dir = mkdtempSync(join(tmpdir(), 'castle-bench-validate-'));
  try {
    const cacheDir = join(dir, 'cache');
    const manifests = join(dir, 'manifests');
    writeBenchManifests(manifests, n);
    const t0 = performance.now();
    const imported = await importSchemas([crdDir], cacheDir);
    const importMs = performance.now() - t0;
    const cold = await validateManifests([manifests], { cacheDir });
    const coldMs = performance.now() - t0;
    const t1 = performance.now();
    const warm = await validateManifests([manifests], { cacheDir });
    const warmMs = performance.now() - t1;
    // a new process: what `castle validate` costs from the shell with a filled cache
    const cli = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
    const t2 = performance.now();
    const r = spawnSync(process.execPath, [cli, 'validate', '--cache-dir', cacheDir, '--format', 'json', manifests], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const cliMs = performance.now() - t2;
    const cliDocs = r.status === 0 || r.status === 1 ? (JSON.parse(r.stdout) as { stats: { documents: number; errors: number } }).stats : { documents: 0, errors: -1 };
    const mem = process.memoryUsage();
    console.log(`castle validate bench: ${cold.stats.documents} documents (${cold.stats.validated} checked against a schema), CRDs: ${imported.imported.map((i) => i.name).join(', ')}`);
    console.log(figures('cold', cold.stats.documents, coldMs, cold.stats.errors) + ` (empty cache: compiling the CRDs took ${(importMs / 1000).toFixed(2)} s, core schemas generated: ${cold.stats.compiled}, workers ${cold.stats.workers})`);
    console.log(figures('warm', warm.stats.documents, warmMs, warm.stats.errors) + ` (compiled ${warm.stats.compiled}, cache hits ${warm.stats.cacheHits})`);
    console.log(figures('cli', cliDocs.documents, cliMs, cliDocs.errors) + ' (new process, cache filled, node startup included)');
    console.log(`CEL rules: ${warm.stats.celEvaluated} evaluated, ${warm.stats.celUnevaluated} not evaluable offline, ${warm.stats.celSkipped} transition rules skipped`);
    console.log(`rss ${Math.round(mem.rss / 1048576)} MiB, heap ${Math.round(mem.heapUsed / 1048576)} MiB; node ${process.version}`);
    if (cold.stats.errors || warm.stats.errors) {
      for (const d of warm.diagnostics.filter((x) => x.severity === 'error').slice(0, 5)) console.log(`  ${d.location?.file}:${d.location?.line}: ${d.rule}: ${d.message}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
