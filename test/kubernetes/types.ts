// The built-in resource types the Kubernetes test server serves from the start (CRDs add more).
import type { SNode } from '../../src/validate/schema/types.js';

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  /** has a /status subresource: an apply or update of the main resource leaves status alone */
  readonly status: boolean;
  /** the openAPIV3Schema of a custom resource (built-in kinds are not schema-checked by the double) */
  readonly schema?: SNode;
  /** the CRD that defines it */
  readonly crd?: string;
}

export const apiVersionOf = (t: Pick<ResourceType, 'group' | 'version'>): string => (t.group ? `${t.group}/${t.version}` : t.version);
export const typeKey = (t: Pick<ResourceType, 'group' | 'version' | 'plural'>): string => `${t.group}/${t.version}/${t.plural}`;

const b = (group: string, version: string, kind: string, plural: string, namespaced: boolean, status = true): ResourceType => ({
  group,
  version,
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced,
  status,
});

export const BUILTIN_TYPES: readonly ResourceType[] = [
  b('', 'v1', 'Namespace', 'namespaces', false),
  b('', 'v1', 'Node', 'nodes', false),
  b('', 'v1', 'Pod', 'pods', true),
  b('', 'v1', 'Service', 'services', true),
  b('', 'v1', 'Endpoints', 'endpoints', true, false),
  b('', 'v1', 'Secret', 'secrets', true, false),
  b('', 'v1', 'ConfigMap', 'configmaps', true, false),
  b('', 'v1', 'ServiceAccount', 'serviceaccounts', true, false),
  b('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true),
  b('', 'v1', 'Event', 'events', true, false),
  b('apps', 'v1', 'Deployment', 'deployments', true),
  b('apps', 'v1', 'StatefulSet', 'statefulsets', true),
  b('apps', 'v1', 'DaemonSet', 'daemonsets', true),
  b('apps', 'v1', 'ReplicaSet', 'replicasets', true),
  b('batch', 'v1', 'Job', 'jobs', true),
  b('batch', 'v1', 'CronJob', 'cronjobs', true),
  b('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true, false),
  b('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true),
  b('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false),
  b('admissionregistration.k8s.io', 'v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false, false),
  b('admissionregistration.k8s.io', 'v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false, false),
  b('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false, false),
  b('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false, false),
  b('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true, false),
  b('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true, false),
  b('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false, false),
];
