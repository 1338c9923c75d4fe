import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { KubeTestServer } from '../kubernetes/index.js';
import { cleanup, runCliAsync, tempDir, writeTree } from './helpers.js';

// Transition rules (oldSelf) and ratcheting: `castle validate --kubeconfig` reads each custom
// resource's live object from the API test server (test/kubernetes) and checks an update of it, with the
// API server's rules (apiextensions-apiserver schema/cel/validation.go, CRDValidationRatcheting).

const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: {
                  replicas: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: 'replicas may not decrease' }] },
                  mode: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'mode is immutable' }] },
                  label: { type: 'string', maxLength: 5 },
                  limits: {
                    type: 'object',
                    properties: { max: { type: 'integer' } },
                    'x-kubernetes-validations': [{ rule: 'self.max <= 10', message: 'max is at most 10' }],
                  },
                  tag: {
                    type: 'string',
                    'x-kubernetes-validations': [
                      { rule: "oldSelf.hasValue() || self.startsWith('v')", message: 'a new tag starts with v', optionalOldSelf: true },
                    ],
                  },
                  ports: {
                    type: 'array',
                    'x-kubernetes-list-type': 'map',
                    'x-kubernetes-list-map-keys': ['name'],
                    items: {
                      type: 'object',
                      required: ['name'],
                      properties: {
                        name: { type: 'string' },
                        port: { type: 'integer', maximum: 1000, 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'port is immutable' }] },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

/** The objects the cluster holds; some are invalid under today's CRD (written before a rule tightened). */
const LIVE = {
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name: 'a', namespace: 'default' },
  spec: { replicas: 5, mode: 'slow', label: 'too-long-label', limits: { max: 20 }, tag: 'x-old', ports: [{ name: 'http', port: 5000 }] },
};

function widget(name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name, namespace: 'default' }, spec });
}

function findings(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => /^\S.*:\d+:\d+: (error|warning) /.test(l))
    .map((l) => l.replace(/^[^:]*:\d+:\d+: /, ''));
}

describe('transition rules and ratcheting against the live object', () => {
  let dir: string;
  let srv: KubeTestServer;
  before(async () => {
    dir = tempDir();
    srv = await KubeTestServer.start({ dir: `${dir}/kube` });
    srv.put(CRD);
    await new Promise((r) => setImmediate(r));
    srv.put(LIVE);
    writeTree(dir, { 'crd.yaml': stringify(CRD) });
  });
  after(async () => {
    await srv.close();
    cleanup(dir);
  });

  it('offline: transition rules are one count, never per object; optionalOldSelf rules run as on a create', async () => {
    writeTree(dir, { 'w.yaml': `${widget('a', { replicas: 3, mode: 'fast', tag: 'x-new' })}---\n${widget('b', { replicas: 1, mode: 'm' })}` });
    const r = await runCliAsync(['validate', '--cache-dir', `${dir}/cache`, 'crd.yaml', 'w.yaml'], dir);
    assert.equal(r.status, 1, r.stdout);
    // oldSelf is optional.none() on a create: the rule is evaluated and fails
    assert.deepEqual(findings(r.stdout), ['error cel/rule: spec.tag: Invalid value: "string": a new tag starts with v']);
    assert.match(r.stdout, /, 4 transition rules \(oldSelf\) not checked: they compare with the live object on update \(--cluster checks them\)/);
  });

  it('--kubeconfig: an update of the live object; unchanged invalid values pass (ratcheting), changed ones fail', async () => {
    writeTree(dir, {
      'w.yaml': [
        // a: exists. replicas decrease and mode changes (transition rules fail); label and limits are as
        // live (invalid today, ratcheted); tag is as live (optionalOldSelf has a value); the port changes
        widget('a', { replicas: 3, mode: 'fast', label: 'too-long-label', limits: { max: 20 }, tag: 'x-old', ports: [{ name: 'http', port: 5001 }] }),
        // b: not in the cluster, a create: its transition rules are skipped, its limits rule fails
        widget('b', { replicas: 1, mode: 'm', limits: { max: 20 }, tag: 'v1' }),
      ].join('---\n'),
    });
    const r = await runCliAsync(['validate', '--cache-dir', `${dir}/cache`, '--kubeconfig', srv.kubeconfigPath, 'crd.yaml', 'w.yaml'], dir);
    assert.equal(r.status, 1, r.stdout);
    assert.deepEqual(findings(r.stdout).sort(), [
      // b, a create: nothing to ratchet against
      'error cel/rule: spec.limits: Invalid value: "object": max is at most 10',
      'error cel/rule: spec.mode: Invalid value: "string": mode is immutable',
      // the list item (correlated by its key, name=http) changed: a transition rule and the maximum fail
      'error cel/rule: spec.ports[0].port: Invalid value: "integer": port is immutable',
      'error cel/rule: spec.replicas: Invalid value: "integer": replicas may not decrease',
      'error schema/bounds: spec.ports[0].port: Invalid value: 5001: should be less than or equal to 1000',
    ]);
    // the live object was read with a GET in the document's apiVersion; b's 404 made it a create
    assert.ok(srv.requests.some((q) => q.method === 'GET' && q.path.startsWith('/apis/example.com/v1/namespaces/default/widgets/a') && q.status === 200));
    assert.ok(srv.requests.some((q) => q.method === 'GET' && q.path.startsWith('/apis/example.com/v1/namespaces/default/widgets/b') && q.status === 404));
    // a's label and limits (invalid, unchanged) were ratcheted
    assert.match(r.stdout, /, 2 errors on values unchanged from the live objects ratcheted \(as the API server does\)/);
    assert.match(r.stdout, /, 2 transition rules \(oldSelf\) not checked/); // b's two, on its create
  });

  it('an object equal to its live one passes, whatever the rules of today say', async () => {
    writeTree(dir, { 'w.yaml': widget('a', LIVE.spec) });
    const r = await runCliAsync(['validate', '--cache-dir', `${dir}/cache`, '--kubeconfig', srv.kubeconfigPath, 'crd.yaml', 'w.yaml'], dir);
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(findings(r.stdout), []);
    assert.match(r.stdout, /errors on values unchanged from the live objects ratcheted/);
  });
});
