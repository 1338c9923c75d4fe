import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { probeCluster } from '../../src/targets/terraform/kube.js';
import { freePort } from '../helpers/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'castle-tf-kube-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const kubeconfig = (server: string): string => `apiVersion: v1
kind: Config
current-context: admin@tazlab
contexts:
  - name: other
    context: {cluster: other}
  - name: admin@tazlab
    context: {cluster: tazlab, user: admin}
clusters:
  - name: other
    cluster: {server: "https://10.255.255.1:6443"}
  - name: tazlab
    cluster: {server: "${server}"}
`;

test("a kubeconfig's current cluster: up while its API server listens, gone when it refuses, unknown when the file is missing or unreadable", async () => {
  const port = await freePort();
  writeFileSync(join(dir, 'kubeconfig'), kubeconfig(`https://127.0.0.1:${port}`));
  const signal = new AbortController().signal;
  const api = createServer((c) => c.destroy());
  await new Promise<void>((r) => api.listen(port, '127.0.0.1', r));
  assert.deepEqual(await probeCluster({ kubeconfig: 'kubeconfig' }, dir, signal), { state: 'up', where: `127.0.0.1:${port}` });
  await new Promise((r) => api.close(r));
  const gone = await probeCluster({ kubeconfig: 'kubeconfig' }, dir, signal);
  assert.equal(gone.state, 'gone');
  assert.match(gone.state === 'gone' ? gone.why : '', new RegExp(`its API server 127\\.0\\.0\\.1:${port} refuses connections \\(ECONNREFUSED\\)`));
  // a missing kubeconfig proves nothing: the destroy is attempted
  assert.deepEqual(await probeCluster({ kubeconfig: 'missing' }, dir, signal), {
    state: 'unknown',
    why: `kubeconfig ${join(dir, 'missing')} cannot be read: ENOENT`,
  });
  writeFileSync(join(dir, 'bad'), 'clusters: [');
  assert.equal((await probeCluster({ kubeconfig: 'bad' }, dir, signal)).state, 'unknown');
  writeFileSync(join(dir, 'empty'), 'kind: Config\n');
  assert.equal((await probeCluster({ kubeconfig: 'empty' }, dir, signal)).state, 'unknown', 'a kubeconfig naming no server proves nothing');
});
