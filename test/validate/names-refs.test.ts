import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messages, rules, validateTexts } from './helpers.js';

describe('names', () => {
  it('applies DNS-1123 subdomain, DNS-1123 label and DNS-1035 label rules per kind', async () => {
    const r = await validateTexts({
      'n.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: 9lives}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok.example.com}\n`,
    });
    assert.deepEqual(rules(r, 'error'), ['names/subdomain', 'names/label', 'names/dns1035']);
    assert.match(messages(r, 'names/subdomain')[0]!, /^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);
    assert.match(messages(r, 'names/dns1035')[0]!, /^metadata\.name: Invalid value: "9lives": a DNS-1035 label must consist of/);
  });

  it('checks label keys and values and annotation keys', async () => {
    const r = await validateTexts({
      'l.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {"a/b/c": x, ok: "-no-", "example.com/fine": "yes.ok"}\n  annotations: {"bad key": x, "example.com/fine": "any value at all"}\n`,
    });
    assert.deepEqual(rules(r, 'error'), ['names/label-key', 'names/label-value', 'names/annotation-key']);
  });

  it('checks the names PGO derives: Services and user Secrets', async () => {
    const long = 'x'.repeat(56);
    const r = await validateTexts({
      'pg.yaml': `apiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata: {name: 1db}\nspec:\n  postgresVersion: 16\n  instances: [{name: ${long}, dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}\n`,
    });
    const derived = messages(r, 'names/derived');
    assert.ok(
      derived.some((m) => m.startsWith('Service "1db-primary" that PGO creates for this cluster would be invalid: a DNS-1035 label')),
      derived.join('\n'),
    );
    assert.ok(
      derived.some((m) => m.startsWith(`Pod "1db-${long}-xxxx-0"`) && m.includes('must be no more than 63 characters')),
      derived.join('\n'),
    );
    const ok = await validateTexts({
      'pg.yaml': `apiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata: {name: hippo}\nspec:\n  postgresVersion: 16\n  users: [{name: tazlab-admin}]\n  instances: [{name: instance1, dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}\n`,
    });
    assert.deepEqual(rules(ok, 'error'), []);
  });
});

const STORE = `apiVersion: external-secrets.io/v1beta1
kind: ClusterSecretStore
metadata: {name: infisical-tazlab}
spec:
  provider:
    fake:
      data: [{key: AWS_ACCESS_KEY_ID, value: x}]
`;

function externalSecret(keys: string[], template: string): string {
  return `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: s3-backrest-creds, namespace: db}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: infisical-tazlab}
  target:
    name: s3-backrest-creds
    template:
      data:
        s3.conf: |
${template
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
  data:
${keys.map((k) => `    - {secretKey: ${k}, remoteRef: {key: ${k}}}`).join('\n')}
`;
}

describe('references', () => {
  it('ExternalSecret: its store must exist, its template keys must be among its data keys', async () => {
    const tpl = '[global]\nrepo1-s3-key={{ .AWS_ACCESS_KEY_ID }}\nrepo1-s3-key-secret={{ .AWS_SECRET_ACCESS_KEY }}';
    const bad = await validateTexts({ 'es.yaml': externalSecret(['AWS_ACCESS_KEY_ID'], tpl) + `---\napiVersion: v1\nkind: Namespace\nmetadata: {name: db}\n` });
    assert.deepEqual(rules(bad), ['ref/missing', 'ref/template-key']);
    assert.equal(messages(bad, 'ref/missing')[0], 'ClusterSecretStore "infisical-tazlab" is not defined in the validated manifests');
    const t = bad.diagnostics.find((d) => d.rule === 'ref/template-key')!;
    assert.equal(t.message, 'template of "s3.conf" uses .AWS_SECRET_ACCESS_KEY, which is not a secretKey of spec.data ("AWS_ACCESS_KEY_ID")');
    // pointed at the `.AWS_SECRET_ACCESS_KEY` inside the block scalar
    assert.deepEqual([t.location?.line, t.location?.col, t.location?.length], [13, 34, 22]);
    const good = await validateTexts({
      'es.yaml':
        externalSecret(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], tpl) + `---\napiVersion: v1\nkind: Namespace\nmetadata: {name: db}\n---\n` + STORE,
    });
    assert.deepEqual(good.diagnostics, []);
  });

  it('PostgresCluster configuration secrets resolve to a Secret or an ExternalSecret target; storage classes to StorageClasses', async () => {
    const pg = `apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: hippo, namespace: db}
spec:
  postgresVersion: 16
  instances: [{name: i1, dataVolumeClaimSpec: {storageClassName: longhorn-postgres, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]
  backups:
    pgbackrest:
      configuration: [{secret: {name: s3-backrest-creds}}]
      repos: [{name: repo2, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]
---
apiVersion: v1
kind: Namespace
metadata: {name: db}
`;
    const bad = await validateTexts({ 'pg.yaml': pg });
    assert.deepEqual(messages(bad, 'ref/missing'), [
      'StorageClass "longhorn-postgres" is not defined in the validated manifests',
      'Secret "s3-backrest-creds" is not defined in the validated manifests (namespace db)',
    ]);
    const keys = ['AWS_ACCESS_KEY_ID'];
    const good = await validateTexts({
      'pg.yaml': pg,
      'es.yaml': externalSecret(keys, '{{ .AWS_ACCESS_KEY_ID }}') + '---\n' + STORE,
      'sc.yaml': 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: longhorn-postgres}\nprovisioner: driver.longhorn.io\n',
    });
    assert.deepEqual(good.diagnostics, []);
  });

  it('volume and env references to Secrets and ConfigMaps, optional ones excepted; namespaces', async () => {
    const r = await validateTexts({
      'd.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: blog}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx
          envFrom: [{configMapRef: {name: web-config}}]
          env:
            - {name: A, valueFrom: {secretKeyRef: {name: web-secret, key: a}}}
            - {name: B, valueFrom: {secretKeyRef: {name: maybe, key: b, optional: true}}}
      volumes:
        - {name: v, secret: {secretName: tls}}
`,
    });
    assert.deepEqual(messages(r, 'ref/missing'), [
      'Namespace "blog" is not defined in the validated manifests',
      'ConfigMap "web-config" is not defined in the validated manifests (namespace blog)',
      'Secret "web-secret" is not defined in the validated manifests (namespace blog)',
      'Secret "tls" is not defined in the validated manifests (namespace blog)',
    ]);
    assert.ok(r.diagnostics.every((d) => d.severity === 'warning'));
  });
});

describe('workload rules the API server enforces outside the schema', () => {
  const deployment = (o: { labels?: string; container?: string; port?: string; mount?: string }) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: ${o.labels ?? '{app: web, tier: front}'}}
    spec:
      containers:
        - name: ${o.container ?? 'web'}
          image: nginx
          ports: [{name: ${o.port ?? 'http'}, containerPort: 8080}]
          volumeMounts: [{name: ${o.mount ?? 'cache'}, mountPath: /tmp}]
      volumes: [{name: cache, emptyDir: {}}]
`;

  it('accepts a consistent Deployment and a StatefulSet mounting its claim template', async () => {
    const r = await validateTexts({
      'd.yaml': deployment({}),
      's.yaml': `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres, volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]}]
  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]
`,
    });
    assert.deepEqual(r.diagnostics, []);
  });

  it('reports a selector that does not match, bad container and port names, a mount of no volume', async () => {
    const r = await validateTexts({ 'd.yaml': deployment({ labels: '{app: api}', container: 'Web_1', port: 'metrics-endpoint-http', mount: 'data' }) });
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.location?.line}:${d.rule}: ${d.message.split(': a lowercase')[0]}`),
      [
        '7:workload/selector-mismatch: spec.template.metadata.labels: Invalid value: map[string]string{"app":"api"}: `selector` does not match template `labels`',
        '10:names/label: spec.template.spec.containers[0].name: Invalid value: "Web_1"',
        '12:names/port: spec.template.spec.containers[0].ports[0].name: Invalid value: "metrics-endpoint-http": must be no more than 15 characters',
        '13:ref/volume-mount: spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"',
      ],
    );
  });

  it('Service ports: names are DNS labels, and required when there are several', async () => {
    const r = await validateTexts({
      's.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n    - {port: 80}\n    - {name: Https, port: 443}\n',
    });
    assert.deepEqual(
      messages(r, 'names/port').map((m) => m.split(': a lowercase')[0]),
      ['spec.ports[0].name: Required value', 'spec.ports[1].name: Invalid value: "Https"'],
    );
    const ok = await validateTexts({ 's.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n' });
    assert.deepEqual(ok.diagnostics, []);
  });
});
