// Scripted controllers for the Kubernetes test server: the status changes the real controllers
// (kubelet, deployment controller, job controller, PGO, MetalLB, ESO, Flux) would make, with the
// status fields and condition types/reasons those controllers write (see the notes cited in README).
import { randomBytes } from 'node:crypto';
import { isObj, type Obj } from './ssa.js';
import type { KubeTestServer } from './server.js';
import { FORWARD_ANNOTATION } from './port-forward.js';

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const md = (o: Obj): Obj => (o['metadata'] ?? {}) as Obj;
const spec = (o: Obj): Obj => (isObj(o['spec']) ? o['spec'] : {}) as Obj;
const statusOf = (o: Obj): Obj => (isObj(o['status']) ? o['status'] : ((o['status'] = {}), o['status'])) as Obj;
const gen = (o: Obj): number => Number(md(o)['generation'] ?? 0);

/** Sets (or replaces) a condition in `status.conditions`, with lastTransitionTime and observedGeneration. */
export function setCondition(o: Obj, type: string, st: 'True' | 'False' | 'Unknown', reason: string, message = ''): void {
  const s = statusOf(o);
  const list = (Array.isArray(s['conditions']) ? s['conditions'] : []) as Obj[];
  const c = { type, status: st, reason, message, lastTransitionTime: now(), observedGeneration: gen(o) };
  s['conditions'] = [...list.filter((x) => x['type'] !== type), c];
}

type Handle = { stop(): void };

function react(server: KubeTestServer, apiVersion: string, kind: string, fn: (o: Obj, type: string) => void): Handle {
  const off = server.onChange((e) => {
    if (e.object['apiVersion'] === apiVersion && e.object['kind'] === kind) fn(e.object, e.type);
  });
  return { stop: off };
}

const ref = (o: Obj): [string, string, string | undefined, string] => [
  String(o['apiVersion']),
  String(o['kind']),
  md(o)['namespace'] as string | undefined,
  String(md(o)['name']),
];

/** Nodes that report NotReady, then Ready after `readyAfterMs` (the kubelet's NodeReady condition). */
export function nodes(server: KubeTestServer, names: readonly string[], o: { readyAfterMs?: number } = {}): void {
  for (const name of names) {
    server.put(
      {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { 'kubernetes.io/hostname': name } },
        status: {
          conditions: [
            { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready', lastTransitionTime: now() },
          ],
        },
      },
      'kubelet',
    );
    server.after(o.readyAfterMs ?? 0, () =>
      server.patchStatus(
        'v1',
        'Node',
        undefined,
        name,
        (n) => {
          (n['status'] as Obj)['conditions'] = [
            { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastTransitionTime: now() },
          ];
        },
        'kubelet',
      ),
    );
  }
}

/**
 * Deployments, StatefulSets and DaemonSets roll out `delayMs` after each new generation: the status
 * fields kubectl's rollout status reads. `stuck` names objects whose Deployment exceeds its progress deadline.
 */
export function rollouts(server: KubeTestServer, o: { delayMs?: number; stuck?: readonly string[] } = {}): Handle {
  const seen = new Map<string, number>();
  const handles = ['Deployment', 'StatefulSet', 'DaemonSet'].map((kind) =>
    react(server, 'apps/v1', kind, (obj, type) => {
      const key = `${kind}/${String(md(obj)['namespace'])}/${String(md(obj)['name'])}`;
      if (type === 'DELETED') return void seen.delete(key);
      if (seen.get(key) === gen(obj)) return;
      seen.set(key, gen(obj));
      const replicas = Number(spec(obj)['replicas'] ?? 1);
      server.after(o.delayMs ?? 0, () => {
        if (!server.get(...ref(obj))) return;
        server.patchStatus(
          ...ref(obj),
          (x) => {
            const s = statusOf(x);
            s['observedGeneration'] = gen(x);
            if (kind === 'DaemonSet')
              Object.assign(s, { desiredNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 1, numberReady: 1, currentNumberScheduled: 1 });
            else if (o.stuck?.includes(String(md(x)['name']))) {
              Object.assign(s, { replicas, updatedReplicas: replicas, availableReplicas: 0, unavailableReplicas: replicas });
              setCondition(x, 'Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${String(md(x)['name'])}-7d9c" has timed out progressing.`);
              server.event(x, 'Warning', 'FailedCreate', 'pods "x" is forbidden: exceeded quota');
            } else {
              Object.assign(s, { replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas });
              if (kind === 'StatefulSet') Object.assign(s, { currentReplicas: replicas, currentRevision: 'r1', updateRevision: 'r1' });
              if (kind === 'Deployment') {
                setCondition(x, 'Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.');
                setCondition(x, 'Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${String(md(x)['name'])}-7d9c" has successfully progressed.`);
              }
            }
          },
          `${kind.toLowerCase()}-controller`,
        );
      });
    }),
  );
  return { stop: () => handles.forEach((h) => h.stop()) };
}

/** Jobs finish `delayMs` after creation: Complete, or Failed (BackoffLimitExceeded) when `fail` says so. */
export function jobs(server: KubeTestServer, o: { delayMs?: number; fail?: (job: Obj) => boolean } = {}): Handle {
  return react(server, 'batch/v1', 'Job', (job, type) => {
    if (type !== 'ADDED' || (md(job)['labels'] && (md(job)['labels'] as Obj)['postgres-operator.crunchydata.com/pgbackrest-backup'])) return;
    server.after(o.delayMs ?? 0, () => finishJob(server, job, o.fail?.(job) ? 'Failed' : 'Complete'));
  });
}

export function finishJob(server: KubeTestServer, job: Obj, outcome: 'Complete' | 'Failed'): void {
  if (!server.get(...ref(job))) return;
  server.patchStatus(
    ...ref(job),
    (x) => {
      const s = statusOf(x);
      s['startTime'] ??= now();
      if (outcome === 'Complete') {
        Object.assign(s, { succeeded: 1, completionTime: now(), ready: 0 });
        setCondition(x, 'SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods');
        setCondition(x, 'Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods');
      } else {
        Object.assign(s, { failed: 2, ready: 0 });
        setCondition(x, 'FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
        setCondition(x, 'Failed', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      }
    },
    'job-controller',
  );
  if (outcome === 'Failed') server.event(job, 'Warning', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
}

/** MetalLB: Services of type LoadBalancer get `status.loadBalancer.ingress[0].ip` after `delayMs`. */
export function loadBalancers(server: KubeTestServer, o: { ip: string; delayMs?: number }): Handle {
  return react(server, 'v1', 'Service', (svc, type) => {
    if (type === 'DELETED' || spec(svc)['type'] !== 'LoadBalancer' || (statusOf(svc)['loadBalancer'] as Obj | undefined)?.['ingress']) return;
    server.after(o.delayMs ?? 0, () => {
      if (!server.get(...ref(svc))) return;
      server.patchStatus(...ref(svc), (x) => void (statusOf(x)['loadBalancer'] = { ingress: [{ ip: o.ip, ipMode: 'VIP' }] }), 'metallb-controller');
    });
  });
}

/** External Secrets Operator: each ExternalSecret Ready/SecretSynced after `delayMs` (or SecretSyncedError). */
export function externalSecrets(server: KubeTestServer, o: { delayMs?: number; fail?: readonly string[]; apiVersion?: string } = {}): Handle {
  return react(server, o.apiVersion ?? 'external-secrets.io/v1beta1', 'ExternalSecret', (es, type) => {
    if (type !== 'ADDED') return;
    server.after(o.delayMs ?? 0, () => {
      if (!server.get(...ref(es))) return;
      const bad = o.fail?.includes(String(md(es)['name']));
      server.patchStatus(
        ...ref(es),
        (x) => {
          if (bad) setCondition(x, 'Ready', 'False', 'SecretSyncedError', 'could not get secret data from provider');
          else setCondition(x, 'Ready', 'True', 'SecretSynced', 'secret synced');
          statusOf(x)['refreshTime'] = now();
        },
        'external-secrets',
      );
      if (bad) server.event(es, 'Warning', 'UpdateFailed', 'could not get secret data from provider');
    });
  });
}

/** Flux: Kustomizations and HelmReleases Ready with observedGeneration after `delayMs`. */
export function flux(server: KubeTestServer, o: { delayMs?: number } = {}): Handle {
  const kinds: [string, string, string][] = [
    ['kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'Applied revision: main@sha1:0f3a'],
    ['helm.toolkit.fluxcd.io/v2', 'HelmRelease', 'Helm install succeeded for release'],
  ];
  const hs = kinds.map(([av, kind, msg]) =>
    react(server, av, kind, (obj, type) => {
      if (type === 'DELETED' || Number(statusOf(obj)['observedGeneration'] ?? -1) === gen(obj)) return;
      server.after(o.delayMs ?? 0, () => {
        if (!server.get(...ref(obj))) return;
        server.patchStatus(
          ...ref(obj),
          (x) => {
            statusOf(x)['observedGeneration'] = gen(x);
            setCondition(x, 'Ready', 'True', 'ReconciliationSucceeded', msg);
          },
          `${kind.toLowerCase()}-controller`,
        );
      });
    }),
  );
  return { stop: () => hs.forEach((h) => h.stop()) };
}

/** A Service's EndpointSlice, not ready and then ready after `readyAfterMs` (a webhook's backend starting). */
export function endpoints(server: KubeTestServer, namespace: string, service: string, o: { readyAfterMs?: number; when?: Promise<void> } = {}): void {
  const name = `${service}-${randomBytes(3).toString('hex').slice(0, 5)}`;
  const slice = (ready: boolean): Obj => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.0.17'], conditions: { ready, serving: ready, terminating: false } }],
    ports: [{ name: 'https', port: 9443, protocol: 'TCP' }],
  });
  server.put(slice(false), 'endpointslice-controller');
  void (o.when ?? Promise.resolve()).then(() => server.after(o.readyAfterMs ?? 0, () => server.put(slice(true), 'endpointslice-controller')));
}

export interface PgoPrimary {
  /** where the "primary" really listens: a PostgreSQL started by the test */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export interface PgoOptions {
  /** the cluster reports ready this long after each new generation (default 0) */
  readonly readyAfterMs?: number;
  /** what the `<cluster>-pguser-<user>` Secret points at (a real PostgreSQL run by the test) */
  readonly primary: PgoPrimary;
  /** runs the manual backup (e.g. real pgBackRest against the test's PostgreSQL); resolves to the Job's outcome */
  readonly backup?: (cluster: Obj, options: readonly string[]) => Promise<'Complete' | 'Failed'>;
  /** runs the restore of a cluster with `spec.dataSource`; resolves to the restore Job's outcome */
  readonly restore?: (cluster: Obj) => Promise<'Complete' | 'Failed'>;
}

const PGO = 'postgres-operator.crunchydata.com';

/**
 * CrunchyData PGO v5 as Castle sees it: PostgresCluster status (instances, repos, conditions), the
 * user Secret and primary Service, the manual backup Job on the `pgbackrest-backup` annotation with
 * status.pgbackrest.manualBackup and PGBackRestManualBackupSuccessful, a restore Job for a dataSource.
 */
export function pgo(server: KubeTestServer, o: PgoOptions): Handle {
  const seenGen = new Map<string, number>();
  const seenBackup = new Map<string, string>();
  const av = `${PGO}/v1beta1`;
  return react(server, av, 'PostgresCluster', (pc, type) => {
    const key = `${String(md(pc)['namespace'])}/${String(md(pc)['name'])}`;
    if (type === 'DELETED') {
      seenGen.delete(key);
      seenBackup.delete(key);
      return;
    }
    const name = String(md(pc)['name']);
    const ns = String(md(pc)['namespace']);
    if (seenGen.get(key) !== gen(pc)) {
      const first = !seenGen.has(key);
      seenGen.set(key, gen(pc));
      if (first) bootstrap(server, pc, o);
      server.after(o.readyAfterMs ?? 0, () => void ready(server, pc, o, first));
    }
    const id = String((md(pc)['annotations'] as Obj | undefined)?.[`${PGO}/pgbackrest-backup`] ?? '');
    const manual = ((spec(pc)['backups'] as Obj | undefined)?.['pgbackrest'] as Obj | undefined)?.['manual'] as Obj | undefined;
    if (id && manual && seenBackup.get(key) !== id) {
      seenBackup.set(key, id);
      void manualBackup(server, name, ns, id, manual, o);
    }
  });
}

function bootstrap(server: KubeTestServer, pc: Obj, o: PgoOptions): void {
  const name = String(md(pc)['name']);
  const namespace = String(md(pc)['namespace']);
  const users = (spec(pc)['users'] as Obj[] | undefined) ?? [{ name, databases: [name] }];
  for (const u of users) {
    const user = String(u['name']);
    const db = (u['databases'] as string[] | undefined)?.[0];
    const data: Record<string, string> = {
      host: `${name}-primary.${namespace}.svc`,
      port: '5432',
      user,
      password: o.primary.password,
      ...(db ? { dbname: db, uri: `postgresql://${user}:${o.primary.password}@${name}-primary.${namespace}.svc:5432/${db}` } : {}),
    };
    server.put(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `${name}-pguser-${user}`, namespace, labels: { [`${PGO}/cluster`]: name, [`${PGO}/role`]: 'pguser', [`${PGO}/pguser`]: user } },
        type: 'Opaque',
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      },
      'postgrescluster-controller',
    );
  }
  server.put(
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${name}-primary`, namespace, labels: { [`${PGO}/cluster`]: name, [`${PGO}/role`]: 'primary' } },
      spec: { clusterIP: 'None', ports: [{ name: 'postgres', port: 5432, protocol: 'TCP', targetPort: 'postgres' }] },
    },
    'postgrescluster-controller',
  );
  // the test's stand-in for the primary pod's address, which a port-forward would reach
  server.put(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-instance1-abcd-0`,
        namespace,
        labels: { [`${PGO}/cluster`]: name, [`${PGO}/role`]: 'master', [`${PGO}/instance-set`]: 'instance1' },
        annotations: { [FORWARD_ANNOTATION]: `${o.primary.host}:${o.primary.port}` },
      },
      spec: { containers: [{ name: 'database', image: 'registry.developers.crunchydata.com/crunchydata/crunchy-postgres:ubi9-17.5-2520' }] },
    },
    'statefulset-controller',
  );
}

async function ready(server: KubeTestServer, pc0: Obj, o: PgoOptions, first: boolean): Promise<void> {
  const [av, kind, ns, name] = ref(pc0);
  const pc = server.get(av, kind, ns, name);
  if (!pc) return;
  if (first && spec(pc)['dataSource'] && o.restore) {
    const job = server.put(
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name: `${name}-pgbackrest-restore`,
          namespace: ns,
          labels: { [`${PGO}/cluster`]: name, [`${PGO}/pgbackrest`]: '', [`${PGO}/pgbackrest-restore`]: '' },
        },
        spec: { template: { spec: { containers: [{ name: 'pgbackrest-restore' }], restartPolicy: 'Never' } } },
      },
      'postgrescluster-controller',
    );
    const outcome = await o.restore(pc);
    finishJob(server, job, outcome);
    server.patchStatus(
      av,
      kind,
      ns,
      name,
      (x) => {
        setCondition(
          x,
          'PostgresDataInitialized',
          outcome === 'Complete' ? 'True' : 'False',
          outcome === 'Complete' ? 'PGBackRestRestoreComplete' : 'PGBackRestRestoreFailed',
          '',
        );
        const pb = (statusOf(x)['pgbackrest'] ??= {}) as Obj;
        pb['restore'] = { id: `~pgo-bootstrap-${name}`, finished: true, ...(outcome === 'Complete' ? { succeeded: 1, completionTime: now() } : { failed: 1 }) };
      },
      'postgrescluster-controller',
    );
    if (outcome === 'Failed') return;
  }
  const sets = ((spec(pc)['instances'] as Obj[] | undefined) ?? [{ name: 'instance1' }]).map((i) => {
    const replicas = Number(i['replicas'] ?? 1);
    return { name: String(i['name'] ?? 'instance1'), replicas, readyReplicas: replicas, updatedReplicas: replicas };
  });
  const repos = (((spec(pc)['backups'] as Obj | undefined)?.['pgbackrest'] as Obj | undefined)?.['repos'] as Obj[] | undefined) ?? [];
  server.patchStatus(
    av,
    kind,
    ns,
    name,
    (x) => {
      const s = statusOf(x);
      s['observedGeneration'] = gen(x);
      s['instances'] = sets;
      const pb = (s['pgbackrest'] ??= {}) as Obj;
      pb['repos'] = repos.map((r) => ({
        name: r['name'],
        stanzaCreated: true,
        replicaCreateBackupComplete: true,
        ...(r['s3'] ? { repoOptionsHash: 'a1b2c3' } : { bound: true, volume: `pvc-${String(r['name'])}` }),
      }));
      pb['repoHost'] = { apiVersion: 'apps/v1', kind: 'StatefulSet', ready: true };
      setCondition(x, 'PGBackRestRepoHostReady', 'True', 'RepoHostReady', 'pgBackRest dedicated repository host is ready');
      setCondition(x, 'PGBackRestReplicaRepoReady', 'True', 'StanzaCreated', 'pgBackRest replica create repo is ready for backups');
      setCondition(x, 'PGBackRestReplicaCreate', 'True', 'RepoBackupComplete', 'pgBackRest replica creation is now possible');
    },
    'postgrescluster-controller',
  );
  if (first) server.event(pc, 'Normal', 'StanzasCreated', `pgBackRest stanza creation completed successfully`);
}

async function manualBackup(server: KubeTestServer, name: string, ns: string, id: string, manual: Obj, o: PgoOptions): Promise<void> {
  const av = `${PGO}/v1beta1`;
  const options = ((manual['options'] as string[] | undefined) ?? []).map(String);
  const pc = server.get(av, 'PostgresCluster', ns, name);
  if (!pc) return;
  if (options.some((x) => x.startsWith('--repo'))) {
    server.event(pc, 'Warning', 'InvalidManualBackup', `Option "--repo" is not allowed: please use the "repoName" field instead.`);
    return;
  }
  server.patchStatus(
    av,
    'PostgresCluster',
    ns,
    name,
    (x) => {
      const pb = (statusOf(x)['pgbackrest'] ??= {}) as Obj;
      pb['manualBackup'] = { id };
      statusOf(x)['conditions'] = ((statusOf(x)['conditions'] as Obj[] | undefined) ?? []).filter((c) => c['type'] !== 'PGBackRestManualBackupSuccessful');
    },
    'postgrescluster-controller',
  );
  const repo = String(manual['repoName'] ?? 'repo1');
  const job = server.put(
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: `${name}-backup-${randomBytes(2).toString('hex')}`,
        namespace: ns,
        labels: { [`${PGO}/cluster`]: name, [`${PGO}/pgbackrest`]: '', [`${PGO}/pgbackrest-repo`]: repo, [`${PGO}/pgbackrest-backup`]: 'manual' },
        annotations: { [`${PGO}/pgbackrest-backup`]: id },
      },
      spec: {
        backoffLimit: 2,
        template: {
          spec: {
            containers: [
              { name: 'pgbackrest', command: ['/opt/crunchy/bin/pgbackrest'], args: ['backup', '--stanza=db', `--repo=${repo.slice(4)}`, ...options] },
            ],
            restartPolicy: 'Never',
          },
        },
      },
    },
    'postgrescluster-controller',
  );
  server.patchStatus(
    av,
    'PostgresCluster',
    ns,
    name,
    (x) => {
      ((statusOf(x)['pgbackrest'] as Obj)['manualBackup'] as Obj)['active'] = 1;
      ((statusOf(x)['pgbackrest'] as Obj)['manualBackup'] as Obj)['startTime'] = now();
    },
    'postgrescluster-controller',
  );
  const outcome = o.backup ? await o.backup(pc, options).catch(() => 'Failed' as const) : 'Complete';
  finishJob(server, job, outcome);
  server.patchStatus(
    av,
    'PostgresCluster',
    ns,
    name,
    (x) => {
      const mb = (statusOf(x)['pgbackrest'] as Obj)['manualBackup'] as Obj;
      delete mb['active'];
      mb['finished'] = true;
      if (outcome === 'Complete') {
        Object.assign(mb, { succeeded: 1, completionTime: now() });
        setCondition(x, 'PGBackRestManualBackupSuccessful', 'True', 'ManualBackupComplete', 'Manual backup completed successfully');
      } else {
        Object.assign(mb, { failed: 2 });
        setCondition(x, 'PGBackRestManualBackupSuccessful', 'False', 'ManualBackupFailed', 'Manual backup did not complete successfully');
      }
    },
    'postgrescluster-controller',
  );
}
