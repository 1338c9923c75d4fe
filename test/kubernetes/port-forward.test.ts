// forwardPort: each local connection reaches the pod through its own WebSocket (pods/portforward), and
// every WebSocket ends with its connection: one left open keeps castle's process alive after its run ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { KubeTestServer, tempDir, rmDir } from './index.js';
import { FORWARD_ANNOTATION } from './port-forward.js';
import { openKube, type KubeSession } from '../../src/targets/kubernetes/client.js';
import { forwardPort, type Forward } from '../../src/targets/kubernetes/port-forward.js';
import { waitFor } from '../helpers/cli.js';

let srv: KubeTestServer;
let dir: string;
let session: KubeSession;
/** the "pod": an echo server on loopback; its open connections are the forwarded ones still alive */
let pod: Server;
const podSockets = new Set<Socket>();

before(async () => {
  dir = tempDir('kube-forward');
  srv = await KubeTestServer.start({ dir: join(dir, 'server') });
  pod = createServer((s) => {
    podSockets.add(s);
    s.on('close', () => podSockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((res) => pod.listen(0, '127.0.0.1', res));
  const { port } = pod.address() as { port: number };
  srv.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'db-0', namespace: 'default', annotations: { [FORWARD_ANNOTATION]: `127.0.0.1:${port}` } } });
  const s = openKube({ kubeconfig: srv.kubeconfigPath }, dir, join(dir, '.castle'));
  assert.ok(s.ok, s.ok ? '' : s.reason);
  session = s.value;
});
after(async () => {
  await srv.close();
  for (const s of podSockets) s.destroy();
  pod.close();
  rmDir(dir);
});

const allClosed = (): boolean => podSockets.size === 0 && srv.openWebSockets() === 0;

/** opens a forward for `f`, and closes it however `f` ends */
async function withForward(f: (fw: Forward) => Promise<void>): Promise<void> {
  const fw = await forwardPort(session, 'default', 'db-0', 5432);
  assert.ok(fw.ok, fw.ok ? '' : fw.reason);
  try {
    await f(fw.value);
  } finally {
    await fw.value.close();
  }
}

/** a connection through the forward, once a round trip went through it */
async function roundTrip(port: number): Promise<Socket> {
  const c = connect(port, '127.0.0.1');
  c.write('ping');
  const [data] = (await once(c, 'data')) as [Buffer];
  assert.equal(data.toString(), 'ping');
  return c;
}

test('data goes both ways; a client that ends its connection ends the WebSocket and the pod side', () =>
  withForward(async (fw) => {
    const c = await roundTrip(fw.port);
    assert.equal(podSockets.size, 1);
    assert.equal(srv.openWebSockets(), 1);
    c.end();
    await waitFor(allClosed, 5000, 'the pod side and the WebSocket closed after the client ended');
  }));

test('close() with a client still connected closes its WebSocket, and the pod side with it', () =>
  withForward(async (fw) => {
    const c = await roundTrip(fw.port);
    await fw.close();
    assert.ok(c.destroyed || (await once(c, 'close')));
    await waitFor(allClosed, 5000, 'no WebSocket and no pod connection left after close()');
  }));

test('a client that resets its connection closes its WebSocket', () =>
  withForward(async (fw) => {
    const c = await roundTrip(fw.port);
    c.resetAndDestroy();
    await waitFor(allClosed, 5000, 'no WebSocket and no pod connection left after the reset');
  }));

test('close() while the WebSockets are still being opened leaves none open', () =>
  withForward(async (fw) => {
    // close() resets them
    const clients = Array.from({ length: 5 }, () => connect(fw.port, '127.0.0.1').on('error', () => undefined));
    await Promise.all(clients.map((c) => once(c, 'connect')));
    await fw.close();
    await waitFor(allClosed, 5000, 'no WebSocket and no pod connection left');
    // and none opened later either
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(allClosed(), `${podSockets.size} pod connections, ${srv.openWebSockets()} WebSockets`);
  }));
