// The kubernetes.secret kind: a Secret from the operator's environment (or a dotenv file), applied as
// castle, its values registered for masking; a variable that is missing is named, with nothing applied.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeTestServer, tempDir, rmDir, type Obj } from './index.js';
import { stepContext } from './context.js';
import { KubeTargetSession } from '../../src/targets/kubernetes/session.js';
import { openKube } from '../../src/targets/kubernetes/client.js';
import { run } from '../../src/targets/kubernetes/kinds/secret.js';

let srv: KubeTestServer;
let dir: string;

before(async () => {
  dir = tempDir('kube-secret');
  srv = await KubeTestServer.start({ dir: join(dir, 'server') });
  srv.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'external-secrets' } });
});
after(async () => {
  await srv.close();
  rmDir(dir);
});

function rig(name: string) {
  const castleDir = join(dir, name);
  mkdirSync(castleDir, { recursive: true });
  const session = new KubeTargetSession({ kubeconfig: srv.kubeconfigPath }, castleDir, join(castleDir, '.castle'), openKube);
  return { castleDir, session, ctx: stepContext({ castleDir, stateDir: join(castleDir, '.castle') }) };
}

test('a Secret from the environment and a dotenv file: applied by castle, values masked, the summary names only keys and variables', async () => {
  const { castleDir, session, ctx } = rig('ok');
  writeFileSync(join(castleDir, 'secrets.env'), 'CASTLE_TEST_MI_SECRET=from-the-dotenv-file-9f8e\n', { mode: 0o600 });
  process.env['CASTLE_TEST_MI_ID'] = 'client-id-from-env-1a2b';
  try {
    const r = await run(
      {
        namespace: 'external-secrets',
        name: 'infisical-machine-identity',
        fromEnv: { clientId: 'CASTLE_TEST_MI_ID', clientSecret: 'CASTLE_TEST_MI_SECRET' },
        dotenv: 'secrets.env',
      },
      ctx,
      session,
    );
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.summary, 'Secret external-secrets/infisical-machine-identity: clientId, clientSecret from CASTLE_TEST_MI_ID, CASTLE_TEST_MI_SECRET');
    const s = srv.get('v1', 'Secret', 'external-secrets', 'infisical-machine-identity')!;
    const data = s['data'] as Record<string, string>;
    assert.equal(Buffer.from(data['clientId']!, 'base64').toString(), 'client-id-from-env-1a2b');
    assert.equal(Buffer.from(data['clientSecret']!, 'base64').toString(), 'from-the-dotenv-file-9f8e');
    assert.ok(((s['metadata'] as Obj)['managedFields'] as Obj[]).some((m) => m['manager'] === 'castle' && m['operation'] === 'Apply'));
    assert.deepEqual(ctx.rec.secrets.sort(), ['client-id-from-env-1a2b', 'from-the-dotenv-file-9f8e']);
    assert.ok(!ctx.rec.logs.join('').includes('9f8e') && !ctx.rec.notes.join('').includes('9f8e'));
  } finally {
    delete process.env['CASTLE_TEST_MI_ID'];
  }
});

test('a variable set nowhere fails the step naming it (not a value), and nothing is applied', async () => {
  const { session, ctx } = rig('missing');
  const before = srv.requests.length;
  const r = await run(
    { namespace: 'external-secrets', name: 'other-identity', fromEnv: { clientId: 'CASTLE_TEST_NOT_SET_ANYWHERE' }, dotenv: 'secrets.env' },
    ctx,
    session,
  );
  assert.ok(!r.ok);
  assert.match(
    r.reason,
    /^Secret external-secrets\/other-identity: CASTLE_TEST_NOT_SET_ANYWHERE is not set in the environment nor in \S+secrets\.env: export it before running castle$/,
  );
  assert.equal(r.retryable, false);
  assert.ok(!srv.requests.slice(before).some((q) => q.method === 'PATCH'), 'nothing was applied');
  assert.equal(srv.get('v1', 'Secret', 'external-secrets', 'other-identity'), undefined);
});
