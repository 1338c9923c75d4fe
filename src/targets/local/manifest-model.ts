// The typed shape of the data layer the local target realises from a PGO PostgresCluster.

export interface LocalUser {
  readonly name: string;
  readonly databases: readonly string[];
  /** PGO `options`: SQL role options, e.g. `SUPERUSER` or `CREATEDB` */
  readonly options?: string;
  readonly passwordType: 'AlphaNumeric' | 'ASCII';
  /** key under which the secret source holds (or receives) this user's password */
  readonly passwordKey: string;
}

export interface LocalS3Repo {
  readonly name: string;
  readonly kind: 's3';
  readonly bucket: string;
  readonly endpoint: string;
  readonly region: string;
  /** pgBackRest `repoN-path` (PGO default `/pgbackrest/<repo>`) */
  readonly path: string;
  /** the pgBackRest options this repo implies (`repo1-type=s3`, bucket, endpoint, region, path) */
  readonly options: Readonly<Record<string, string>>;
}

export interface LocalVolumeRepo {
  readonly name: string;
  readonly kind: 'volume';
  /** pgBackRest `repoN-path`; the local target maps it to a directory inside the castle */
  readonly path: string;
  readonly options: Readonly<Record<string, string>>;
}

export type LocalRepo = LocalS3Repo | LocalVolumeRepo;

export interface PgBackRestSettings {
  /** Secret/ConfigMap names projected as pgBackRest config files */
  readonly configuration: readonly { readonly kind: 'Secret' | 'ConfigMap'; readonly name: string; readonly via: 'Secret' | 'ExternalSecret' | 'ConfigMap' }[];
  /** true when configuration secrets were rendered (a secret source was given) */
  readonly rendered: boolean;
  /** merged `[global]`: repo-derived options, then spec `global`, then configuration files. Holds secrets. */
  readonly global: Readonly<Record<string, string>>;
  /** option names in `global` whose values came from Secrets (write them only to 0600 files) */
  readonly secretOptions: readonly string[];
  /** other sections of the configuration files, e.g. `global:archive-push` */
  readonly sections: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface LocalDataSource {
  readonly from: 'pgbackrest' | 'postgresCluster';
  readonly repoName: string;
  /** the repo definition (dataSource.pgbackrest.repo, or this cluster's own repo of that name) */
  readonly repo: LocalRepo;
  readonly stanza: string;
  /** extra `pgbackrest restore` options, e.g. `--type=time` */
  readonly options: readonly string[];
  readonly pgbackrest: PgBackRestSettings;
}

export interface LocalPgBouncer {
  readonly enabled: true;
  readonly replicas: number;
  /** PGO default 5432; the local target may remap it to a free loopback port */
  readonly port: number;
  /** `proxy.pgBouncer.config.global`: extra pgbouncer.ini [pgbouncer] settings */
  readonly settings: Readonly<Record<string, string>>;
}

export interface LocalClusterModel {
  readonly name: string;
  readonly namespace?: string;
  readonly postgresVersion: number;
  /** e.g. /usr/lib/postgresql/15/bin */
  readonly pgBinDir: string;
  /** PGO `spec.port` (default 5432) */
  readonly port: number;
  readonly users: readonly LocalUser[];
  /** databaseInitSQL: PGO runs it once with psql as the superuser, connected to `postgres` (so `\c db` works) */
  readonly initSql?: { readonly configMap: string; readonly key: string; readonly text: string };
  /** `patroni.dynamicConfiguration.postgresql.parameters` as postgresql.conf settings */
  readonly parameters: Readonly<Record<string, string>>;
  /** PGO's stanza name is always `db` */
  readonly stanza: string;
  readonly repos: readonly LocalRepo[];
  readonly pgbackrest: PgBackRestSettings;
  readonly dataSource?: LocalDataSource;
  readonly pgBouncer?: LocalPgBouncer;
}
