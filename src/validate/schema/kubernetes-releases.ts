import type { SchemaBundle } from './types.js';
import { compareVersions } from './versions.js';

/**
 * Built-in API versions that Kubernetes releases newer than the bundled schemas serve, so that a
 * manifest written for a newer cluster is told to name its version instead of being reported as
 * an unknown kind. Hand-written (no package ships this list): each row cites the release note.
 */
const NEWER: readonly { apiVersion: string; kind: string; since: string }[] = [
  // kubernetes/kubernetes CHANGELOG-1.35: "Added the StorageVersionMigration v1beta1 API and removed the v1alpha1 API"
  { apiVersion: 'storagemigration.k8s.io/v1beta1', kind: 'StorageVersionMigration', since: '1.35' },
  // kubernetes.io/docs/reference/access-authn-authz/mutating-admission-policy: "Kubernetes v1.36 [stable]"
  { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingAdmissionPolicy', since: '1.36' },
  { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingAdmissionPolicyBinding', since: '1.36' },
];

function newer(a: string, b: string): boolean {
  return compareVersions(a, b) > 0;
}

/** The release that first serves a built-in apiVersion/kind the bundled Kubernetes lacks, when the table knows it. */
export function servedSince(apiVersion: string, kind: string, core: SchemaBundle): string | undefined {
  const mm = (core.kubernetesVersion ?? '').split('.').slice(0, 2).join('.');
  const known = NEWER.find((n) => n.apiVersion === apiVersion && n.kind === kind);
  return known && (!mm || newer(known.since, mm)) ? known.since : undefined;
}

/** A hint for a built-in apiVersion/kind the bundled Kubernetes does not serve, naming `--kubernetes-version`. */
export function kubernetesHint(apiVersion: string, kind: string, core: SchemaBundle): string | undefined {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const mm = (core.kubernetesVersion ?? '').split('.').slice(0, 2).join('.');
  const pull = 'pass `--kubernetes-version <version>` after `castle schemas pull --core` against a cluster of that version';
  const known = NEWER.find((n) => n.apiVersion === apiVersion && n.kind === kind);
  if (known && (!mm || newer(known.since, mm))) {
    return `${kind} ${apiVersion} is served from Kubernetes ${known.since}, not by the bundled Kubernetes ${mm || 'schemas'}: ${pull.replace('<version>', known.since)}`;
  }
  // a group of the Kubernetes API itself (not a CRD's): a kind or version it lacks may come from a newer release
  if (!core.kinds.some((k) => k.group === group)) return undefined;
  return `the bundled Kubernetes ${mm || 'schemas'} does not serve ${kind} ${apiVersion}; if the cluster runs a newer Kubernetes that does, ${pull}`;
}
