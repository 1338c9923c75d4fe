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

export async function forwardPort(s: KubeSession, namespace: string, pod: string, podPort: number): Promise<Result<Forward>> {
  const pf = new PortForward(s.kc);
  let lastError = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    const err = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lastError = chunk.toString('utf8');
        cb();
      },
    });
    pf.portForward(namespace, pod, [podPort], sock, err, sock).catch((e: unknown) => {
      lastError = describeError(e);
      sock.destroy();
    });
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
