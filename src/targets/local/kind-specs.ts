// What the local target's step kinds are (name, schema, label): loaded with the castle. What they do
// (kinds/*.ts, with PostgreSQL, S3 and pgBackRest behind them) is loaded when a step of the kind runs.
import type { StepKind } from '../../core/step.js';
import type { LocalSession } from './session.js';

export interface BlogConfig {
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

export interface ProofConfig {
  /** GET this app and find in its page a value the database holds */
  readonly app?: { readonly url: string; readonly database: string; readonly query: string };
}

export const backupSpec: Omit<StepKind<{ fingerprint?: boolean; newBackup?: boolean }, LocalSession>, 'run'> = {
  name: 'backup',
  description: 'backup gate: flush and archive WAL, back up to S3, confirm it through the S3 API, fingerprint the data',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      fingerprint: { type: 'boolean', description: 'record the data fingerprint for the proof (default true)' },
      newBackup: { type: 'boolean', description: 'take a new incremental backup (default true); false relies on the last backup and the WAL archived since' },
    },
  },
  backupGate: true,
  label: () => 'backup gate (WAL flush, S3 backup, fingerprint)',
};

export const blogSpec: Omit<StepKind<BlogConfig, LocalSession>, 'run'> = {
  name: 'blog',
  description: 'the blog app: serves posts from the database through pgBouncer; in destroy, stop it',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['port', 'database', 'user'],
    properties: { port: { type: 'integer', minimum: 1, maximum: 65535 }, database: { type: 'string' }, user: { type: 'string' } },
  },
  label: (c) => `blog on :${c.port}`,
};

export const objectStoreSpec: Omit<StepKind<Record<string, never>, LocalSession>, 'run'> = {
  name: 'objectStore',
  description: 'start (or reuse) the S3 endpoint on loopback that keeps the backups; it survives wipes',
  schema: { type: 'object', additionalProperties: false },
  label: () => 'S3 endpoint (outside the castle)',
};

export const pgbouncerSpec: Omit<StepKind<Record<string, never>, LocalSession>, 'run'> = {
  name: 'pgbouncer',
  description: 'the pgBouncer of the PostgresCluster (proxy.pgBouncer); in destroy, stop it and delete its files',
  schema: { type: 'object', additionalProperties: false },
  label: () => 'pgBouncer',
};

export const postgresSpec: Omit<StepKind<Record<string, never>, LocalSession>, 'run'> = {
  name: 'postgres',
  description: 'the PostgresCluster of the local block: create, restore or start it; in destroy, wipe it after the backup gate',
  schema: { type: 'object', additionalProperties: false },
  holdsData: true,
  label: () => 'PostgreSQL cluster',
};

export const proofSpec: Omit<StepKind<ProofConfig, LocalSession>, 'run'> = {
  name: 'proof',
  description: 'prove the rebirth: system identifier, data fingerprint against the gate, and the app serving the data',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      app: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'database', 'query'],
        properties: {
          url: { type: 'string', pattern: '^https?://' },
          database: { type: 'string', minLength: 1 },
          query: { type: 'string', minLength: 1, description: 'returns one value the page must show' },
        },
      },
    },
  },
  label: () => 'proof (system id, fingerprint, app)',
};

export const sqlSpec: Omit<StepKind<{ database: string; file: string }, LocalSession>, 'run'> = {
  name: 'sql',
  description: 'run a SQL file on a database of the PostgresCluster, as the superuser (write it idempotent)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['database', 'file'],
    properties: { database: { type: 'string' }, file: { type: 'string' } },
  },
  label: (c) => `sql ${c.file} on ${c.database}`,
};
