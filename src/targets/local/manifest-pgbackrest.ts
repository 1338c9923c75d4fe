import type { PgbackrestSpec } from '../../data/pgbackrest.js';
import type { Result } from '../../core/result.js';
import type { LocalClusterModel, PgBackRestSettings } from './manifest-model.js';

export interface LocalS3Endpoint {
  /** `localhost` for the castle's endpoint (pgBackRest 2.45 ignores IP SANs) */
  readonly host: string;
  readonly port: number;
  readonly caPem?: string;
  readonly verifyTls?: boolean;
}

const COMPRESS = ['lz4', 'gz', 'zst', 'bz2', 'none'] as const;

/**
 * The data layer's pgBackRest spec from a PostgresCluster model: repo1 must be the S3 repo (the one
 * that survives a wipe), repo2 an optional volume repo. The S3 endpoint is the castle's own: the
 * manifest's endpoint names the cloud one and is replaced. `restore: true` reads the
 * dataSource.pgbackrest settings (what a rebirth restores from) instead of backups.pgbackrest.
 */
export function pgbackrestSpecFromModel(model: LocalClusterModel, s3: LocalS3Endpoint, opts: { restore?: boolean } = {}): Result<PgbackrestSpec> {
  const fromRestore = opts.restore === true;
  if (fromRestore && !model.dataSource) return { ok: false, reason: `PostgresCluster '${model.name}' has no spec.dataSource.pgbackrest to restore from` };
  const repos = fromRestore ? [model.dataSource!.repo] : model.repos;
  const settings: PgBackRestSettings = fromRestore ? model.dataSource!.pgbackrest : model.pgbackrest;
  // A restore source defines its own repo; the backup repos' options fill what it leaves out.
  const g: Record<string, string> = fromRestore ? { ...model.pgbackrest.global, ...settings.global } : { ...settings.global };
  const repo1 = repos.find((r) => r.name === 'repo1');
  if (!repo1 || repo1.kind !== 's3') {
    return {
      ok: false,
      reason: `PostgresCluster '${model.name}': the local target needs repo1 on s3 (the repo that survives a wipe); found ${repos.map((r) => `${r.name}=${r.kind}`).join(', ') || 'no repos'}`,
    };
  }
  const other = repos.find((r) => r.name !== 'repo1' && !(r.name === 'repo2' && r.kind === 'volume'));
  if (other)
    return {
      ok: false,
      reason: `PostgresCluster '${model.name}': repo ${other.name} (${other.kind}) is not supported locally: use repo1 (s3) and optionally repo2 (volume)`,
    };
  const key = g['repo1-s3-key'];
  const secret = g['repo1-s3-key-secret'];
  if (!key || !secret) {
    const why = settings.rendered
      ? 'its configuration Secret gives no repo1-s3-key / repo1-s3-key-secret'
      : 'its configuration Secret was not rendered (no secret source given)';
    return { ok: false, reason: `PostgresCluster '${model.name}': ${why}; render s3.conf with [global] repo1-s3-key=... and repo1-s3-key-secret=...` };
  }
  const uri = g['repo1-s3-uri-style'];
  const compress = g['compress-type'];
  const num = (k: string) => (g[k] !== undefined && /^\d+$/.test(g[k]!) ? Number(g[k]) : undefined);
  const retentionFull = num('repo1-retention-full');
  const processMax = num('process-max');
  const archiveTimeoutS = num('archive-timeout');
  const bundle = g['repo1-bundle'];
  const compressLevel = num('compress-level');
  const bundleSize = g['repo1-bundle-size'];
  // pgBackRest's size syntax (its own range check, 1MiB and up, still applies when it runs)
  if (bundleSize !== undefined && !/^\d+(?:[kmgtp]i?b|b)?$/i.test(bundleSize))
    return {
      ok: false,
      reason: `PostgresCluster '${model.name}': repo1-bundle-size '${bundleSize}' is not a size: write it as pgBackRest does, e.g. 4MiB (at least 1MiB)`,
    };
  return {
    ok: true,
    value: {
      stanza: fromRestore ? model.dataSource!.stanza : model.stanza,
      repo1: {
        host: s3.host,
        port: s3.port,
        bucket: repo1.bucket,
        region: repo1.region,
        path: repo1.path,
        accessKeyId: key,
        secretAccessKey: secret,
        ...(s3.caPem ? { caPem: s3.caPem } : {}),
        ...(s3.verifyTls !== undefined ? { verifyTls: s3.verifyTls } : {}),
        uriStyle: uri === 'host' ? 'host' : 'path',
      },
      repo2:
        repos.some((r) => r.name === 'repo2' && r.kind === 'volume') || (fromRestore && model.repos.some((r) => r.name === 'repo2' && r.kind === 'volume')),
      ...(retentionFull !== undefined ? { retentionFull } : {}),
      ...(processMax !== undefined ? { processMax } : {}),
      ...(archiveTimeoutS !== undefined ? { archiveTimeoutS } : {}),
      ...(bundle === 'n' || bundle === 'y' ? { repoBundle: bundle === 'y' } : {}),
      ...(bundleSize !== undefined ? { repoBundleSize: bundleSize } : {}),
      ...(compressLevel !== undefined ? { compressLevel } : {}),
      ...(compress && (COMPRESS as readonly string[]).includes(compress) ? { compressType: compress as (typeof COMPRESS)[number] } : {}),
    },
  };
}
