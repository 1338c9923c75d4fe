import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { castleAsync } from '../helpers/cli.js';
import { allText, tfCastle, tfState } from './helpers.js';

// A fake Infisical on 127.0.0.1 with the two routes the SDK calls to read (the documented API):
// POST /api/v1/auth/universal-auth/login, GET /api/v3/secrets/raw.
const CLIENT_ID = 'machine-identity-tf';
const CLIENT_SECRET = 'client-secret-tf-77aa';
const ACCESS = 'access-token-tf-5521';
const PROJECT = 'proj-tazlab';
const VALUES: Record<string, string> = { PROXMOX_VE_API_TOKEN: 'root@pam!castle=8d1f0c2e-token', AWS_SECRET_ACCESS_KEY: 'aws/secret+key/9z' };
let server: http.Server;
let siteUrl: string;

const json = (res: http.ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

before(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>) : {};
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/v1/auth/universal-auth/login') {
      if (body['clientId'] !== CLIENT_ID || body['clientSecret'] !== CLIENT_SECRET)
        return json(res, 401, { statusCode: 401, message: 'Invalid credentials', error: 'UnauthorizedError' });
      return json(res, 200, { accessToken: ACCESS, expiresIn: 7200, accessTokenMaxTTL: 43200, tokenType: 'Bearer' });
    }
    if (req.headers.authorization !== `Bearer ${ACCESS}`) return json(res, 401, { statusCode: 401, message: 'Token missing', error: 'UnauthorizedError' });
    if (req.method === 'GET' && url.pathname === '/api/v3/secrets/raw' && url.searchParams.get('workspaceId') === PROJECT) {
      const secrets = Object.entries(VALUES).map(([k, v]) => ({
        id: `id-${k}`,
        _id: `id-${k}`,
        workspace: PROJECT,
        environment: 'prod',
        version: 1,
        type: 'shared',
        secretKey: k,
        secretValue: v,
        secretComment: '',
        secretPath: '/',
      }));
      return json(res, 200, { secrets, imports: [] });
    }
    json(res, 404, { statusCode: 404, message: 'Route not found', error: 'NotFound' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

const LAYERS = `  - name: platform
    apply: [{terraform.apply: {cwd: platform}}]
`;

test("provider tokens and backend keys from Infisical reach terraform's environment, masked everywhere", async () => {
  const dir = tfCastle(
    LAYERS,
    { platform: { requireEnv: ['PROXMOX_VE_API_TOKEN', 'AWS_SECRET_ACCESS_KEY'], resources: [{ type: 'proxmox_vm_qemu', name: 'cp', id: '421' }] } },
    `  secrets: {infisical: {siteUrl: "${siteUrl}", projectId: ${PROJECT}, environment: prod}, vars: [PROXMOX_VE_API_TOKEN, AWS_SECRET_ACCESS_KEY]}\n`,
  );
  const r = await castleAsync(dir, ['up'], { INFISICAL_CLIENT_ID: CLIENT_ID, INFISICAL_CLIENT_SECRET: CLIENT_SECRET }).done;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(tfState(dir, 'platform').resources.length, 1);
  const written = allText(join(dir, '.castle')) + r.stdout + r.stderr;
  for (const v of [...Object.values(VALUES), CLIENT_SECRET]) assert.ok(!written.includes(v), `${v.slice(0, 6)}… is masked`);
});

test('a secret the source does not hold stops the step, naming the variable and the source, never a value', async () => {
  const dir = tfCastle(
    LAYERS,
    { platform: { resources: [] } },
    `  secrets: {infisical: {siteUrl: "${siteUrl}", projectId: ${PROJECT}, environment: prod}, vars: [PROXMOX_VE_API_TOKEN, S3_BACKEND_KEY]}\n`,
  );
  const r = await castleAsync(dir, ['up'], { INFISICAL_CLIENT_ID: CLIENT_ID, INFISICAL_CLIENT_SECRET: CLIENT_SECRET }).done;
  assert.equal(r.code, 1);
  assert.match(r.stdout, /secret S3_BACKEND_KEY is not in Infisical .*proj-tazlab/);
  const noIdentity = await castleAsync(dir, ['up'], { INFISICAL_CLIENT_ID: '', INFISICAL_CLIENT_SECRET: '' }).done;
  assert.equal(noIdentity.code, 1);
  assert.match(noIdentity.stdout, /the Infisical secret source needs INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET in the environment/);
});
