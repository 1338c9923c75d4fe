import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { convertCrd } from './schema/crd.js';
import { saveImported, savePulledCore } from './schema/store.js';
import { convertOpenApiV3 } from './schema/openapi-v3.js';

export interface PullOptions {
  cacheDir: string;
  kubeconfig?: string;
  context?: string;
  core: boolean;
}

interface Client {
  get(path: string): Promise<unknown>;
  name: string;
}

/** A minimal GET client from a kubeconfig, using @kubernetes/client-node for auth (certs, tokens, exec plugins). */
async function client(o: PullOptions): Promise<Client> {
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
    async get(path: string): Promise<unknown> {
      const opts: Record<string, unknown> = { method: 'GET', headers: { Accept: 'application/json' } };
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

export async function pullSchemas(o: PullOptions): Promise<string[]> {
  const c = await client(o);
  const lines: string[] = [];
  const list = (await c.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions')) as { items?: unknown[] };
  for (const item of list.items ?? []) {
    const info = convertCrd(item, `cluster ${c.name}`);
    if (!info) continue;
    saveImported(o.cacheDir, info, `cluster ${c.name}`);
    lines.push(`imported ${info.name} (${info.kinds.filter((k) => k.served).map((k) => k.version).join(', ')}) from cluster ${c.name}`);
  }
  if (o.core) {
    const version = (await c.get('/version')) as { gitVersion?: string };
    const bundle = await convertOpenApiV3(c.get, (version.gitVersion ?? '').replace(/^v/, '').replace(/[-+].*$/, ''));
    const file = savePulledCore(o.cacheDir, bundle);
    lines.push(`stored core schemas of Kubernetes ${bundle.kubernetesVersion} (${bundle.kinds.length} kinds) in ${file}`);
  }
  return lines;
}
