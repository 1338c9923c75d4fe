import { listImported, loadCoreBundle, loadPulledCore, SchemaRegistry, type CacheEvent } from './store.js';

export class ValidateUsageError extends Error {}

/** Core kinds (bundled or pulled for another version) and imported CRDs. CRDs among the inputs are added per run. */
export function loadRegistry(cacheDir: string, kubernetesVersion: string | undefined, events?: CacheEvent[]): SchemaRegistry {
  let core = loadCoreBundle(cacheDir, events);
  if (kubernetesVersion && !sameMinor(kubernetesVersion, core.kubernetesVersion ?? '')) {
    const pulled = loadPulledCore(cacheDir, kubernetesVersion.replace(/^v/, ''));
    if (!pulled) {
      throw new ValidateUsageError(
        `no core schemas for Kubernetes ${kubernetesVersion}: the bundled ones are for ${core.kubernetesVersion}; run \`castle schemas pull --core\` against a ${kubernetesVersion} cluster first`,
      );
    }
    core = pulled;
  }
  const registry = new SchemaRegistry(core);
  for (const info of listImported(cacheDir)) registry.addCrd(info);
  return registry;
}

function sameMinor(a: string, b: string): boolean {
  const mm = (v: string): string => v.replace(/^v/, '').split('.').slice(0, 2).join('.');
  return mm(a) === mm(b);
}
