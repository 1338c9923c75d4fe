import { kubeClient } from './kube-client.js';
import { convertCrd } from './schema/crd.js';
import { saveImported, savePulledCore } from './schema/store.js';
import { convertOpenApiV3 } from './schema/openapi-v3.js';

export interface PullOptions {
  cacheDir: string;
  kubeconfig?: string;
  context?: string;
  core: boolean;
}

export async function pullSchemas(o: PullOptions): Promise<string[]> {
  const c = await kubeClient(o);
  const lines: string[] = [];
  const list = (await c.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions')) as { items?: unknown[] };
  for (const item of list.items ?? []) {
    const info = convertCrd(item, `cluster ${c.name}`);
    if (!info) continue;
    saveImported(o.cacheDir, info, `cluster ${c.name}`, item);
    lines.push(
      `imported ${info.name} (${info.kinds
        .filter((k) => k.served)
        .map((k) => k.version)
        .join(', ')}) from cluster ${c.name}`,
    );
  }
  if (o.core) {
    const version = (await c.get('/version')) as { gitVersion?: string };
    const bundle = await convertOpenApiV3(c.get, (version.gitVersion ?? '').replace(/^v/, '').replace(/[-+].*$/, ''));
    const file = savePulledCore(o.cacheDir, bundle);
    lines.push(`stored core schemas of Kubernetes ${bundle.kubernetesVersion} (${bundle.kinds.length} kinds) in ${file}`);
  }
  return lines;
}
