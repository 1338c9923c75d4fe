// The Kubernetes API test server against the real API server's documented answers, through raw HTTP
// (status codes, Status bodies) and through @kubernetes/client-node (discovery, SSA, watch).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, ApiException, loadYaml } from '@kubernetes/client-node';
import { KubeTestServer, pgoCrd, tempDir, rmDir } from './index.js';

let srv: KubeTestServer;
let dir: string;
let token: string;

before(async () => {
  dir = tempDir('kube-server');
  srv = await KubeTestServer.start({ dir, bookmarkIntervalMs: 50 });
  token = /token: (\S+)/.exec(srv.kubeconfig())![1]!;
});
after(async () => {
  await srv.close();
  rmDir(dir);
});

function call(method: string, path: string, body?: unknown, contentType = 'application/apply-patch+yaml', auth = true): Promise<{ code: number; body: any }> {
  return new Promise((res, rej) => {
    const req = request(
      srv.url + path,
      { method, ca: srv.caPem, headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), 'content-type': contentType } },
      (r) => {
        let text = '';
        r.on('data', (c) => (text += c));
        r.on('end', () => res({ code: r.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', rej);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const deploy = (replicas: number, image = 'nginx:1.27') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
  },
});

test('discovery: /api, /apis, group versions; unknown group-version is the not-found Status', async () => {
  assert.deepEqual((await call('GET', '/api')).body.versions, ['v1']);
  const groups = (await call('GET', '/apis')).body.groups.map((g: any) => g.name);
  assert.ok(groups.includes('apps') && groups.includes('apiextensions.k8s.io'));
  const apps = (await call('GET', '/apis/apps/v1')).body;
  assert.equal(apps.kind, 'APIResourceList');
  assert.ok(apps.resources.some((r: any) => r.name === 'deployments' && r.kind === 'Deployment' && r.namespaced === true));
  assert.ok(apps.resources.some((r: any) => r.name === 'deployments/status'));
  const nf = await call('GET', '/apis/postgres-operator.crunchydata.com/v1beta1');
  assert.equal(nf.code, 404);
  assert.deepEqual(nf.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'the server could not find the requested resource',
    reason: 'NotFound',
    details: {},
    code: 404,
  });
});

test('server-side apply: 201 on create, 200 on update, fieldManager required, 409 with managers and paths, force takes over', async () => {
  const p = '/apis/apps/v1/namespaces/default/deployments/web';
  const noMgr = await call('PATCH', p, deploy(1));
  assert.equal(noMgr.code, 422);
  assert.equal(noMgr.body.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  const c = await call('PATCH', `${p}?fieldManager=castle`, deploy(1));
  assert.equal(c.code, 201);
  assert.equal(c.body.metadata.generation, 1);
  assert.equal(c.body.metadata.managedFields[0].manager, 'castle');
  assert.ok(c.body.metadata.managedFields[0].fieldsV1['f:spec']['f:replicas']);
  const u = await call('PATCH', `${p}?fieldManager=castle`, deploy(1, 'nginx:1.28'));
  assert.equal(u.code, 200);
  assert.equal(u.body.metadata.generation, 2);
  // another applier sets replicas: conflict, worded as apimachinery words it
  const k = await call('PATCH', `${p}?fieldManager=kubectl`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 3 } });
  assert.equal(k.code, 409);
  assert.equal(k.body.reason, 'Conflict');
  assert.equal(k.body.message, 'Apply failed with 1 conflict: conflict with "castle": .spec.replicas');
  assert.deepEqual(k.body.details, { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "castle"', field: '.spec.replicas' }] });
  const f = await call('PATCH', `${p}?fieldManager=kubectl&force=true`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { replicas: 3 },
  });
  assert.equal(f.code, 200);
  assert.equal(f.body.spec.replicas, 3);
  // castle re-applies replicas 1 without force: now kubectl owns it
  const back = await call('PATCH', `${p}?fieldManager=castle`, deploy(1, 'nginx:1.28'));
  assert.equal(back.code, 409);
  assert.equal(back.body.details.causes[0].message, 'conflict with "kubectl"');
  // an Update manager is named with its apiVersion
  await call('PATCH', `${p}?fieldManager=hpa`, { spec: { replicas: 5 } }, 'application/merge-patch+json');
  const two = await call('PATCH', `${p}?fieldManager=castle`, { ...deploy(2, 'nginx:1.29') });
  assert.equal(two.code, 409);
  assert.match(two.body.message, /conflict with "hpa" using apps\/v1: \.spec\.replicas/);
  const wrongVersion = await call('PATCH', `${p}?fieldManager=castle`, { ...deploy(1), apiVersion: 'apps/v1beta1' });
  assert.equal(wrongVersion.code, 400);
  assert.equal(wrongVersion.body.message, 'Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1');
});

test('a namespaced object in a missing namespace is 404 namespaces "x" not found', async () => {
  const r = await call('PATCH', '/api/v1/namespaces/nowhere/configmaps/c?fieldManager=castle', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c' },
    data: { a: 'b' },
  });
  assert.equal(r.code, 404);
  assert.equal(r.body.message, 'namespaces "nowhere" not found');
});

test('CRD: kind 404 until Established, then served; unknown field 500, invalid value 422 with causes', async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(srv.kubeconfigPath);
  const api = KubernetesObjectApi.makeApiClient(kc);
  const pc = {
    apiVersion: 'postgres-operator.crunchydata.com/v1beta1',
    kind: 'PostgresCluster',
    metadata: { name: 'hippo', namespace: 'default' },
    spec: {
      postgresVersion: 16,
      instances: [{ name: 'instance1', dataVolumeClaimSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      backups: { pgbackrest: { repos: [{ name: 'repo1', s3: { bucket: 'b', endpoint: 'e', region: 'r' } }] } },
    },
  };
  const before = await call('PATCH', '/apis/postgres-operator.crunchydata.com/v1beta1/namespaces/default/postgresclusters/hippo?fieldManager=castle', pc);
  assert.equal(before.code, 404);
  assert.equal(before.body.message, 'the server could not find the requested resource');
  await assert.rejects(
    api.patch(pc, undefined, undefined, 'castle', false, PatchStrategy.ServerSideApply),
    /Failed to fetch resource metadata|Unrecognized API version and kind/,
  );

  // read into client-node's model first: serializing a plain CRD object drops its x-kubernetes-* keys
  const crd = loadYaml<any>(JSON.stringify(pgoCrd()));
  await api.patch(crd, undefined, undefined, 'castle', false, PatchStrategy.ServerSideApply);
  // Established is set by the server right after the write (delay 0)
  await new Promise((r) => setImmediate(r));
  const got = srv.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, 'postgresclusters.postgres-operator.crunchydata.com')!;
  assert.ok((got['status'] as any).conditions.some((c: any) => c.type === 'Established' && c.status === 'True'));

  const ok = await api.patch(pc, undefined, undefined, 'castle', false, PatchStrategy.ServerSideApply);
  assert.equal(ok.metadata?.name, 'hippo');

  const typo = structuredClone(pc) as any;
  typo.spec.backups.pgbackrest.repos[0].s3Credentials = { secret: 'x' };
  const t = await call('PATCH', '/apis/postgres-operator.crunchydata.com/v1beta1/namespaces/default/postgresclusters/hippo?fieldManager=castle', typo);
  assert.equal(t.code, 500);
  assert.equal(t.body.reason, undefined);
  assert.equal(
    t.body.message,
    'failed to create typed patch object (default/hippo; postgres-operator.crunchydata.com/v1beta1, Kind=PostgresCluster): .spec.backups.pgbackrest.repos[name="repo1"].s3Credentials: field not declared in schema',
  );

  const bad = structuredClone(pc) as any;
  bad.spec.backups.pgbackrest.repos[0].name = 'backup1';
  try {
    await api.patch(bad, undefined, undefined, 'castle', false, PatchStrategy.ServerSideApply);
    assert.fail('422 expected');
  } catch (err) {
    assert.ok(err instanceof ApiException);
    assert.equal(err.code, 422);
    const st = JSON.parse(err.body as string);
    assert.equal(st.reason, 'Invalid');
    assert.equal(st.details.kind, 'PostgresCluster');
    assert.equal(st.details.group, 'postgres-operator.crunchydata.com');
    assert.equal(st.details.causes[0].field, 'spec.backups.pgbackrest.repos[0].name');
    assert.match(st.details.causes[0].message, /should match '\^repo\[1-4\]'/);
    assert.match(
      st.message,
      /^PostgresCluster\.postgres-operator\.crunchydata\.com "hippo" is invalid: spec\.backups\.pgbackrest\.repos\[0\]\.name: Invalid value: "backup1"/,
    );
  }
});

test('LIST+WATCH: resourceVersion resumes, BOOKMARK arrives, an expired version gets ERROR 410 in a 200 stream', async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(srv.kubeconfigPath);
  const api = KubernetesObjectApi.makeApiClient(kc);
  srv.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one', namespace: 'default' }, data: { a: '1' } });
  const list = await api.list('v1', 'ConfigMap', 'default');
  const rv = list.metadata!.resourceVersion!;
  srv.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'two', namespace: 'default' }, data: { a: '2' } });
  const seen: string[] = [];
  let bookmark = false;
  const w = new Watch(kc);
  let resolveDone!: () => void;
  const gotThree = new Promise<void>((r) => (resolveDone = r));
  const ac = await w.watch(
    '/api/v1/namespaces/default/configmaps',
    { resourceVersion: rv, allowWatchBookmarks: true },
    (type, obj) => {
      if (type === 'BOOKMARK') bookmark = true;
      else seen.push(`${type} ${obj.metadata.name}`);
      if (seen.includes('ADDED three') && bookmark) resolveDone();
    },
    () => {},
  );
  srv.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'three', namespace: 'default' }, data: { a: '3' } });
  await gotThree;
  ac.abort();
  assert.deepEqual(seen.slice(0, 2), ['ADDED two', 'ADDED three'], 'events after the listed version only, in order');

  srv.compact();
  const errors: any[] = [];
  const ended = new Promise<void>((res) => {
    void w.watch(
      '/api/v1/namespaces/default/configmaps',
      { resourceVersion: rv },
      (type, obj) => type === 'ERROR' && errors.push(obj),
      () => res(),
    );
  });
  await ended;
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 410);
  assert.equal(errors[0].reason, 'Expired');
  assert.match(errors[0].message, /^too old resource version: \d+ \(\d+\)$/);
});

test('unauthenticated requests get 401', async () => {
  const r = await call('GET', '/api', undefined, 'application/json', false);
  assert.equal(r.code, 401);
  assert.equal(r.body.reason, 'Unauthorized');
});
