// Manifests as a step applies them: every YAML document of the files and directories it names, each
// with its file:line, and the apply plan derived from them (CRDs, then namespaces, then the built-in
// kinds, then custom resources; webhooks' backends ready before the resources they admit).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { fail, ok, type Result } from '../../core/result.js';
import type { Obj } from './client.js';

export interface ManifestDoc {
  readonly object: Obj;
  /** `path:line` of the document's first line */
  readonly where: string;
}

const isYaml = (f: string): boolean => /\.ya?ml$/.test(f);

function filesOf(p: string): string[] {
  const st = statSync(p);
  if (!st.isDirectory()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((n) => {
      const q = join(p, n);
      const s = statSync(q);
      // kustomize's own file is an instruction to kustomize, not an object to apply
      return s.isDirectory() ? filesOf(q) : isYaml(n) && !/^kustomization\.ya?ml$/.test(n) ? [q] : [];
    });
}

/** Reads every document; a YAML error or a document without apiVersion/kind/metadata.name fails with its place. */
export function loadManifests(paths: readonly string[], castleDir: string): Result<ManifestDoc[]> {
  const out: ManifestDoc[] = [];
  for (const p0 of paths) {
    const p = resolve(castleDir, p0);
    let files: string[];
    try {
      files = filesOf(p);
    } catch (err) {
      return fail(`manifest ${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, {
        retryable: false,
      });
    }
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
      for (const doc of parseAllDocuments(text)) {
        const start = doc.contents?.range?.[0] ?? 0;
        if (doc.errors.length) {
          const e = doc.errors[0]!;
          return fail(`${f}:${e.linePos?.[0]?.line ?? lineAt(start)}:${e.linePos?.[0]?.col ?? 1}: ${e.message.split('\n')[0]}`, { retryable: false });
        }
        const v = doc.toJS() as unknown;
        if (v === null || v === undefined) continue;
        const where = `${f}:${lineAt(start)}`;
        const o = v as Obj;
        if (typeof o !== 'object' || Array.isArray(o) || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string')
          return fail(`${where}: not a Kubernetes object (apiVersion, kind and metadata.name are required)`, { retryable: false });
        if (o.kind === 'List' && Array.isArray(o.items)) for (const i of o.items as Obj[]) out.push({ object: i, where });
        else out.push({ object: o, where });
      }
    }
  }
  return ok(out);
}

export const isCrd = (o: Obj): boolean => o.kind === 'CustomResourceDefinition' && String(o.apiVersion).startsWith('apiextensions.k8s.io/');
export const isNamespace = (o: Obj): boolean => o.kind === 'Namespace' && o.apiVersion === 'v1';
export const isWebhookConfig = (o: Obj): boolean =>
  (o.kind === 'ValidatingWebhookConfiguration' || o.kind === 'MutatingWebhookConfiguration') &&
  String(o.apiVersion).startsWith('admissionregistration.k8s.io/');

const BUILTIN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'node.k8s.io',
  'certificates.k8s.io',
]);
export const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

export interface ApplyPlan {
  readonly crds: ManifestDoc[];
  readonly namespaces: ManifestDoc[];
  /** built-in kinds (webhook configurations among them) */
  readonly builtins: ManifestDoc[];
  /** the Services behind webhooks declared here: their endpoints must be ready before custom resources go in */
  readonly webhookServices: { namespace: string; name: string }[];
  /** custom resources, applied last */
  readonly custom: ManifestDoc[];
}

/** The apply order, from the documents alone. */
export function planApply(docs: readonly ManifestDoc[]): ApplyPlan {
  const crds = docs.filter((d) => isCrd(d.object));
  const namespaces = docs.filter((d) => isNamespace(d.object));
  const rest = docs.filter((d) => !isCrd(d.object) && !isNamespace(d.object));
  const builtins = rest.filter((d) => BUILTIN_GROUPS.has(groupOf(d.object.apiVersion)));
  const custom = rest.filter((d) => !BUILTIN_GROUPS.has(groupOf(d.object.apiVersion)));
  const svc = new Map<string, { namespace: string; name: string }>();
  for (const d of builtins.filter((x) => isWebhookConfig(x.object)))
    for (const w of (d.object.webhooks ?? []) as Obj[]) {
      const s = w.clientConfig?.service;
      if (s?.name && s?.namespace) svc.set(`${s.namespace}/${s.name}`, { namespace: s.namespace, name: s.name });
    }
  return { crds, namespaces, builtins, webhookServices: [...svc.values()], custom };
}
