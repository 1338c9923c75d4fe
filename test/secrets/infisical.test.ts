import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseYamlSource } from '../../src/diag/yaml-source.js';
import { renderExternalSecret } from '../../src/secrets/external-secret.js';
import { InfisicalSource } from '../../src/secrets/infisical.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { FIXTURES } from './helpers.js';

// A fake Infisical on 127.0.0.1 following the documented API the SDK calls:
// POST /api/v1/auth/universal-auth/login, GET/POST/PATCH /api/v3/secrets/raw[/:name].
const CLIENT_ID = 'machine-identity-id';
const CLIENT_SECRET = 'client-secret-XyZ123';
const TOKEN = 'access-token-abc987';
const PROJECT = 'proj-castle';
const store = new Map<string, string>([
  ['AWS_ACCESS_KEY_ID', 'AKIAINFISICAL'],
  ['AWS_SECRET_ACCESS_KEY', 'infisical/secret+key'],
]);
const seen: string[] = [];
let server: http.Server;
let siteUrl: string;

function json(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const secretJson = (key: string, value: string) => ({
  id: `id-${key}`,
  _id: `id-${key}`,
  workspace: PROJECT,
  environment: 'prod',
  version: 1,
  type: 'shared',
  secretKey: key,
  secretValue: value,
  secretComment: '',
  secretPath: '/',
});

before(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>) : {};
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${req.method} ${url.pathname}`);
    if (req.method === 'POST' && url.pathname === '/api/v1/auth/universal-auth/login') {
      if (body['clientId'] !== CLIENT_ID || body['clientSecret'] !== CLIENT_SECRET) {
        return json(res, 401, { statusCode: 401, message: 'Invalid credentials', error: 'UnauthorizedError' });
      }
      return json(res, 200, { accessToken: TOKEN, expiresIn: 7200, accessTokenMaxTTL: 43200, tokenType: 'Bearer' });
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(res, 401, { statusCode: 401, message: 'Token missing', error: 'UnauthorizedError' });
    if (req.method === 'GET' && url.pathname === '/api/v3/secrets/raw') {
      if (url.searchParams.get('workspaceId') !== PROJECT || url.searchParams.get('environment') !== 'prod') {
        return json(res, 404, { statusCode: 404, message: 'Folder with path / in environment not found', error: 'NotFound' });
      }
      return json(res, 200, { secrets: [...store].map(([k, v]) => secretJson(k, v)), imports: [] });
    }
    const m = /^\/api\/v3\/secrets\/raw\/([^/]+)$/.exec(url.pathname);
    if (m && (req.method === 'POST' || req.method === 'PATCH')) {
      const key = decodeURIComponent(m[1]!);
      if (body['workspaceId'] !== PROJECT) return json(res, 404, { statusCode: 404, message: 'Project not found', error: 'NotFound' });
      if (req.method === 'POST' && store.has(key)) return json(res, 400, { statusCode: 400, message: 'Secret already exist', error: 'BadRequest' });
      if (req.method === 'PATCH' && !store.has(key)) return json(res, 404, { statusCode: 404, message: 'Secret not found', error: 'NotFound' });
      store.set(key, body['secretValue']!);
      return json(res, 200, { secret: secretJson(key, body['secretValue']!) });
    }
    json(res, 404, { statusCode: 404, message: 'Route not found', error: 'NotFound' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

test('connect logs in with universal auth and serves the listed secrets', async () => {
  const redactor = new Redactor();
  const r = await InfisicalSource.connect({ siteUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, projectId: PROJECT, environment: 'prod', redactor });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(await r.value.get('AWS_ACCESS_KEY_ID'), 'AKIAINFISICAL');
  assert.equal(await r.value.get('MISSING'), undefined);
  assert.deepEqual((await r.value.list()).sort(), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
  assert.ok(seen.includes('POST /api/v1/auth/universal-auth/login') && seen.includes('GET /api/v3/secrets/raw'));
  assert.equal(redactor.redact(`${CLIENT_SECRET} ${TOKEN} AKIAINFISICAL`), '*** *** ***');
  assert.match(r.value.description, /^Infisical http:\/\/127\.0\.0\.1:\d+ project proj-castle env prod path \/$/);
});

test('bad credentials are a failure value that names the site and never the secret', async () => {
  const wrong = 'wrong-secret-777';
  const r = await InfisicalSource.connect({ siteUrl, clientId: CLIENT_ID, clientSecret: wrong, projectId: PROJECT, environment: 'prod' });
  assert.ok(!r.ok);
  assert.match(r.reason, /login \(universal auth\).*failed.*Invalid credentials/);
  assert.ok(r.reason.includes(siteUrl));
  assert.ok(!r.reason.includes(wrong));
});

test('a wrong environment fails at listing with a hint', async () => {
  const r = await InfisicalSource.connect({ siteUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, projectId: PROJECT, environment: 'staging' });
  assert.ok(!r.ok && /listing secrets .* failed.*check the project id, environment/.test(r.reason));
});

test('set creates a new secret and updates an existing one on the server', async () => {
  const r = await InfisicalSource.connect({ siteUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, projectId: PROJECT, environment: 'prod' });
  assert.ok(r.ok);
  await r.value.set('BLOG_DB_PGUSER_BLOG_PASSWORD', 'generated-1');
  assert.equal(store.get('BLOG_DB_PGUSER_BLOG_PASSWORD'), 'generated-1');
  await r.value.set('BLOG_DB_PGUSER_BLOG_PASSWORD', 'generated-2');
  assert.equal(store.get('BLOG_DB_PGUSER_BLOG_PASSWORD'), 'generated-2');
  assert.equal(await r.value.get('BLOG_DB_PGUSER_BLOG_PASSWORD'), 'generated-2');
  assert.ok(seen.includes('POST /api/v3/secrets/raw/BLOG_DB_PGUSER_BLOG_PASSWORD') && seen.includes('PATCH /api/v3/secrets/raw/BLOG_DB_PGUSER_BLOG_PASSWORD'));
});

test("the seed's ExternalSecret renders from Infisical", async () => {
  const r = await InfisicalSource.connect({ siteUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, projectId: PROJECT, environment: 'prod' });
  assert.ok(r.ok);
  const file = path.join(FIXTURES, 'seed-external-secret.yaml');
  const { source } = parseYamlSource(file, await readFile(file, 'utf8'));
  const out = await renderExternalSecret({ body: source.docs[0]!.toJS(), yaml: source, doc: 0 }, r.value);
  assert.ok(out.ok);
  assert.equal(out.value.data['s3.conf'], '[global]\nrepo1-s3-key=AKIAINFISICAL\nrepo1-s3-key-secret=infisical/secret+key\n');
});
