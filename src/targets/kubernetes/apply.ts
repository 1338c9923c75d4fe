// Server-side apply of one object with field manager `castle`, and the API server's refusals turned
// into sentences that say where (the manifest's file:line) and what to do.
import { PatchStrategy, loadYaml } from '@kubernetes/client-node';
import { fail, ok, type Result } from '../../core/result.js';
import { describeError, ref, statusOf, type KubeSession, type Obj } from './client.js';
import type { ManifestDoc } from './manifests.js';

export const FIELD_MANAGER = 'castle';

export interface Applied {
  readonly object: Obj;
}

/** Why the API server refused an apply, worded for the user. */
export function applyRefusal(doc: ManifestDoc, err: unknown): string {
  const st = statusOf(err);
  const what = `${doc.where}: ${ref(doc.object)}`;
  if (!st) return `${what}: ${describeError(err)}`;
  const causes = (st.details?.causes ?? []) as Obj[];
  if (st.code === 409 && causes.some((c) => c.reason === 'FieldManagerConflict')) {
    const by = new Map<string, string[]>();
    for (const c of causes) {
      const m = String(c.message ?? '').replace(/^conflict with /, '');
      by.set(m, [...(by.get(m) ?? []), String(c.field)]);
    }
    const owners = [...by].map(([m, paths]) => `${m} owns ${paths.join(', ')}`).join('; ');
    return `${what}: 409 conflict: ${owners}. Castle applies as field manager "${FIELD_MANAGER}" and does not take fields from another manager unless the step says \`force: true\``;
  }
  if (st.code === 422) {
    const list = causes.map((c) => `${c.field}: ${c.message}`).join('; ');
    return `${what}: 422 Invalid: ${list || st.message}`;
  }
  if (st.code === 500 && /field not declared in schema/.test(st.message)) {
    const path = /\): (\S+): field not declared in schema/.exec(st.message)?.[1];
    return `${what}: the API server rejects ${path ?? 'a field'}: field not declared in the ${doc.object.kind} schema (${st.message})`;
  }
  if (st.code === 404 && /could not find the requested resource/.test(st.message))
    return `${what}: the API server does not serve ${doc.object.apiVersion} ${doc.object.kind}: is its CRD installed and Established?`;
  return `${what}: ${st.code}${st.reason ? ` ${st.reason}` : ''}: ${st.message}`;
}

export async function applyDoc(s: KubeSession, doc: ManifestDoc, force: boolean, defaultNamespace?: string): Promise<Result<Applied>> {
  const body = structuredClone(doc.object);
  if (defaultNamespace && !body.metadata.namespace) {
    const r = await s.api.resourceOf(body.apiVersion, body.kind).catch(() => undefined);
    if (r?.namespaced) body.metadata.namespace = defaultNamespace;
  }
  try {
    // client-node serializes a built-in kind from its model's property names (xKubernetesListMapKeys):
    // a plain object would lose every `x-kubernetes-*` and `$ref` key of a CRD, so it is read into the model first
    const model = loadYaml<Obj>(JSON.stringify(body));
    const out = (await s.api.patch(model, undefined, undefined, FIELD_MANAGER, force, PatchStrategy.ServerSideApply)) as Obj;
    return ok({ object: out });
  } catch (err) {
    if (String((err as Error)?.message ?? '').startsWith('Unrecognized API version and kind'))
      return fail(
        `${doc.where}: ${ref(doc.object)}: the API server does not serve ${doc.object.apiVersion} ${doc.object.kind}: is its CRD installed and Established?`,
        { retryable: false },
      );
    const st = statusOf(err);
    return fail(applyRefusal(doc, err), { retryable: !st || (st.code >= 500 && !/field not declared/.test(st.message)) });
  }
}
