import { infisicalRefSchema, type InfisicalRef } from '../../secrets/infisical-ref.js';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { defaultDirs } from './identity.js';

/** The `local:` block of castle.yaml: where the castle lives on this machine and what describes its data layer. */
export interface LocalConfig {
  /** PGO manifests (files or directories) describing the data layer, relative to castle.yaml */
  readonly manifests: readonly string[];
  /** the PostgresCluster to realise when the manifests hold several */
  readonly cluster?: string;
  /** everything the castle owns on this machine: deleted by the nuclear wipe */
  readonly dataDir?: string;
  /** unprivileged OS user running postgres, pgBouncer and the app when Castle runs as root */
  readonly runAs?: string;
  readonly secrets?: { readonly dotenv?: string; readonly infisical?: InfisicalConfig };
  /** the S3 endpoint Castle starts on loopback (outside the castle: it survives wipes) */
  readonly objectStore?: { readonly dir?: string; readonly port?: number };
  readonly ports?: { readonly postgres?: number; readonly pgbouncer?: number };
}

/** the Infisical project of the `local:` block */
export type InfisicalConfig = InfisicalRef;

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;

/** the target's name: its castle.yaml block, its kinds' prefix, its folder in the state dir */
export const localTargetName = 'local';

/** JSON Schema of the `local:` block */
export const localBlockSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['manifests'],
  properties: {
    manifests: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    cluster: { type: 'string' },
    dataDir: { type: 'string', minLength: 1 },
    runAs: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$' },
    secrets: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dotenv: { type: 'string', minLength: 1 },
        infisical: infisicalRefSchema,
      },
    },
    objectStore: { type: 'object', additionalProperties: false, properties: { dir: { type: 'string', minLength: 1 }, port } },
    ports: { type: 'object', additionalProperties: false, properties: { postgres: port, pgbouncer: port } },
  },
} as const;

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

export interface ResolvedLocal {
  readonly config: LocalConfig;
  readonly manifests: string[];
  readonly dataDir: string;
  readonly objectStoreDir: string;
  readonly objectStorePort: number | undefined;
  readonly secretsFile: string;
  readonly runAs: string;
}

/**
 * Absolute paths. A castle is its name on this machine (see identity.ts): its data defaults to /var/lib/castle/<name>
 * as root (an unprivileged user must reach it, which a checkout under /root does not allow) and to
 * ~/.local/state/castle/<name> otherwise; its object store to ~/.local/share/castle/<name>/objectstore.
 */
export function resolveLocal(config: LocalConfig, castleDir: string, castleName: string): ResolvedLocal {
  const abs = (p: string): string => (isAbsolute(expandHome(p)) ? expandHome(p) : resolve(castleDir, p));
  const defaults = defaultDirs(castleName);
  return {
    config,
    manifests: config.manifests.map(abs),
    dataDir: config.dataDir ? abs(config.dataDir) : defaults.dataDir,
    objectStoreDir: config.objectStore?.dir ? abs(config.objectStore.dir) : defaults.objectStoreDir,
    objectStorePort: config.objectStore?.port,
    secretsFile: abs(config.secrets?.dotenv ?? 'secrets.env'),
    runAs: config.runAs ?? 'castle',
  };
}
