// The `kubernetes:` block and the configs of the kubernetes target's kinds (schemas and types).
import type { KubernetesBlock } from './client.js';

export const kubernetesTargetName = 'kubernetes';

const DURATION = '^([0-9]+(ms|s|m|h))+$';

export const blockSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kubeconfig: { type: 'string', description: "kubeconfig file (relative to castle.yaml); default: the one the talos target wrote to the castle's state" },
    context: { type: 'string', description: 'context in the kubeconfig (default: its current-context)' },
  },
} as const;

export type { KubernetesBlock };

/** `90s`, `5m`, `1h30m`, `250ms` -> milliseconds */
export function durationMs(text: string | undefined, fallbackMs: number): number {
  if (!text) return fallbackMs;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h)/g)) total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return total || fallbackMs;
}

const within = { type: 'string', pattern: DURATION, description: 'deadline of each readiness gate (default 5m); on expiry the step says what it saw last' };
const manifests = {
  oneOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { type: 'string' } }],
  description: 'files or directories of YAML manifests, relative to castle.yaml',
};

export interface ApplyConfig {
  readonly manifests: string | readonly string[];
  readonly namespace?: string;
  readonly force?: boolean;
  readonly wait?: boolean;
  readonly within?: string;
}

export const applySchema = {
  type: 'object',
  required: ['manifests'],
  additionalProperties: false,
  properties: {
    manifests,
    namespace: { type: 'string', description: "namespace for namespaced objects that name none (default: the kubeconfig context's)" },
    force: { type: 'boolean', description: 'take over fields another field manager owns (server-side apply force); default false' },
    wait: { type: 'boolean', description: 'wait for every applied object that has a readiness rule (default true)' },
    within,
  },
} as const;

export interface WaitConfig {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly selector?: string;
  readonly fields?: string;
  readonly count?: number;
  /** a condition type that must be True, for kinds without a built-in readiness rule */
  readonly condition?: string;
  readonly within?: string;
}

export const waitSchema = {
  type: 'object',
  required: ['apiVersion', 'kind'],
  additionalProperties: false,
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    namespace: { type: 'string' },
    name: { type: 'string' },
    selector: { type: 'string', description: 'label selector: every matching object must be ready, and at least `count` must exist' },
    fields: { type: 'string', description: 'field selector' },
    count: { type: 'integer', minimum: 1 },
    condition: { type: 'string', description: 'condition type that must be True (for kinds without a readiness rule)' },
    within,
  },
} as const;

export interface NodesConfig {
  readonly count?: number;
  readonly selector?: string;
  readonly within?: string;
}

export const nodesSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    count: { type: 'integer', minimum: 1, description: 'at least this many nodes must exist and be Ready (default 1)' },
    selector: { type: 'string' },
    within,
  },
} as const;

export interface DeleteConfig {
  readonly manifests: string | readonly string[];
  readonly namespace?: string;
  readonly within?: string;
}

export const deleteSchema = {
  type: 'object',
  required: ['manifests'],
  additionalProperties: false,
  properties: { manifests, namespace: { type: 'string' }, within },
} as const;

export interface SecretConfig {
  readonly namespace: string;
  readonly name: string;
  /** key in the Secret -> the environment variable holding its value */
  readonly fromEnv: Readonly<Record<string, string>>;
  /** dotenv file (relative to castle.yaml) read for variables the environment lacks */
  readonly dotenv?: string;
  readonly force?: boolean;
}

export const secretSchema = {
  type: 'object',
  required: ['namespace', 'name', 'fromEnv'],
  additionalProperties: false,
  properties: {
    namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    name: { type: 'string', pattern: '^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$' },
    fromEnv: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[-._a-zA-Z0-9]+$' },
      additionalProperties: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      description: 'key in the Secret -> the environment variable holding its value',
    },
    dotenv: { type: 'string', description: 'dotenv file (relative to castle.yaml) read for variables the environment lacks' },
    force: { type: 'boolean', description: 'take over fields another field manager owns (default false)' },
  },
} as const;

/** Where the PGO cluster is and how Castle reaches its repo and its primary. */
export interface PgoConfig {
  readonly cluster: string;
  readonly namespace: string;
  /** the pgBackRest repo on S3 (default repo1) */
  readonly repo?: string;
  /** the PostgresCluster user whose `<cluster>-pguser-<user>` Secret Castle connects with (a superuser: default postgres) */
  readonly user?: string;
  /** how Castle reaches the S3 endpoint when it differs from the cluster's view (test endpoints, private CAs) */
  readonly s3?: { readonly endpoint?: string; readonly caFile?: string; readonly verifyTls?: boolean; readonly uriStyle?: 'path' | 'host' };
  /** TLS to the primary (PGO accepts TLS only: default require) */
  readonly sslmode?: 'require' | 'disable';
  readonly within?: string;
}

const pgoProps = {
  cluster: { type: 'string', description: 'PostgresCluster name' },
  namespace: { type: 'string' },
  repo: { type: 'string', pattern: '^repo[1-4]$', description: 'the S3 repo (default repo1)' },
  user: { type: 'string', description: "the user whose pguser Secret Castle connects with (a superuser; default 'postgres')" },
  s3: {
    type: 'object',
    additionalProperties: false,
    properties: { endpoint: { type: 'string' }, caFile: { type: 'string' }, verifyTls: { type: 'boolean' }, uriStyle: { enum: ['path', 'host'] } },
  },
  sslmode: { enum: ['require', 'disable'], description: 'TLS to the primary (PGO accepts TLS only; default require)' },
  within,
} as const;

export interface PgoBackupConfig extends PgoConfig {
  /** pgBackRest options of the manual backup (default ["--type=incr"]) */
  readonly options?: readonly string[];
  readonly fingerprint?: boolean;
}

export const pgoBackupSchema = {
  type: 'object',
  required: ['cluster', 'namespace'],
  additionalProperties: false,
  properties: { ...pgoProps, options: { type: 'array', items: { type: 'string' } }, fingerprint: { type: 'boolean' } },
} as const;

export interface PgoRepoCheckConfig extends PgoConfig {
  /** the PostgresCluster manifest about to be applied (the cluster itself is gone before a restore) */
  readonly manifest: string;
}
export const pgoRepoCheckSchema = {
  type: 'object',
  required: ['cluster', 'namespace', 'manifest'],
  additionalProperties: false,
  properties: { ...pgoProps, manifest: { type: 'string', description: 'file or directory holding the PostgresCluster about to be applied' } },
} as const;

export interface PgoProofConfig extends PgoConfig {
  readonly app?: { readonly url: string; readonly database: string; readonly query: string };
}

export const pgoProofSchema = {
  type: 'object',
  required: ['cluster', 'namespace'],
  additionalProperties: false,
  properties: {
    ...pgoProps,
    app: {
      type: 'object',
      required: ['url', 'database', 'query'],
      additionalProperties: false,
      properties: { url: { type: 'string' }, database: { type: 'string' }, query: { type: 'string' } },
    },
  },
} as const;
