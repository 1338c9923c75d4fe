import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messages, rules, validateTexts } from './helpers.js';

/** One CRD exercising every structural-schema feature the checker implements. */
const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: false
      deprecated: true
      deprecationWarning: example.com/v1alpha1 Gadget is deprecated; use example.com/v1
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    - name: v0
      served: false
      storage: false
      schema: {openAPIV3Schema: {type: object}}
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [mode]
              x-kubernetes-validations:
                - rule: "self.minReplicas <= self.maxReplicas"
                  message: minReplicas must not exceed maxReplicas
                - rule: "self.mode != oldSelf.mode"
                - rule: "self.unknownFunction()"
              properties:
                mode: {type: string, enum: [fast, safe]}
                printable: {type: string, pattern: '^[[:print:]]+$'}
                timeout: {type: string, pattern: '^((PT)?( *[0-9]+ *(?i:(ms|s|m)|(milli|sec|min)s?))+|0)$'}
                port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
                note: {type: string, nullable: true}
                count: {type: integer, minimum: 1, maximum: 10, format: int32}
                minReplicas: {type: integer, default: 1}
                maxReplicas: {type: integer}
                when: {type: string, format: date-time}
                tags: {type: array, items: {type: string}, x-kubernetes-list-type: set, maxItems: 3}
                ports:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [containerPort, protocol]
                  items:
                    type: object
                    required: [containerPort]
                    properties:
                      containerPort: {type: integer}
                      protocol: {type: string}
                values: {type: object, x-kubernetes-preserve-unknown-fields: true}
                template:
                  type: object
                  x-kubernetes-embedded-resource: true
                  properties:
                    spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
                name:
                  type: string
                  maxLength: 8
                  x-kubernetes-validations:
                    - rule: "!self.matches('(?i:PASSWORD)')"
                      message: may not mention a password
`;

function gadget(spec: string, apiVersion = 'example.com/v1'): string {
  return `apiVersion: ${apiVersion}\nkind: Gadget\nmetadata: {name: g1}\nspec:\n${spec}`;
}

async function check(spec: string, apiVersion?: string) {
  return validateTexts({ 'crd.yaml': CRD, 'g.yaml': gadget(spec, apiVersion) });
}

describe('structural schema', () => {
  it('accepts a valid object, evaluating CEL rules and skipping transition rules', async () => {
    const r = await check(
      `  mode: fast\n  printable: "hello world"\n  timeout: "10 MS"\n  port: http\n  note: null\n  count: 3\n  minReplicas: 1\n  maxReplicas: 2\n  when: "2026-02-07T19:00:00+01:00"\n  tags: [a, b]\n  ports: [{containerPort: 80, protocol: TCP}, {containerPort: 80, protocol: UDP}]\n  values: {anything: [1, {goes: here}]}\n  template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}\n  name: admin\n`,
    );
    assert.deepEqual(rules(r, 'error'), []);
    assert.equal(r.stats.celSkipped, 1, 'the oldSelf rule is a transition rule: skipped on create');
    assert.ok(r.stats.celEvaluated >= 2);
    // the rule with an unknown function is never silently passed
    assert.equal(r.stats.celUnevaluated, 1);
    assert.match(messages(r, 'cel/unevaluated')[0]!, /^spec: rule could not be evaluated offline \(.+\): self\.unknownFunction\(\)$/);
  });

  it('matches CRD patterns with RE2 semantics ([[:print:]], (?i:...)), never loosened', async () => {
    const r = await check('  mode: fast\n  printable: "tab\\there"\n  timeout: "10 hours"\n  minReplicas: 1\n  maxReplicas: 1\n');
    assert.deepEqual(messages(r, 'schema/pattern'), [
      `spec.printable: Invalid value: "tab\\there": should match '^[[:print:]]+$'`,
      `spec.timeout: Invalid value: "10 hours": should match '^((PT)?( *[0-9]+ *(?i:(ms|s|m)|(milli|sec|min)s?))+|0)$'`,
    ]);
  });

  it('reports types, enums, bounds, formats, required, nullable and max items as the API server words them', async () => {
    const r = await check(
      '  mode: turbo\n  port: 1.5\n  count: 11\n  when: yesterday\n  note: ~\n  tags: [a, b, c, d]\n  minReplicas: "1"\n  maxReplicas: 1\n',
    );
    assert.deepEqual(
      r.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => d.message)
        .sort(),
      [
        'spec.mode: Unsupported value: "turbo": supported values: "fast", "safe"',
        'spec.port: Invalid value: "number": must be of type integer-or-string',
        'spec.count: Invalid value: 11: should be less than or equal to 10',
        'spec.when: Invalid value: "yesterday": must be of type date-time',
        'spec.tags: Too many: 4: must have at most 3 items',
        'spec.minReplicas: Invalid value: "string": must be of type integer',
        // type, enum and size errors stop the server before the CEL rules: it says so, once
        '<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      ].sort(),
    );
    const missing = await check('  count: 1\n');
    assert.deepEqual(messages(missing, 'schema/required'), ['spec.mode: Required value']);
    // a null of a field that is not nullable is pruned before validation, as typed clients send it every day
    const nulls = await check('  mode: fast\n  count: null\n  maxReplicas: 3\n');
    assert.deepEqual(
      nulls.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    // a null list item is not pruned: it is a type error there too
    const item = await check('  mode: fast\n  tags: [a, null]\n');
    assert.deepEqual(messages(item, 'schema/type'), ['spec.tags[1]: Invalid value: "null": must be of type string']);
  });

  it('reports unknown fields with the SSA path, list-map keys included, and respects preserve-unknown-fields', async () => {
    const r = await check(
      '  mode: fast\n  bogus: 1\n  ports: [{containerPort: 80, protocol: TCP, hostPortz: 8080}]\n  values: {free: form}\n  template: {apiVersion: v1, kind: Pod, extra: x}\n',
    );
    assert.deepEqual(messages(r, 'schema/unknown-field'), [
      '.spec.bogus: field not declared in schema',
      '.spec.ports[containerPort=80,protocol="TCP"].hostPortz: field not declared in schema',
      '.spec.template.extra: field not declared in schema',
    ]);
    // unknown fields point at the key
    const d = r.diagnostics.find((x) => x.message.startsWith('.spec.bogus'))!;
    assert.deepEqual([d.location?.line, d.location?.col, d.location?.length], [6, 3, 5]);
  });

  it('prunes nulls of a custom resource as the API server does: metadata (Go types) and non-nullable fields', async () => {
    const r = await validateTexts({
      'crd.yaml': CRD,
      'g.yaml': 'apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g1\n  creationTimestamp: null\n  labels: null\nspec:\n  mode: null\n',
    });
    // mode: null is pruned, then mode is missing; a required error means the rules were not evaluated
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.rule, d.message]),
      [
        [
          'cel/not-checked',
          '<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
        ],
        ['schema/required', 'spec.mode: Required value'],
      ],
    );
    // a CEL rule reading an absent field fails as on the API server, worded `<error> evaluating rule: <the rule's message>`
    const absent = await validateTexts({ 'crd.yaml': CRD, 'g.yaml': 'apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  mode: fast\n' });
    assert.deepEqual(messages(absent, 'cel/rule'), [
      'spec: Invalid value: "object": no such key: maxReplicas evaluating rule: minReplicas must not exceed maxReplicas',
    ]);
  });

  it('finds duplicates in list-type map and set lists', async () => {
    const r = await check('  mode: fast\n  tags: [a, a]\n  ports: [{containerPort: 80, protocol: TCP}, {containerPort: 80, protocol: TCP}]\n');
    assert.deepEqual(messages(r, 'schema/duplicate'), [
      'spec.tags[1]: Duplicate value: "a"',
      'spec.ports[1]: Duplicate value: map[string]interface {}{"containerPort":80, "protocol":"TCP"}',
    ]);
  });

  it('evaluates x-kubernetes-validations with their messages, RE2 in matches()', async () => {
    const r = await check('  mode: fast\n  minReplicas: 3\n  maxReplicas: 2\n  name: PassWord\n');
    assert.deepEqual(messages(r, 'cel/rule'), [
      'spec: Invalid value: "object": minReplicas must not exceed maxReplicas',
      'spec.name: Invalid value: "string": may not mention a password',
    ]);
  });

  it('checks embedded resources: apiVersion and kind are required', async () => {
    const r = await check('  mode: fast\n  template: {metadata: {name: p}}\n');
    assert.deepEqual(messages(r, 'schema/required').sort(), ['spec.template.apiVersion: Required value', 'spec.template.kind: Required value']);
  });

  it('served and deprecated versions', async () => {
    const notServed = await check('  mode: fast\n', 'example.com/v0');
    assert.deepEqual(messages(notServed, 'schema/version-not-served'), [
      'example.com/v0 is not served for Gadget by CRD gadgets.example.com: served versions are example.com/v1alpha1, example.com/v1',
    ]);
    const unknownVersion = await check('  mode: fast\n', 'example.com/v2');
    assert.equal(rules(unknownVersion, 'error')[0], 'schema/version-not-served');
    const deprecated = await check('  whatever: goes\n', 'example.com/v1alpha1');
    assert.deepEqual(rules(deprecated), ['schema/deprecated-version']);
    assert.equal(deprecated.diagnostics[0]!.message, 'example.com/v1alpha1 Gadget is deprecated; use example.com/v1');
    assert.equal(deprecated.diagnostics[0]!.severity, 'warning');
  });
});

describe('core kinds (Kubernetes 1.34 schemas generated from @kubernetes/client-node)', () => {
  it('accepts realistic manifests: quantities as numbers, int-or-string ports, RBAC names with colons, Lists', async () => {
    const r = await validateTexts({
      'ok.yaml': `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
            - name: web
              image: nginx
              ports: [{name: http, containerPort: 8080}]
              resources: {limits: {cpu: 1, memory: 512Mi}, requests: {cpu: 0.25}}
              readinessProbe: {httpGet: {path: /, port: http}}
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: "system:castle-reader"}
    rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
  - apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: web}
    spec: {maxUnavailable: 50%, selector: {matchLabels: {app: web}}}
`,
    });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.stats.validated, 3);
  });

  it('reports unknown fields, wrong types, missing required fields, bad quantities and base64', async () => {
    const r = await validateTexts({
      'bad.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicaz: 2
  template:
    spec:
      containers:
        - name: web
          image: nginx
          resources: {limits: {cpu: lots}}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {password: "hunter2!"}
---
apiVersion: v1
kind: StorageClass
metadata: {name: sc}
`,
    });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.location?.line}:${d.rule}: ${d.message}`),
      [
        '4:schema/required: spec.selector: Required value',
        '5:schema/unknown-field: .spec.replicaz: field not declared in schema',
        `11:schema/quantity: spec.template.spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
        '16:schema/format: data[password]: Invalid value: "hunter2!": illegal base64 data',
        '19:schema/no-kind-match: no matches for kind "StorageClass" in version "v1"',
      ],
    );
  });
});

describe('CRDs among the inputs', () => {
  it('are found inside a JSON kind: List and used for custom resources in other files', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        names: { kind: 'Widget', plural: 'widgets' },
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
    };
    const r = await validateTexts({
      'a-widget.yaml': 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: large}\n',
      'z-crds.json': JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [crd] }, null, 2),
    });
    assert.deepEqual(messages(r, 'schema/type'), ['spec.size: Invalid value: "string": must be of type integer']);
    assert.equal(r.stats.crds, 1);
  });
});

describe('PGO 5.8.9 CEL rules', () => {
  const pg = (batches: string) => `apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: hippo}
spec:
  postgresVersion: 16
  instances: [{name: i1, dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]
  instrumentation:
    logs:
      retentionPeriod: "2 days"
      batches: ${batches}
  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}
`;

  it('evaluates duration rules on format: duration fields, Go duration literals included', async () => {
    const ok = await validateTexts({ 'pg.yaml': pg('{maxDelay: 300ms, minRecords: 10, maxRecords: 100}') });
    assert.deepEqual(ok.diagnostics, []);
    assert.equal(ok.stats.celUnevaluated, 0);
    assert.ok(ok.stats.celEvaluated >= 6, `${ok.stats.celEvaluated} rules evaluated`);
    const bad = await validateTexts({ 'pg.yaml': pg('{maxDelay: 10m, minRecords: 0}') });
    assert.deepEqual(messages(bad, 'cel/rule'), [
      'spec.instrumentation.logs.batches: Invalid value: "object": to disable batching, both minRecords and maxDelay must be zero',
      'spec.instrumentation.logs.batches.maxDelay: Invalid value: "string": failed rule: duration("0") <= self && self <= duration("5m")',
    ]);
  });
});
