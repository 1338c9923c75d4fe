// A local TCP port that reaches a pod's port through the API server (pods/portforward), as
// `kubectl port-forward` does: each accepted connection gets its own forwarding WebSocket.
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { PortForward } from '@kubernetes/client-node';
import { fail, ok, type Result } from '../../core/result.js';
import { describeError, type KubeSession } from './client.js';

export interface Forward {
  readonly host: string;
  readonly port: number;
  /** the last error the API server sent on the error channel */
  lastError(): string;
  close(): Promise<void>;
}

/** the WebSocket client-node's PortForward opens (its other form, a reopener, is for retries, which are not asked for) */
type ForwardSocket = Exclude<Awaited<ReturnType<PortForward['portForward']>>, () => unknown>;

/** how long a closing WebSocket waits for the API server's close frame before its connection is dropped */
const CLOSE_WAIT_MS = 1000;

/** the closing handshake (what was sent before goes first), its connection dropped if the server does not answer */
function closeSocket(ws: ForwardSocket): void {
  const drop = setTimeout(() => ws.terminate(), CLOSE_WAIT_MS).unref();
  ws.once('close', () => clearTimeout(drop));
  ws.close();
}

export async function forwardPort(s: KubeSession, namespace: string, pod: string, podPort: number): Promise<Result<Forward>> {
  const pf = new PortForward(s.kc);
  let lastError = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    // client-node closes a forwarding WebSocket only when its input ends, never when it is destroyed (as close()
    // does, or a client that resets): a WebSocket left open keeps castle's process alive after its run ends
    let ws: ForwardSocket | undefined;
    let closed = false;
    // a client that resets its connection: 'close' follows, and an unhandled 'error' would end castle's process
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      sockets.delete(sock);
      if (ws) closeSocket(ws);
    });
    const err = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lastError = chunk.toString('utf8');
        cb();
      },
    });
    pf.portForward(namespace, pod, [podPort], sock, err, sock).then(
      (opened) => {
        // retryCount 0: the WebSocket itself
        ws = opened as ForwardSocket;
        // the connection went while the WebSocket was being opened
        if (closed) closeSocket(ws);
      },
      (e: unknown) => {
        lastError = describeError(e);
        sock.destroy();
      },
    );
  });
  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(0, '127.0.0.1', () => res());
    });
  } catch (err) {
    return fail(`cannot open a local port for the port-forward to ${namespace}/${pod}: ${(err as Error).message}`);
  }
  const port = (server.address() as { port: number }).port;
  return ok({
    host: '127.0.0.1',
    port,
    lastError: () => lastError,
    close: () =>
      new Promise<void>((res) => {
        for (const x of sockets) x.destroy();
        server.close(() => res());
      }),
  });
}
