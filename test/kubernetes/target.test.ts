// The kubernetes target's kinds against the Kubernetes API test server: apply order derived from the
// manifests, server-side apply as `castle`, conflicts, readiness gates on LIST+WATCH (410 re-list,
// selector gates, deadlines that say what they saw), and a destroy against a cluster that is gone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KubeTestServer, controllers, pgoCrd, tempDir, rmDir, repoRoot, type Obj } from './index.js';
import { stepContext } from './context.js';
import { KubeTargetSession } from '../../src/targets/kubernetes/session.js';
import { openKube } from '../../src/targets/kubernetes/client.js';
import { run as applyRun } from '../../src/targets/kubernetes/kinds/apply.js';
import { runWait } from '../../src/targets/kubernetes/kinds/wait.js';
import { run as deleteRun } from '../../src/targets/kubernetes/kinds/delete.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

let srv: KubeTestServer;
let dir: string;

before(async () => {
  dir = tempDir('kube-target');
  srv = await KubeTestServer.start({ dir: join(dir, 'server'), crdEstablishDelayMs: 20 });
});
after(async () => {
  await srv.close();
  rmDir(dir);
});

function castle(name: string, files: Record<string, Obj[]>): { castleDir: string; session: KubeTargetSession; ctx: ReturnType<typeof stepContext> } {
  const castleDir = join(dir, name);
  for (const [f, docs] of Object.entries(files)) {
    mkdirSync(join(castleDir, f, '..'), { recursive: true });
    writeFileSync(join(castleDir, f), docs.map((d) => stringify(d)).join('---\n'));
  }
  mkdirSync(castleDir, { recursive: true });
  const session = new KubeTargetSession({ kubeconfig: srv.kubeconfigPath }, castleDir, join(castleDir, '.castle'), openKube);
  return { castleDir, session, ctx: stepContext({ castleDir, stateDir: join(castleDir, '.castle') }) };
}

/** resolves once the test server has received a watch request matching `re` */
function watching(re: RegExp): Promise<void> {
  return new Promise<void>((res) => {
    const check = () => (srv.requests.some((q) => re.test(q.path)) ? res() : setTimeout(check, 5));
    check();
  });
}

const deployment = (ns: string, name: string, replicas = 2): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'nginx:1.27' }] } },
  },
});

test('apply: order derived from the manifests, SSA as castle, readiness of every object', async () => {
  const hs = [
    controllers.rollouts(srv, { delayMs: 30 }),
    controllers.loadBalancers(srv, { ip: '192.168.1.240', delayMs: 10 }),
    controllers.externalSecrets(srv, { delayMs: 10, apiVersion: 'external-secrets.io/v1beta1' }),
    controllers.jobs(srv, { delayMs: 20 }),
  ];
  try {
    const esoCrd = parse(readFileSync(join(repoRoot, 'schemas', 'crds', 'eso-v0.16.2-externalsecrets.yaml'), 'utf8')) as Obj;
    // written in the "wrong" order on purpose: the apply order comes from the kinds, not from the files
    const { session, ctx } = castle('order', {
      'platform/app.yaml': [
        {
          apiVersion: 'external-secrets.io/v1beta1',
          kind: 'ExternalSecret',
          metadata: { name: 's3-creds', namespace: 'shop' },
          spec: {
            secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault' },
            target: { name: 's3-creds' },
            data: [{ secretKey: 'k', remoteRef: { key: 'K' } }],
          },
        },
        deployment('shop', 'web'),
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'shop' },
          spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] },
        },
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'migrate', namespace: 'shop' },
          spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'busybox' }] } } },
        },
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingWebhookConfiguration',
          metadata: { name: 'eso-validate' },
          webhooks: [
            {
              name: 'validate.externalsecret.external-secrets.io',
              clientConfig: { service: { name: 'eso-webhook', namespace: 'shop', path: '/validate' } },
              admissionReviewVersions: ['v1'],
              sideEffects: 'None',
            },
          ],
        },
      ],
      'platform/ns.yaml': [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }],
      'platform/crds/externalsecrets.yaml': [esoCrd],
    });
    // the webhook's backend becomes ready only once something watches its EndpointSlices
    const off = srv.onChange((e) => {
      if (e.type === 'ADDED' && e.object['kind'] === 'ValidatingWebhookConfiguration') {
        off();
        controllers.endpoints(srv, 'shop', 'eso-webhook', { readyAfterMs: 0, when: watching(/endpointslices\?.*watch=true/) });
      }
    });
    const r = await applyRun({ manifests: 'platform', within: '20s' }, ctx, session);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    const patches = srv.requests.filter((q) => q.method === 'PATCH').map((q) => q.path);
    const idx = (re: RegExp) => patches.findIndex((p) => re.test(p));
    assert.ok(
      patches.every((p) => /fieldManager=castle(&|$)/.test(p) && !/force=true/.test(p)),
      patches.join('\n'),
    );
    assert.ok(srv.requests.every((q) => q.method !== 'PATCH' || q.contentType === 'application/apply-patch+yaml'));
    assert.ok(idx(/customresourcedefinitions/) < idx(/\/namespaces\/shop\?/), 'CRD before the namespace');
    assert.ok(idx(/\/api\/v1\/namespaces\/shop\?/) < idx(/deployments\/web/), 'namespace before the deployment');
    assert.ok(idx(/validatingwebhookconfigurations/) < idx(/externalsecrets\/s3-creds/), 'webhook configuration before the custom resources');
    // the webhook's endpoints were waited on (watch on endpointslices) before the ExternalSecret went in
    const esAt = srv.requests.findIndex((q) => /externalsecrets\/s3-creds/.test(q.path));
    const epWatch = srv.requests.findIndex((q) => /endpointslices.*watch=true/.test(q.path));
    assert.ok(epWatch >= 0 && epWatch < esAt, `endpoint gate before the ExternalSecret:\n${srv.requests.map((q) => `${q.method} ${q.path}`).join('\n')}`);
    // every gate watched: no GET of a single object (no polling)
    assert.ok(!srv.requests.some((q) => q.method === 'GET' && /\/deployments\/web$/.test(q.path)));
    const crd = srv.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, 'externalsecrets.external-secrets.io')!;
    assert.ok(JSON.stringify(crd).includes('"x-kubernetes-map-type":"atomic"'), 'the CRD kept its x-kubernetes-* keys');
    assert.match(r.summary ?? '', /applied 7 objects/);
  } finally {
    hs.forEach((h) => h.stop());
  }
});

test('apply: a 409 names the other manager and the field paths; force takes them over', async () => {
  srv.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'conf' } });
  srv.put(deployment('conf', 'api', 3), 'kubectl-client-side-apply');
  const h = controllers.rollouts(srv, { delayMs: 0 });
  try {
    const { session, ctx, castleDir } = castle('conflict', { 'api.yaml': [deployment('conf', 'api', 1)] });
    const r = await applyRun({ manifests: 'api.yaml', within: '10s' }, ctx, session);
    assert.ok(!r.ok);
    assert.equal(
      r.reason,
      `${join(castleDir, 'api.yaml')}:1: Deployment/conf/api: 409 conflict: "kubectl-client-side-apply" using apps/v1 owns .spec.replicas. Castle applies as field manager "castle" and does not take fields from another manager unless the step says \`force: true\``,
    );
    const f = await applyRun({ manifests: 'api.yaml', force: true, within: '10s' }, ctx, session);
    assert.ok(f.ok, f.ok ? '' : f.reason);
    assert.equal((srv.get('apps/v1', 'Deployment', 'conf', 'api')!['spec'] as Obj)['replicas'], 1);
    assert.ok(srv.requests.some((q) => /deployments\/api\?.*force=true/.test(q.path)));
  } finally {
    h.stop();
  }
});

test('a gate that times out says what it saw last: conditions and events', async () => {
  srv.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'slow' } });
  const { session, ctx } = castle('timeout', {
    'job.yaml': [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'backfill', namespace: 'slow' },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'b', image: 'busybox' }] } } },
      },
    ],
  });
  // the job controller marks it active and records an event, then nothing happens
  const off = srv.onChange((e) => {
    if (e.type === 'ADDED' && e.object['kind'] === 'Job' && (e.object['metadata'] as Obj)['name'] === 'backfill') {
      srv.after(0, () => {
        srv.patchStatus(
          'batch/v1',
          'Job',
          'slow',
          'backfill',
          (o) => void (o['status'] = { active: 1, startTime: new Date().toISOString() }),
          'job-controller',
        );
        srv.event(srv.get('batch/v1', 'Job', 'slow', 'backfill')!, 'Warning', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient memory.');
      });
    }
  });
  try {
    const r = await applyRun({ manifests: 'job.yaml', within: '2s' }, ctx, session);
    assert.ok(!r.ok);
    assert.match(r.reason, /^Job slow\/backfill not ready after 2 s; saw last: running: 1 active, 0 succeeded, 0 failed/);
    assert.match(r.reason, /slow\/backfill: conditions no conditions; events: Warning FailedScheduling: 0\/3 nodes are available: 3 Insufficient memory\./);
  } finally {
    off();
  }
});

test('a Deployment past its progress deadline fails the gate at once with the reason', async () => {
  srv.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'stuck' } });
  const h = controllers.rollouts(srv, { delayMs: 10, stuck: ['frozen'] });
  try {
    const { session, ctx } = castle('stuck', { 'd.yaml': [deployment('stuck', 'frozen')] });
    const r = await applyRun({ manifests: 'd.yaml', within: '60s' }, ctx, session);
    assert.ok(!r.ok);
    assert.match(
      r.reason,
      /Deployment stuck\/frozen: deployment "frozen" exceeded its progress deadline \[stuck\/frozen: conditions Progressing=False \(ProgressDeadlineExceeded\)/,
    );
    assert.match(r.reason, /events: Warning FailedCreate/);
  } finally {
    h.stop();
  }
});

test('410 Expired while waiting: the gate re-lists and still sees the change', async () => {
  srv.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'exp' } });
  srv.put(deployment('exp', 'late', 1), 'someone');
  const { session, ctx } = castle('expired', {});
  const lists = () => srv.requests.filter((q) => q.method === 'GET' && /namespaces\/exp\/deployments\?/.test(q.path) && !/watch=true/.test(q.path)).length;
  const waiting = runWait({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'exp', name: 'late', within: '20s' }, ctx, session);
  // once the gate watches: forget history and close the watch, then roll the deployment out
  await watching(/namespaces\/exp\/deployments\?.*watch=true/);
  srv.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated', namespace: 'default' } });
  srv.compact();
  srv.dropWatches();
  srv.patchStatus(
    'apps/v1',
    'Deployment',
    'exp',
    'late',
    (o) => void (o['status'] = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }),
    'deployment-controller',
  );
  const r = await waiting;
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.ok(lists() >= 2, `re-listed after 410 (${lists()} lists)`);
});

test('a gate on a selector waits for the objects to exist, then for each to be ready', async () => {
  const { session, ctx } = castle('selector', {});
  const pod = (name: string, ready: boolean): Obj => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'worker' } },
    spec: { containers: [{ name: 'w', image: 'busybox' }] },
  });
  const waiting = runWait(
    { apiVersion: 'v1', kind: 'Pod', namespace: 'default', selector: 'app=worker', count: 2, condition: 'Ready', within: '20s' },
    ctx,
    session,
  );
  await watching(/namespaces\/default\/pods\?.*watch=true/);
  srv.after(10, () => {
    srv.put(pod('w1', true));
    srv.patchStatus('v1', 'Pod', 'default', 'w1', (o) => void (o['status'] = { conditions: [{ type: 'Ready', status: 'True' }] }), 'kubelet');
  });
  srv.after(30, () => {
    srv.put(pod('w2', false));
    srv.after(10, () =>
      srv.patchStatus('v1', 'Pod', 'default', 'w2', (o) => void (o['status'] = { conditions: [{ type: 'Ready', status: 'True' }] }), 'kubelet'),
    );
  });
  const r = await waiting;
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const progress = ctx.rec.logs.join('');
  assert.match(progress, /does not exist yet/);
  assert.match(progress, /1 of 2 objects exist/);
});

test('delete against a cluster that is gone skips at once; without a kubeconfig too', async () => {
  const { castleDir, ctx } = castle('gone', { 'x.yaml': [deployment('default', 'x')] });
  const dead = await KubeTestServer.start({ dir: join(dir, 'dead') });
  const kubeconfig = dead.kubeconfigPath;
  await dead.close();
  const gone = new KubeTargetSession({ kubeconfig }, castleDir, join(castleDir, '.castle'), openKube);
  const r = await deleteRun({ manifests: 'x.yaml' }, { ...ctx, section: 'down' }, gone);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.match(r.summary ?? '', /^skipped: the API server https:\/\/127\.0\.0\.1:\d+ does not answer \(the cluster is gone\)$/);
  const none = new KubeTargetSession(undefined, castleDir, join(castleDir, '.castle'), openKube);
  const r2 = await deleteRun({ manifests: 'x.yaml' }, { ...ctx, section: 'down' }, none);
  assert.ok(r2.ok);
  assert.match(r2.summary ?? '', /^skipped: no kubeconfig in the castle's state/);
});

test('delete removes the objects in reverse order and waits until they are gone', async () => {
  srv.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bye' } });
  const h = controllers.rollouts(srv, { delayMs: 0 });
  try {
    const { session, ctx } = castle('delete', { 'd.yaml': [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bye' } }, deployment('bye', 'web')] });
    assert.ok((await applyRun({ manifests: 'd.yaml', within: '10s' }, ctx, session)).ok);
    const r = await deleteRun({ manifests: 'd.yaml', within: '10s' }, ctx, session);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.summary, 'deleted 2 objects (0 were already gone)');
    assert.equal(srv.get('apps/v1', 'Deployment', 'bye', 'web'), undefined);
    const dels = srv.requests.filter((q) => q.method === 'DELETE').map((q) => q.path);
    assert.ok(dels.findIndex((p) => /deployments\/web/.test(p)) < dels.findIndex((p) => /namespaces\/bye(\?|$)/.test(p)));
  } finally {
    h.stop();
  }
});

test('a PostgresCluster without PGO status does not pass its gate', async () => {
  // installed beforehand (as helm would), and Established before the castle applies its cluster
  const established = new Promise<void>((res) => {
    const off = srv.onChange((e) => {
      const conds = ((e.object['status'] as Obj | undefined)?.['conditions'] ?? []) as Obj[];
      if (e.object['kind'] === 'CustomResourceDefinition' && conds.some((c) => c['type'] === 'Established' && c['status'] === 'True')) {
        off();
        res();
      }
    });
  });
  srv.put(pgoCrd(), 'helm');
  await established;
  srv.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'pg' } });
  const { session, ctx } = castle('pgwait', {
    'pc.yaml': [
      {
        apiVersion: 'postgres-operator.crunchydata.com/v1beta1',
        kind: 'PostgresCluster',
        metadata: { name: 'hippo', namespace: 'pg' },
        spec: {
          postgresVersion: 16,
          instances: [{ name: 'instance1', dataVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
          backups: {
            pgbackrest: {
              repos: [{ name: 'repo1', volume: { volumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } }],
            },
          },
        },
      },
    ],
  });
  const r = await applyRun({ manifests: 'pc.yaml', within: '2s' }, ctx, session);
  assert.ok(!r.ok);
  assert.match(r.reason, /^PostgresCluster pg\/hippo not ready after 2 s; saw last: status\.observedGeneration 0 < generation 1/);
});
