// A PGO cluster for tests: the PostgresCluster lives on the Kubernetes test server, its "primary" is a
// real PostgreSQL (with pgBackRest archiving to a real S3 endpoint on loopback) run by src/data, and the
// scripted PGO controller runs real pgBackRest backups and restores against it.
import { join } from 'node:path';
import { startS3Server, stopS3Server, type S3ServerInfo } from '../../src/s3/server.js';
import { s3Bucket } from '../../src/s3/client.js';
import {
  createCluster,
  dataCastle,
  restoreCastle,
  startCastle,
  wipeCastle,
  type DataCastle,
  type DataCastleSpec,
  type GateRecord,
} from '../../src/data/rebirth.js';
import { runBackup } from '../../src/data/pgbackrest.js';
import { sql, stopPostgres } from '../../src/data/postgres.js';
import { freePort } from '../helpers/ports.js';
import { controllers, pgoCrd, type KubeTestServer, type Obj } from './index.js';
import { tempDir as dataTempDir, rmDir as dataRmDir } from '../data/helpers.js';

export const PASSWORD = 'pgo-test-password-7f3a';

export async function startS3(log: (t: string) => void, bucket = 'tazlab-backups'): Promise<{ s3: S3ServerInfo; dir: string }> {
  const dir = dataTempDir('kube-s3');
  const r = await startS3Server({ dir, port: await freePort(), bucket, log, ownerPid: process.pid });
  if (!r.ok) throw new Error(r.reason);
  return { s3: r.value, dir };
}

export function dataSpec(s3: S3ServerInfo, root: string, port: number, repoPath = '/pgbackrest/repo1', bucket = 'tazlab-backups'): DataCastleSpec {
  return {
    root,
    port,
    stanza: 'db',
    repo1: {
      host: 'localhost',
      port: s3.port,
      bucket,
      region: 'eu-central-1',
      path: repoPath,
      accessKeyId: s3.target.accessKeyId,
      secretAccessKey: s3.target.secretAccessKey,
      ...(s3.target.caPem ? { caPem: s3.target.caPem } : {}),
    },
    processMax: 2,
  };
}

/** A running PostgreSQL with archiving to the S3 repo at `repoPath`, a password for TCP logins and some data. */
export async function newPrimary(s3: S3ServerInfo, log: (t: string) => void, repoPath = '/pgbackrest/repo1', bucket = 'tazlab-backups'): Promise<DataCastle> {
  const root = join(dataTempDir('kube-pg'), 'castle');
  const r = dataCastle(dataSpec(s3, root, await freePort(), repoPath, bucket), s3Bucket(s3.target));
  if (!r.ok) throw new Error(r.reason);
  const created = await createCluster(r.value, { noSync: true, log });
  if (!created.ok) throw new Error(created.reason);
  const must = (x: { ok: boolean; reason?: string }) => {
    if (!x.ok) throw new Error(x.reason);
  };
  must(await sql(r.value.cluster, `ALTER USER postgres PASSWORD '${PASSWORD}'`));
  must(await sql(r.value.cluster, 'CREATE DATABASE blog'));
  must(
    await sql(
      r.value.cluster,
      `CREATE TABLE posts(id serial PRIMARY KEY, title text NOT NULL);
       INSERT INTO posts(title) SELECT 'post ' || g FROM generate_series(1, 500) g;
       INSERT INTO posts(title) VALUES ('Il Castello Effimero');`,
      [],
      'blog',
    ),
  );
  return r.value;
}

/** The seed's PostgresCluster, pointed at the test's S3 endpoint. */
export function seedCluster(s3: S3ServerInfo, o: { dataSource?: boolean; repoPath?: string } = {}): Obj {
  const repoPath = o.repoPath ?? '/pgbackrest/repo1';
  const repo = { name: 'repo1', s3: { bucket: 'tazlab-backups', endpoint: `localhost:${s3.port}`, region: 'eu-central-1' } };
  const global = { 'repo1-path': repoPath, 'repo1-s3-uri-style': 'path' };
  return {
    apiVersion: 'postgres-operator.crunchydata.com/v1beta1',
    kind: 'PostgresCluster',
    metadata: { name: 'tazlab-db', namespace: 'tazlab-db' },
    spec: {
      postgresVersion: 16,
      instances: [
        {
          name: 'instance1',
          replicas: 1,
          dataVolumeClaimSpec: { storageClassName: 'longhorn-postgres', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
        },
      ],
      backups: { pgbackrest: { configuration: [{ secret: { name: 's3-backrest-creds' } }], global, repos: [repo] } },
      ...(o.dataSource ? { dataSource: { pgbackrest: { stanza: 'db', configuration: [{ secret: { name: 's3-backrest-creds' } }], global, repo } } } : {}),
      users: [{ name: 'postgres' }, { name: 'blog', databases: ['blog'] }],
    },
  };
}

export function s3CredsSecret(s3: S3ServerInfo): Obj {
  const conf = `[global]\nrepo1-s3-key=${s3.target.accessKeyId}\nrepo1-s3-key-secret=${s3.target.secretAccessKey}\n`;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's3-backrest-creds', namespace: 'tazlab-db' },
    type: 'Opaque',
    data: { 's3.conf': Buffer.from(conf).toString('base64') },
  };
}

/**
 * Installs the PGO CRD and the scripted operator on `srv`: backups run real pgBackRest on `world.primary`
 * (or fail when `world.outcome` says so); a restore wipes the primary and restores it from the S3 repo.
 */
export function installPgo(
  srv: KubeTestServer,
  world: {
    primary: DataCastle;
    outcome: 'Complete' | 'Failed';
    gate?: () => GateRecord | null;
    afterRestore?: () => Promise<void>;
    /** when each backup Job ran (Date.now() at its start and end) */
    backupRuns?: { start: number; end: number }[];
    /** awaited after pgBackRest's backup, before the Job is reported finished (a Job that is still running) */
    afterBackup?: () => Promise<void>;
  },
  log: (t: string) => void,
): { stop(): void } {
  srv.put(pgoCrd(), 'helm');
  return controllers.pgo(srv, {
    readyAfterMs: 10,
    get primary() {
      return { host: '127.0.0.1', port: world.primary.cluster.port, user: 'postgres', password: PASSWORD };
    },
    backup: async () => {
      if (world.outcome === 'Failed') return 'Failed';
      const start = Date.now();
      const b = await runBackup(world.primary.pgbr, { type: 'incr', repo: 1, log });
      await world.afterBackup?.();
      world.backupRuns?.push({ start, end: Date.now() });
      if (!b.ok) log(`backup failed: ${b.reason}\n`);
      return b.ok ? 'Complete' : 'Failed';
    },
    restore: async () => {
      const gate = world.gate?.() ?? null;
      const w = await wipeCastle(world.primary, { gate, force: gate === null, log });
      if (!w.ok) return (log(`wipe: ${w.reason}\n`), 'Failed');
      const r = await restoreCastle(world.primary, { gate, log });
      if (!r.ok) return (log(`restore: ${r.reason}\n`), 'Failed');
      const st = await startCastle(world.primary, { log });
      if (!st.ok) return (log(`start: ${st.reason}\n`), 'Failed');
      await world.afterRestore?.();
      return 'Complete';
    },
  });
}

export async function stopAll(castles: readonly DataCastle[], s3dir: string): Promise<void> {
  for (const c of castles) await stopPostgres(c.cluster).catch(() => undefined);
  await stopS3Server(s3dir);
  for (const c of castles) dataRmDir(join(c.cluster.root, '..'));
  dataRmDir(s3dir);
}
