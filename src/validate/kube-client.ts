import { request } from 'node:https';
import { request as httpRequest } from 'node:http';

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
}

export interface KubeClient {
  get(path: string, accept?: string): Promise<unknown>;
  name: string;
}

/** A minimal GET client from a kubeconfig, using @kubernetes/client-node for auth (certs, tokens, exec plugins). */
export async function kubeClient(o: KubeTarget): Promise<KubeClient> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromDefault();
  if (o.context) kc.setCurrentContext(o.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in kubeconfig');
  const base = new URL(cluster.server);
  return {
    name: kc.getCurrentContext(),
    async get(path: string, accept = 'application/json'): Promise<unknown> {
      const opts: Record<string, unknown> = { method: 'GET', headers: { Accept: accept } };
      await kc.applyToHTTPSOptions(opts as never);
      const url = new URL(path, base);
      const req = url.protocol === 'https:' ? request : httpRequest;
      return new Promise((resolve, reject) => {
        const r = req(url, opts as never, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 300) reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
            else {
              try {
                resolve(JSON.parse(body));
              } catch (e) {
                reject(e);
              }
            }
          });
        });
        r.setTimeout(30_000, () => r.destroy(new Error(`GET ${path}: timed out`)));
        r.on('error', reject);
        r.end();
      });
    },
  };
}
