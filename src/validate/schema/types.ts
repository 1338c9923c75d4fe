/**
 * A structural schema in a compact, JSON-serialisable form: what CRD `openAPIV3Schema`s and the core
 * Kubernetes definitions are both normalised into, and what the on-disk cache stores. Keys are short
 * because the core bundle holds ~2,500 definitions and is read on every cold start.
 */
export interface SNode {
  /** JSON type; absent = any value */
  t?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  /** named definition in the bundle (core kinds), resolved lazily to avoid expanding recursive types */
  ref?: string;
  props?: Record<string, SNode>;
  req?: string[];
  /** schema of map values (additionalProperties) */
  add?: SNode;
  items?: SNode;
  enum?: unknown[];
  /** Go RE2 pattern, as written in the CRD */
  pat?: string;
  fmt?: string;
  /** x-kubernetes-int-or-string */
  ios?: true;
  /** resource.Quantity: a string or a number */
  qty?: true;
  nul?: true;
  /** x-kubernetes-preserve-unknown-fields */
  pres?: true;
  /** x-kubernetes-embedded-resource */
  emb?: true;
  /** x-kubernetes-list-type and x-kubernetes-list-map-keys */
  lt?: 'atomic' | 'set' | 'map';
  lk?: string[];
  /** x-kubernetes-map-type (kept for completeness of the cache) */
  mt?: 'granular' | 'atomic';
  min?: number;
  max?: number;
  exMin?: true;
  exMax?: true;
  mult?: number;
  minL?: number;
  maxL?: number;
  minI?: number;
  maxI?: number;
  minP?: number;
  maxP?: number;
  /** `default`: the API server fills it in before validating (required fields, CEL rules) */
  def?: unknown;
  /** x-kubernetes-validations */
  cel?: CelRule[];
  /** allOf/anyOf/oneOf/not are value validations only in structural schemas: kept, checked loosely */
  anyOf?: SNode[];
  oneOf?: SNode[];
  allOf?: SNode[];
}

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
  optionalOldSelf?: boolean;
}

/** One version of one kind, as a schema source knows it. */
export interface KindSchema {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  served: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  /** root node; for core kinds a `ref` into the bundle's defs */
  root: SNode;
  /** where this schema came from: `core v1.34.0`, a CRD file, `cluster` */
  origin: string;
}

/** A set of kind schemas with the named definitions their `ref`s point into. */
export interface SchemaBundle {
  /** content hash of what the bundle was built from */
  hash: string;
  origin: string;
  kubernetesVersion?: string;
  defs: Record<string, SNode>;
  kinds: KindSchema[];
}

export function gvkKey(apiVersion: string, kind: string): string {
  return `${apiVersion}|${kind}`;
}

export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}
