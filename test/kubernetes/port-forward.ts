// The pods/portforward subresource of the test server: the WebSocket channel protocol
// (v4.channel.k8s.io; v5 adds the close frame) that client-node's PortForward speaks. Channel 0 carries
// data, channel 1 errors; the first frame of each channel is the port (little-endian uint16). The
// "pod" is reached at the address in its `castle.test/forward-to` annotation (a real server the test runs).
import { connect } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export const FORWARD_ANNOTATION = 'castle.test/forward-to';

const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/** Handles an upgrade request for `/api/v1/namespaces/{ns}/pods/{pod}/portforward?ports=N`; returns false when it is not one. */
export function portForwardUpgrade(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  resolveTarget: (namespace: string, pod: string) => { host: string; port: number } | string,
): void {
  const u = new URL(req.url ?? '/', 'http://x');
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(u.pathname);
  const reject = (code: number, text: string) => {
    socket.end(`HTTP/1.1 ${code} ${text}\r\ncontent-type: application/json\r\n\r\n`);
  };
  if (!m) return reject(404, 'Not Found');
  const target = resolveTarget(m[1]!, m[2]!);
  if (typeof target === 'string') return reject(404, 'Not Found');
  const port = Number(u.searchParams.get('ports'));
  wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    const portFrame = (ch: number) => Buffer.from([ch, port & 0xff, port >> 8]);
    ws.send(portFrame(0));
    ws.send(portFrame(1));
    const tcp = connect(target.port, target.host);
    tcp.on('data', (d: Buffer) => ws.send(Buffer.concat([Buffer.from([0]), d])));
    tcp.on('error', (err) => {
      ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`error forwarding port ${port} to pod: ${err.message}`)]));
      ws.close();
    });
    tcp.on('close', () => ws.close());
    ws.on('message', (data: Buffer) => {
      if (data[0] === 255) return void tcp.end(); // v5 close frame for a channel
      if (data[0] === 0) tcp.write(data.subarray(1));
    });
    ws.on('close', () => tcp.destroy());
  });
}

export function makeWss(): WebSocketServer {
  return new WebSocketServer({ noServer: true, handleProtocols: (protos) => PROTOCOLS.find((p) => protos.has(p)) ?? false });
}
