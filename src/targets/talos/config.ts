// The `talos:` block: the cluster, its nodes per role, patches per role, where the secrets bundle is kept.
export const talosTargetName = 'talos';

export interface TalosBlock {
  readonly clusterName: string;
  /** https://<control plane address>:6443 */
  readonly endpoint: string;
  readonly controlPlane: readonly string[];
  readonly workers?: readonly string[];
  /** strategic-merge or RFC 6902 patch files (relative to castle.yaml) per role */
  readonly patches?: { readonly all?: readonly string[]; readonly controlPlane?: readonly string[]; readonly worker?: readonly string[] };
  readonly installDisk?: string;
  readonly talosVersion?: string;
  readonly kubernetesVersion?: string;
  /** the secret source keeping the secrets bundle (default: dotenv file secrets.env beside castle.yaml) */
  readonly secrets?: { readonly dotenv?: string; readonly key?: string };
  /** talosctl to run (default: `talosctl` on PATH) */
  readonly talosctl?: string;
  /** oldest talosctl accepted (default v1.12.0) */
  readonly minVersion?: string;
}

const ip = { type: 'string', minLength: 1 };
const files = { type: 'array', items: { type: 'string' } };

export const talosBlockSchema = {
  type: 'object',
  required: ['clusterName', 'endpoint', 'controlPlane'],
  additionalProperties: false,
  properties: {
    clusterName: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    endpoint: { type: 'string', pattern: '^https://[^/]+:[0-9]+/?$', description: 'the Kubernetes API endpoint, e.g. https://192.168.1.210:6443' },
    controlPlane: { type: 'array', minItems: 1, items: ip },
    workers: { type: 'array', items: ip },
    patches: { type: 'object', additionalProperties: false, properties: { all: files, controlPlane: files, worker: files } },
    installDisk: { type: 'string' },
    talosVersion: { type: 'string', pattern: '^v[0-9]+\\.[0-9]+' },
    kubernetesVersion: { type: 'string' },
    secrets: {
      type: 'object',
      additionalProperties: false,
      properties: { dotenv: { type: 'string' }, key: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' } },
    },
    talosctl: { type: 'string' },
    minVersion: { type: 'string', pattern: '^v[0-9]+\\.[0-9]+' },
  },
} as const;

export const withinSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { within: { type: 'string', pattern: '^([0-9]+(ms|s|m|h))+$' } },
} as const;
export interface WithinConfig {
  readonly within?: string;
}
export const emptySchema = { type: 'object', additionalProperties: false, properties: {} } as const;

/** `90s`, `5m`, `1h30m` -> milliseconds */
export function durationMs(text: string | undefined, fallbackMs: number): number {
  if (!text) return fallbackMs;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h)/g)) total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return total || fallbackMs;
}
