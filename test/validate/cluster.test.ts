import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CLI, cleanup, tempDir, writeTree, type CliResult } from './helpers.js';

// A fake API server on loopback: what `castle schemas pull` and `validate --kubeconfig` read.

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const ROUTES: Record<string, unknown> = {
  '/version': { gitVersion: 'v1.31.4' },
  '/apis/apiextensions.k8s.io/v1/customresourcedefinitions': {
    items: [
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'gadgets.example.com' },
        spec: {
          group: 'example.com',
          names: { kind: 'Gadget', plural: 'gadgets' },
          scope: 'Namespaced',
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } },
            },
          ],
        },
      },
    ],
  },
  '/openapi/v3': { paths: { 'api/v1': { serverRelativeURL: '/openapi/v3/api/v1?hash=ABC' }, version: { serverRelativeURL: '/openapi/v3/version?hash=D' } } },
  '/openapi/v3/api/v1': {
    components: {
      schemas: {
        'io.k8s.api.core.v1.ConfigMap': {
          type: 'object',
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            metadata: { allOf: [{ $ref: `#/components/schemas/${OBJECT_META}` }], default: {} },
            data: { type: 'object', additionalProperties: { type: 'string', default: '' } },
          },
          'x-kubernetes-group-version-kind': [{ group: '', kind: 'ConfigMap', version: 'v1' }],
        },
        [OBJECT_META]: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            namespace: { type: 'string' },
            labels: { type: 'object', additionalProperties: { type: 'string', default: '' } },
          },
        },
      },
    },
  },
  '/api/v1': { resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }] },
  '/api/v1/namespaces': { items: [{ metadata: { name: 'db' } }] },
  '/apis/storage.k8s.io/v1/storageclasses': { items: [{ metadata: { name: 'longhorn-postgres' } }] },
  '/api/v1/secrets': { items: [{ metadata: { name: 's3-backrest-creds', namespace: 'db' } }] },
  '/api/v1/configmaps': { items: [] },
};

const GADGET_CRD_YAML = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: doohickeys.example.com}
spec:
  group: example.com
  names: {kind: Doohickey, plural: doohickeys}
  scope: Cluster
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}
`;

function runAsync(args: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (status) => resolve({ stdout, stderr, status }));
  });
}

describe('live cluster (fake API server on 127.0.0.1)', () => {
  let server: Server;
  let dir: string;
  const seen: { path: string; accept: string | undefined }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ path: url.pathname, accept: req.headers.accept });
      if (url.pathname === '/crds/gadget.yaml') {
        res.writeHead(200, { 'content-type': 'application/yaml' }).end(GADGET_CRD_YAML);
        return;
      }
      if (req.headers.authorization !== 'Bearer castle-test-token') {
        res.writeHead(401).end('{"kind":"Status","code":401}');
        return;
      }
      const body = ROUTES[url.pathname];
      if (body === undefined) res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404,"reason":"NotFound"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    dir = tempDir();
    writeTree(dir, {
      kubeconfig: `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: castle-test-token}}]\ncontexts: [{name: fake, context: {cluster: fake, user: u}}]\ncurrent-context: fake\n`,
      'gadget.yaml': 'apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: big}\n',
      'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nbinaryDataz: {}\n',
      'pg.yaml': `apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: db}\nspec:\n  containers: [{name: c, image: x, envFrom: [{secretRef: {name: s3-backrest-creds}}, {secretRef: {name: nowhere}}]}]\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: pvc, namespace: db}\nspec: {storageClassName: longhorn-postgres, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n`,
    });
  });
  after(() => {
    server.close();
    cleanup(dir);
  });

  it('schemas pull imports the cluster CRDs and, with --core, its core schemas for --kubernetes-version', async () => {
    const pull = await runAsync(['schemas', 'pull', '--kubeconfig', 'kubeconfig', '--core', '--cache-dir', 'cache'], dir);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, /^imported gadgets\.example\.com \(v1\) from cluster fake$/m);
    assert.match(pull.stdout, /^stored core schemas of Kubernetes 1\.31\.4 \(1 kinds\) in /m);
    const g = await runAsync(['validate', '--cache-dir', 'cache', 'gadget.yaml'], dir);
    assert.equal(g.status, 1);
    assert.match(g.stdout, /gadget\.yaml:4:14: error schema\/type: spec\.size: Invalid value: "string": must be of type integer/);
    const cm = await runAsync(['validate', '--cache-dir', 'cache', '--kubernetes-version', '1.31', 'cm.yaml'], dir);
    assert.equal(cm.status, 1, cm.stderr + cm.stdout);
    assert.match(cm.stdout, /cm\.yaml:5:1: error schema\/unknown-field: \.binaryDataz: field not declared in schema/);
  });

  it('validate --kubeconfig resolves references in the cluster; one found nowhere is an error', async () => {
    seen.length = 0;
    const r = await runAsync(['validate', '--cache-dir', 'cache', '--kubeconfig', 'kubeconfig', 'pg.yaml'], dir);
    assert.equal(r.status, 1, r.stderr);
    const problems = r.stdout.split('\n').filter((l) => / (error|warning) /.test(l));
    assert.deepEqual(problems, [
      'pg.yaml:5:105: error ref/missing: Secret "nowhere" is not defined in the validated manifests nor in the cluster (namespace db)',
    ]);
    // Secrets are listed as metadata only
    assert.match(seen.find((s) => s.path === '/api/v1/secrets')?.accept ?? '', /as=PartialObjectMetadataList/);
  });

  it('schemas add reads a CRD from a URL', async () => {
    // the fake server checks the token on every path but this one: a public URL
    const port = (server.address() as AddressInfo).port;
    const add = await runAsync(['schemas', 'add', '--cache-dir', 'cache-url', `http://127.0.0.1:${port}/crds/gadget.yaml`], dir);
    assert.equal(add.status, 0, add.stderr);
    assert.equal(add.stdout, `imported doohickeys.example.com (v1) from http://127.0.0.1:${port}/crds/gadget.yaml\n`);
    writeTree(dir, { 'd.yaml': 'apiVersion: example.com/v1\nkind: Doohickey\nmetadata: {name: d}\nspec: {size: 1, color: red}\n' });
    const r = await runAsync(['validate', '--cache-dir', 'cache-url', 'd.yaml'], dir);
    assert.match(r.stdout, /^d\.yaml:4:17: error schema\/unknown-field: \.spec\.color: field not declared in schema$/m);
  });

  it('reports an unreachable cluster as a diagnostic, not a crash', async () => {
    writeTree(dir, {
      'bad-kubeconfig':
        'apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: "http://127.0.0.1:9", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: u}}]\ncurrent-context: x\n',
    });
    const r = await runAsync(['validate', '--cache-dir', 'cache', '--kubeconfig', 'bad-kubeconfig', 'pg.yaml'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /error cluster\/unreachable: cannot read the live cluster for references: /);
  });
});
