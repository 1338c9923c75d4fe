// The world examples/tazlab runs in during its tests: the Proxmox double (VMs), the talosctl double
// (Talos nodes), the Kubernetes API test server with the controllers a real cluster would run (kubelet,
// MetalLB, Flux's helm-controller, ESO, PGO), PGO's primary a real PostgreSQL archiving to a real S3
// endpoint, and the blog. They are tied together as the real things are: destroying the control plane
// VM destroys the cluster; a new control plane VM brings a new, empty one at the same endpoint (the
// same Talos secrets bundle, so the same PKI and credentials), whose nodes then register.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { DataCastle } from '../../src/data/rebirth.js';
import { runBackup } from '../../src/data/pgbackrest.js';
import { sql } from '../../src/data/postgres.js';
import type { S3ServerInfo } from '../../src/s3/server.js';
import { controllers, KubeTestServer, pgoCrd, repoRoot, setCondition, type Obj } from '../kubernetes/index.js';
import { installPgo, newPrimary, PASSWORD, s3CredsSecret, startS3, stopAll } from '../kubernetes/pgo-fixture.js';
import { FakeProxmox, testTls } from '../proxmox/server.js';
import { installTalosctl, type TalosctlDouble } from '../talos/index.js';

export const TOKEN_ID = 'castle@pve!castle';
export const VMS = { 421: '192.168.1.21', 431: '192.168.1.31', 432: '192.168.1.32' } as const;
export const NODE_NAMES = ['tazlab-cp-01', 'tazlab-worker-01', 'tazlab-worker-02'];
/** the Infisical machine identity, as the operator exports it before `castle up` */
export const INFISICAL = { INFISICAL_CLIENT_ID: 'mi-4f1c2a9e-client', INFISICAL_CLIENT_SECRET: 'mi-secret-8d7e6f5a4b3c2d1e0f' };
export const BUCKET = 'tazlab-longhorn';

export interface World {
  readonly dir: string;
  /** the copy of examples/tazlab pointed at the doubles */
  readonly castleDir: string;
  readonly pve: FakeProxmox;
  readonly kube: KubeTestServer;
  readonly talos: TalosctlDouble;
  readonly s3: S3ServerInfo;
  readonly primary: DataCastle;
  /** the environment `castle` runs with: talosctl double on PATH, the Proxmox token, the Infisical identity */
  readonly env: Record<string, string>;
  /** what PGO's backup Job does next */
  outcome: 'Complete' | 'Failed';
  /** after PGO's next restore, a row the backup never held is written (restored data differ) */
  tamperAfterRestore: boolean;
  /** how many times the cluster was destroyed (the control plane VM went) */
  wipes: number;
  close(): Promise<void>;
}

const must = (x: { ok: boolean; reason?: string }): void => {
  if (!x.ok) throw new Error(x.reason);
};

/** ESO, MetalLB's webhook, Flux's helm-controller installing the charts' CRDs: what the example's objects need to become ready. */
function clusterControllers(kube: KubeTestServer, s3: S3ServerInfo): { stop(): void } {
  const hs = [
    controllers.rollouts(kube, { delayMs: 30 }),
    controllers.loadBalancers(kube, { ip: '192.168.1.240', delayMs: 20 }),
    controllers.externalSecrets(kube, { delayMs: 20, apiVersion: 'external-secrets.io/v1' }),
    controllers.flux(kube, { delayMs: 40 }),
  ];
  const off = kube.onChange((e) => {
    const o = e.object;
    const name = String((o['metadata'] as Obj)['name']);
    if (e.type !== 'ADDED') return;
    // the controller Deployment serves MetalLB's webhook: its Service gets a ready endpoint when it runs
    if (o['kind'] === 'Service' && name === 'metallb-webhook-service')
      kube.after(0, () => controllers.endpoints(kube, 'metallb-system', 'metallb-webhook-service', { readyAfterMs: 30 }));
    // helm-controller installs a chart's CRDs before it reports the release Ready (flux's delay is longer)
    if (o['kind'] === 'HelmRelease' && name === 'external-secrets')
      kube.after(0, () => {
        for (const f of ['eso-v0.16.2-clustersecretstores.yaml', 'eso-v0.16.2-secretstores.yaml', 'eso-v0.16.2-externalsecrets.yaml'])
          kube.put(parse(readFileSync(join(repoRoot, 'schemas', 'crds', f), 'utf8')) as Obj, 'helm-controller');
      });
    if (o['kind'] === 'HelmRelease' && name === 'pgo') kube.after(0, () => void kube.put(pgoCrd(), 'helm-controller'));
    // ESO renders the target Secret from Infisical (here: the test's S3 keys), then reports Ready
    if (o['kind'] === 'ExternalSecret' && name === 's3-backrest-creds') kube.after(0, () => void kube.put(s3CredsSecret(s3), 'external-secrets'));
    if (o['kind'] === 'ClusterSecretStore')
      kube.after(20, () =>
        kube.patchStatus(
          String(o['apiVersion']),
          'ClusterSecretStore',
          undefined,
          name,
          (x) => setCondition(x, 'Ready', 'True', 'Valid', 'store validated'),
          'external-secrets',
        ),
      );
  });
  return { stop: () => (hs.forEach((h) => h.stop()), off()) };
}

/** examples/tazlab copied and pointed at the doubles: the Proxmox endpoint and CA, the S3 endpoint the gate reads, the blog's URL. */
function pointAtDoubles(dir: string, pve: FakeProxmox, caPem: string, s3: S3ServerInfo, appUrl: string): void {
  cpSync(join(repoRoot, 'examples', 'tazlab'), dir, { recursive: true });
  writeFileSync(join(dir, 'pve-root-ca.pem'), caPem);
  const file = join(dir, 'castle.yaml');
  const c = parse(readFileSync(file, 'utf8')) as Obj;
  const px = c['proxmox'] as Obj;
  px['endpoint'] = pve.endpoint;
  // no Talos apid answers on the VMs' addresses here: the double's guest agent says the machine is up
  px['wait'] = { agent: true };
  px['polling'] = { firstMs: 10, maxMs: 80 };
  const s3Access = { endpoint: `localhost:${s3.port}`, caFile: s3.caFile, uriStyle: 'path' };
  const pgoSteps = [
    ...((c['layers'] as Obj[]).find((l) => l['name'] === 'data')!['apply'] as Obj[]).map((s) => s['pgoRepoCheck'] as Obj | undefined),
    ...((c['rebirth'] as Obj)['gate'] as Obj[]).map((s) => s['kubernetes.pgoBackup'] as Obj | undefined),
    ...((c['rebirth'] as Obj)['proof'] as Obj[]).map((s) => s['kubernetes.pgoProof'] as Obj | undefined),
  ].filter((s): s is Obj => !!s);
  if (pgoSteps.length !== 3) throw new Error(`examples/tazlab changed shape: ${pgoSteps.length} PGO steps found`);
  for (const s of pgoSteps) Object.assign(s, { s3: s3Access, sslmode: 'disable' });
  (pgoSteps[2]!['app'] as Obj)['url'] = appUrl;
  writeFileSync(file, stringify(c));
}

export async function startWorld(log: (t: string) => void): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'castle-tazlab-'));
  const { s3, dir: s3dir } = await startS3(log, BUCKET);
  const primary = await newPrimary(s3, log, '/pgbackrest/repo1', BUCKET);
  must(await sql(primary.cluster, 'CREATE DATABASE tazlab_test'));
  must(
    await sql(
      primary.cluster,
      `CREATE TABLE posts (id bigserial PRIMARY KEY, title text NOT NULL, published timestamptz NOT NULL DEFAULT now());
       INSERT INTO posts(title) SELECT 'post ' || g FROM generate_series(1, 300) g;
       INSERT INTO posts(title) VALUES ('Il Castello Effimero: Nomadismo, Rinascita One-Shot');`,
      [],
      'tazlab_test',
    ),
  );
  // an earlier life of the castle left a backup in repo1: the first `up` restores from it (dataSource)
  must(await runBackup(primary.pgbr, { type: 'full', repo: 1, log }));

  const kube = await KubeTestServer.start({ dir: join(dir, 'kube') });
  const state = { outcome: 'Complete' as 'Complete' | 'Failed', tamperAfterRestore: false, wipes: 0 };
  const pgo = installPgo(
    kube,
    {
      primary,
      get outcome() {
        return state.outcome;
      },
      // when the test says so, a write the backup never saw lands in the restored cluster before PGO reports it ready
      afterRestore: async () => {
        if (!state.tamperAfterRestore) return;
        state.tamperAfterRestore = false;
        must(await sql(primary.cluster, `INSERT INTO posts(title) VALUES ('written after the backup')`, [], 'tazlab_test'));
      },
    },
    log,
  );
  // a cluster starts empty: PGO's CRD comes with its HelmRelease
  kube.wipe();
  const ctl = clusterControllers(kube, s3);

  const pve = await new FakeProxmox({ authFailMs: 20, agentMs: 20 }).start();
  const secret = pve.addToken(TOKEN_ID);
  pve.addVm(9000, { name: 'talos-nocloud', template: true, tags: 'template;talos', agent: true });
  const talos = installTalosctl(join(dir, 'talos'), {
    nodes: Object.fromEntries(Object.values(VMS).map((ip) => [ip, 'unreachable' as const])),
    kubeconfig: kube.kubeconfigPath,
  });
  // a VM made from the Talos image boots into maintenance mode; the control plane's VM going takes the cluster with it
  const set = pve.vms.set.bind(pve.vms);
  pve.vms.set = (id, vm) => {
    const ip = VMS[id as keyof typeof VMS];
    if (ip && !pve.vms.has(id)) {
      talos.update((s) => void (s.nodes[ip] = { state: 'maintenance' }));
      if (id === 421) kube.after(0, () => controllers.nodes(kube, NODE_NAMES, { readyAfterMs: 40 }));
    }
    return set(id, vm);
  };
  const del = pve.vms.delete.bind(pve.vms);
  pve.vms.delete = (id) => {
    const ip = VMS[id as keyof typeof VMS];
    if (ip) talos.update((s) => void (s.nodes[ip] = { state: 'unreachable' }));
    if (id === 421) (kube.wipe(), state.wipes++);
    return del(id);
  };

  const app: Server = createServer((_req, res) => {
    const c = new pg.Client({ host: '127.0.0.1', port: primary.cluster.port, user: 'postgres', password: PASSWORD, database: 'tazlab_test' });
    c.connect()
      .then(() => c.query('SELECT title FROM posts ORDER BY id DESC LIMIT 1'))
      .then(
        (q) => res.end(`<html><body><h1>TazLab</h1><article>${String(q.rows[0]?.title)}</article></body></html>`),
        (e: Error) => ((res.statusCode = 503), res.end(e.message)),
      )
      .finally(() => void c.end().catch(() => {}));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  const appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}/`;

  const castleDir = join(dir, 'tazlab');
  pointAtDoubles(castleDir, pve, (await testTls()).caPem, s3, appUrl);
  return {
    dir,
    castleDir,
    pve,
    kube,
    talos,
    s3,
    primary,
    env: { ...talos.env, PVE_TOKEN_SECRET: secret, ...INFISICAL },
    get outcome() {
      return state.outcome;
    },
    set outcome(v) {
      state.outcome = v;
    },
    get tamperAfterRestore() {
      return state.tamperAfterRestore;
    },
    set tamperAfterRestore(v) {
      state.tamperAfterRestore = v;
    },
    get wipes() {
      return state.wipes;
    },
    set wipes(v) {
      state.wipes = v;
    },
    async close() {
      ctl.stop();
      pgo.stop();
      await new Promise<void>((r) => app.close(() => r()));
      await kube.close();
      await pve.stop();
      await stopAll([primary], s3dir);
      if (!process.env['CASTLE_KEEP_TEST_DIRS']) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every YAML document of a file in the castle copy (for assertions on what was applied). */
export function docsOf(castleDir: string, rel: string): Obj[] {
  return parseAllDocuments(readFileSync(join(castleDir, rel), 'utf8'))
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}
