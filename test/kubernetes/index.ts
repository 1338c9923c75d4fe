// The Kubernetes test doubles, for Castle's tests and for users' own: start a KubeTestServer, point a
// castle's `kubernetes.kubeconfig` at `server.kubeconfigPath`, script controllers (controllers.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Obj } from './ssa.js';

export { KubeTestServer, status, mergePatch, type KubeTestServerOptions, type ChangeEvent, type RequestRecord } from './server.js';
export * as controllers from './controllers.js';
export { setCondition } from './controllers.js';
export type { Obj } from './ssa.js';

/** The repository root (this file runs from dist/test/kubernetes). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** PGO v5.8.9's PostgresCluster CRD, as shipped under schemas/crds. */
export function pgoCrd(): Obj {
  return parse(readFileSync(join(repoRoot, 'schemas', 'crds', 'pgo-v5.8.9-postgresclusters.yaml'), 'utf8')) as Obj;
}

/** A CRD whose schema accepts anything (x-kubernetes-preserve-unknown-fields), for kinds whose real CRD is not shipped. */
export function stubCrd(group: string, version: string, kind: string, plural: string, scope: 'Namespaced' | 'Cluster' = 'Namespaced'): Obj {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope,
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `castle-${prefix}-`));
}

export function rmDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
}
