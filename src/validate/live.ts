import type { Provided } from './check/references.js';
import { kubeClient, type KubeTarget } from './kube-client.js';

/** Metadata only: listing Secrets must never download their data. */
const METADATA = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

interface Item {
  metadata?: { name?: string; namespace?: string };
}

/**
 * What a live cluster already has, for the reference checks: namespaces, storage classes, secrets,
 * config maps and ESO stores. A kind the cluster does not serve (ESO not installed) is skipped.
 */
export async function liveObjects(target: KubeTarget): Promise<Provided[]> {
  const c = await kubeClient(target);
  const out: Provided[] = [];
  const lists: [string, string, boolean][] = [
    ['Namespace', '/api/v1/namespaces', false],
    ['StorageClass', '/apis/storage.k8s.io/v1/storageclasses', false],
    ['Secret', '/api/v1/secrets', true],
    ['ConfigMap', '/api/v1/configmaps', true],
    ['ClusterSecretStore', '/apis/external-secrets.io/v1/clustersecretstores', false],
    ['SecretStore', '/apis/external-secrets.io/v1/secretstores', true],
    ['ClusterSecretStore', '/apis/external-secrets.io/v1beta1/clustersecretstores', false],
    ['SecretStore', '/apis/external-secrets.io/v1beta1/secretstores', true],
  ];
  for (const [kind, path, namespaced] of lists) {
    let list: { items?: Item[] };
    try {
      list = (await c.get(path, METADATA)) as { items?: Item[] };
    } catch (e) {
      if (/HTTP 404/.test((e as Error).message)) continue;
      throw e;
    }
    for (const it of list.items ?? []) {
      const name = it.metadata?.name;
      if (name) out.push([kind, namespaced ? it.metadata?.namespace : undefined, name]);
    }
  }
  return out;
}
