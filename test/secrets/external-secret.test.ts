import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseYamlSource } from '../../src/diag/yaml-source.js';
import { renderExternalSecret, type ManifestDoc } from '../../src/secrets/external-secret.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { MemorySource } from '../../src/secrets/source.js';
import { renderTemplate } from '../../src/secrets/template.js';
import { FIXTURES } from './helpers.js';

async function seedManifest(): Promise<ManifestDoc> {
  const file = path.join(FIXTURES, 'seed-external-secret.yaml');
  const { source } = parseYamlSource(file, await readFile(file, 'utf8'));
  return { body: source.docs[0]!.toJS(), yaml: source, doc: 0 };
}

function manifest(text: string, file = 'es.yaml'): ManifestDoc {
  const { source } = parseYamlSource(file, text);
  return { body: source.docs[0]!.toJS(), yaml: source, doc: 0 };
}

test("the seed's ExternalSecret renders s3.conf exactly as ESO would", async () => {
  const src = new MemorySource({ AWS_ACCESS_KEY_ID: 'AKIASEED', AWS_SECRET_ACCESS_KEY: 'wJalr/SEED+key', UNUSED: 'x' });
  const redactor = new Redactor();
  const r = await renderExternalSecret(await seedManifest(), src, { redactor });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.diagnostics));
  assert.equal(r.value.name, 's3-backrest-creds');
  assert.equal(r.value.namespace, 'tazlab-db');
  assert.deepEqual(Object.keys(r.value.data), ['s3.conf'], 'template data replaces the fetched keys (mergePolicy Replace)');
  assert.equal(r.value.data['s3.conf'], '[global]\nrepo1-s3-key=AKIASEED\nrepo1-s3-key-secret=wJalr/SEED+key\n');
  assert.deepEqual([...r.value.sourceKeys].sort(), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
  assert.equal(redactor.redact(r.value.data['s3.conf']!).includes('SEED'), false, 'rendered values are registered for redaction');
});

test('a key missing from the source names the ExternalSecret, the key, and its file:line:col', async () => {
  const src = new MemorySource({ AWS_ACCESS_KEY_ID: 'AKIASEED' }, 'dotenv file /tmp/castle.env');
  const r = await renderExternalSecret(await seedManifest(), src);
  assert.ok(!r.ok);
  assert.equal(r.diagnostics.length, 1);
  const d = r.diagnostics[0]!;
  assert.equal(d.rule, 'secrets/missing-key');
  assert.match(d.message, /ExternalSecret 's3-backrest-creds': key 'AWS_SECRET_ACCESS_KEY'.*dotenv file \/tmp\/castle.env/);
  assert.ok(d.location?.file.endsWith('seed-external-secret.yaml'));
  assert.equal(d.location?.line, 28, 'the line of the second remoteRef.key');
  assert.equal(d.location?.col, 14);
  assert.ok(!d.message.includes('AKIASEED'));
});

test('pipes b64enc/upper/default, index for dashed keys, trim markers and mergePolicy Merge', async () => {
  const m = manifest(`apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: creds}
spec:
  target:
    name: other-name
    template:
      mergePolicy: Merge
      data:
        auth: "{{ .USER | upper }}:{{ index . \\"pass-word\\" | b64enc }}"
        region: '{{ .REGION | default "us-east-1" }}'
        trimmed: "a  {{- .USER -}}  b"
  data:
    - secretKey: USER
      remoteRef: {key: user}
    - secretKey: pass-word
      remoteRef: {key: pw}
    - secretKey: REGION
      remoteRef: {key: region}
`);
  const r = await renderExternalSecret(m, new MemorySource({ user: 'blog', pw: 'pw', region: '' }));
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.diagnostics));
  assert.equal(r.value.name, 'other-name');
  assert.deepEqual(r.value.data, {
    USER: 'blog',
    'pass-word': 'pw',
    REGION: '',
    auth: `BLOG:${Buffer.from('pw').toString('base64')}`,
    region: 'us-east-1',
    trimmed: 'ablogb',
  });
});

test('an unsupported template function is an error at its position in the block scalar', async () => {
  const m = manifest(`apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: creds}
spec:
  target:
    template:
      data:
        s3.conf: |
          [global]
          repo1-s3-key={{ .KEY | sha256sum }}
  data:
    - secretKey: KEY
      remoteRef: {key: KEY}
`);
  const r = await renderExternalSecret(m, new MemorySource({ KEY: 'topsecret' }));
  assert.ok(!r.ok);
  const d = r.diagnostics[0]!;
  assert.equal(d.rule, 'secrets/template-error');
  assert.match(d.message, /unsupported template function 'sha256sum' \(supported: .*b64enc/);
  assert.deepEqual([d.location?.line, d.location?.col], [10, 34]);
  assert.ok(!JSON.stringify(r.diagnostics).includes('topsecret'));
});

test('a template key not in spec.data is located and lists the known keys', async () => {
  const m = manifest(`apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: creds}
spec:
  target:
    template:
      data:
        s3.conf: |
          [global]
          repo1-s3-key={{ .AWS_ACCESS_KEY_ID }}
  data:
    - secretKey: S3_ACCESS_KEY_ID
      remoteRef: {key: S3_ACCESS_KEY_ID}
`);
  const r = await renderExternalSecret(m, new MemorySource({ S3_ACCESS_KEY_ID: 'AK' }));
  assert.ok(!r.ok);
  const d = r.diagnostics[0]!;
  assert.match(d.message, /map has no entry for key "AWS_ACCESS_KEY_ID"/);
  assert.match(d.hint ?? '', /known: S3_ACCESS_KEY_ID/);
  assert.deepEqual([d.location?.line, d.location?.col], [10, 27]);
});

test('dataFrom and engineVersion v1 are refused with locations', async () => {
  const m = manifest(`apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: creds}
spec:
  dataFrom:
    - extract: {key: all}
  target:
    template:
      engineVersion: v1
      data: {x: "{{ .A }}"}
  data: []
`);
  const r1 = await renderExternalSecret(m, new MemorySource({}));
  assert.ok(!r1.ok);
  assert.equal(r1.diagnostics[0]!.rule, 'secrets/unsupported-field');
  assert.equal(r1.diagnostics[0]!.location?.line, 5);
  const body = m.body as { spec: Record<string, unknown> };
  delete body.spec['dataFrom'];
  const r2 = await renderExternalSecret(m, new MemorySource({}));
  assert.ok(!r2.ok);
  assert.equal(r2.diagnostics[0]!.rule, 'secrets/unsupported-engine');
});

test('renderTemplate: control actions and bad syntax are refused, comments are dropped', () => {
  const data = new Map([['A', 'x']]);
  const ifs = renderTemplate('{{ if .A }}y{{ end }}', data);
  assert.ok(!ifs.ok && /'if' actions are not supported/.test(ifs.message) && ifs.offset === 3);
  const open = renderTemplate('a {{ .A ', data);
  assert.ok(!open.ok && /missing }}/.test(open.message));
  const c = renderTemplate('{{/* note */}}v={{.A}}', data);
  assert.ok(c.ok && c.text === 'v=x' && c.keysUsed.includes('A'));
  const ctor = renderTemplate('{{ .A | constructor }}', data);
  assert.ok(!ctor.ok && /unsupported template function 'constructor'/.test(ctor.message));
});

test('a failing source is a located diagnostic whose message masks values already read', async () => {
  const leaky = {
    description: 'flaky store',
    get: async (k: string) => {
      if (k === 'AWS_ACCESS_KEY_ID') return 'AKIALEAK';
      throw new Error('backend said: previous value AKIALEAK was rejected');
    },
    list: async () => [],
  };
  const r = await renderExternalSecret(await seedManifest(), leaky);
  assert.ok(!r.ok);
  const d = r.diagnostics[0]!;
  assert.equal(d.rule, 'secrets/source-failed');
  assert.match(d.message, /reading 'AWS_SECRET_ACCESS_KEY' from flaky store failed: backend said: previous value \*\*\* was rejected/);
  assert.equal(d.location?.line, 28);
});
