import { crypto } from '../builtins-lazy.js';
import { convertSchema } from './crd.js';
import type { KindSchema, SchemaBundle, SNode } from './types.js';

type Get = (path: string) => Promise<unknown>;
type Obj = Record<string, unknown>;

const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/** `$ref` (or the `allOf: [{$ref}]` wrapper the API server emits around referenced fields) -> definition name */
function refOf(s: Obj): string | undefined {
  const direct = typeof s['$ref'] === 'string' ? s['$ref'] : undefined;
  const all = Array.isArray(s['allOf']) && s['allOf'].length === 1 ? (s['allOf'][0] as Obj)['$ref'] : undefined;
  const ref = direct ?? (typeof all === 'string' ? all : undefined);
  return ref?.replace(/^#\/components\/schemas\//, '');
}

/**
 * Core schemas from a live cluster's `/openapi/v3` (what `kubectl explain` reads), for validating
 * against a Kubernetes version other than the bundled one.
 */
export async function convertOpenApiV3(get: Get, version: string): Promise<SchemaBundle> {
  const index = (await get('/openapi/v3')) as { paths?: Record<string, { serverRelativeURL?: string }> };
  const defs: Record<string, SNode> = {};
  const kinds: KindSchema[] = [];
  const hash = crypto().createHash('sha256').update(`openapi-v3 ${version}`);
  for (const [gvPath, entry] of Object.entries(index.paths ?? {}).sort()) {
    const m = /^(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(gvPath);
    if (!m || !entry.serverRelativeURL) continue;
    const group = m[2] ?? '';
    const ver = m[1] ?? m[3]!;
    const doc = (await get(entry.serverRelativeURL)) as { components?: { schemas?: Record<string, Obj> } };
    const discovery = (await get(`/${gvPath}`).catch(() => ({}))) as { resources?: { name: string; kind: string; namespaced: boolean }[] };
    const schemas = doc.components?.schemas ?? {};
    for (const [name, s] of Object.entries(schemas)) {
      if (defs[name]) continue;
      defs[name] = name === QUANTITY ? { qty: true } : convertSchema(s, 0, (x) => (x === s ? undefined : refOf(x)));
      hash.update(name);
      const gvks = s['x-kubernetes-group-version-kind'];
      if (!Array.isArray(gvks)) continue;
      for (const g of gvks as Obj[]) {
        if (g['group'] !== group || g['version'] !== ver) continue;
        const res = discovery.resources?.find((r) => r.kind === g['kind'] && !r.name.includes('/'));
        if (!res) continue;
        kinds.push({ group, version: ver, kind: String(g['kind']), plural: res.name, namespaced: res.namespaced, served: true, root: { ref: name }, origin: `core v${version} (cluster)` });
      }
    }
  }
  // core kinds' `metadata` resolves through this name in SchemaRegistry.objectMeta()
  defs['V1ObjectMeta'] = { ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' };
  return { hash: hash.digest('hex').slice(0, 16), origin: `core v${version} (cluster /openapi/v3)`, kubernetesVersion: version, defs, kinds };
}
