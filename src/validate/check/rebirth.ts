import type { Diagnostic, Severity } from '../../diag/diagnostic.js';
import type { ManifestDoc } from '../documents.js';
import { arr, diag, groupOf, locRef, obj, str, type LocRef, type Locator } from './context.js';

/**
 * Castle's own rules: manifests the API server accepts but that lose data, or fail, when the castle is
 * wiped and reborn. With `rebirth` (the preflight of `up`/`rebirth`) the data-loss rules are errors;
 * in a plain `castle validate` they are warnings, since the same manifest is fine for a first install.
 */
export interface RebirthOptions {
  readonly rebirth: boolean;
}

const CLOUD = ['s3', 'gcs', 'azure'] as const;

export function checkPostgresCluster(d: ManifestDoc, o: RebirthOptions, out: Diagnostic[]): void {
  if (d.kind !== 'PostgresCluster' || groupOf(d.apiVersion) !== 'postgres-operator.crunchydata.com') return;
  const loss: Severity = o.rebirth ? 'error' : 'warning';
  const spec = obj(d.value['spec']);
  const pgbr = obj(obj(spec?.['backups'])?.['pgbackrest']);
  const repos = arr(pgbr?.['repos']);
  const ds = obj(spec?.['dataSource']);
  const dsPgbr = obj(ds?.['pgbackrest']);
  const dsCluster = obj(ds?.['postgresCluster']);

  const cloudIndex = repos.findIndex((r) => CLOUD.some((c) => obj(r)?.[c] !== undefined));
  if (cloudIndex !== -1 && !dsPgbr && !dsCluster) {
    const name = str(obj(repos[cloudIndex])?.['name']) ?? `repo${cloudIndex + 1}`;
    out.push(
      diag(
        d,
        loss,
        'rebirth/no-restore-source',
        `PostgresCluster ${d.name} backs up to the cloud repo ${name} but has no spec.dataSource.pgbackrest: after a wipe it comes back empty, and stanza-upgrade registers a second system-id in the same repo`,
        ['spec', 'backups', 'pgbackrest', 'repos', cloudIndex, 'name'],
        {
          hint: `add spec.dataSource.pgbackrest (stanza: db, repo: {name: ${name}, s3: <same bucket>}, configuration: <the credentials secret>) so the reborn cluster restores from it`,
        },
      ),
    );
  }

  if (dsPgbr) {
    const dsRepo = obj(dsPgbr['repo']);
    const dsRepoName = str(dsRepo?.['name']) ?? 'repo1';
    const cloud = CLOUD.find((c) => dsRepo?.[c] !== undefined);
    if (cloud && arr(dsPgbr['configuration']).length === 0) {
      const option = cloud === 's3' ? `${dsRepoName}-s3-key` : cloud === 'gcs' ? `${dsRepoName}-gcs-key` : `${dsRepoName}-azure-account`;
      out.push(
        diag(
          d,
          'error',
          'rebirth/restore-credentials',
          `spec.dataSource.pgbackrest has no configuration secret: the restore Job fails with "restore command requires option: ${option}"`,
          ['spec', 'dataSource', 'pgbackrest'],
          {
            key: true,
            hint: 'add spec.dataSource.pgbackrest.configuration with the same secret as spec.backups.pgbackrest.configuration',
          },
        ),
      );
    }
    const dsGlobal = obj(dsPgbr['global']);
    const bkGlobal = obj(pgbr?.['global']);
    const bkRepo = repos.find((r) => str(obj(r)?.['name']) === dsRepoName);
    if (bkRepo) {
      const key = `${dsRepoName}-path`;
      const fallback = `/pgbackrest/${dsRepoName}`;
      const dsPath = str(dsGlobal?.[key]) ?? fallback;
      const bkPath = str(bkGlobal?.[key]) ?? fallback;
      if (dsPath !== bkPath) {
        const slashOnly = dsPath.replace(/^\/+/, '') === bkPath.replace(/^\/+/, '');
        const path =
          dsGlobal?.[key] !== undefined
            ? ['spec', 'dataSource', 'pgbackrest', 'global', key]
            : bkGlobal?.[key] !== undefined
              ? ['spec', 'backups', 'pgbackrest', 'global', key]
              : ['spec', 'dataSource', 'pgbackrest'];
        out.push(
          diag(
            d,
            loss,
            'rebirth/repo-path-mismatch',
            `${key} differs between the restore source (${JSON.stringify(dsPath)}) and the backups (${JSON.stringify(bkPath)})${slashOnly ? ', only by the leading slash' : ''}: the next rebirth restores from a path no backup is written to`,
            path,
            {
              hint: `use the same ${key} (with its leading slash) in spec.backups.pgbackrest.global and spec.dataSource.pgbackrest.global`,
            },
          ),
        );
      }
    }
  }

  for (const [src, base] of [
    [dsPgbr, ['spec', 'dataSource', 'pgbackrest']],
    [dsCluster, ['spec', 'dataSource', 'postgresCluster']],
  ] as const) {
    arr(src?.['options']).forEach((opt, i) => {
      if (typeof opt === 'string' && /^--type[= ]immediate$/.test(opt.trim())) {
        out.push(
          diag(
            d,
            loss,
            'rebirth/restore-immediate',
            `restore option ${opt.trim()} stops at the end of the backup: the writes archived after the last backup are lost`,
            [...base, 'options', i],
            {
              hint: 'drop --type=immediate to replay the WAL archive to its end',
            },
          ),
        );
      }
    });
  }
}

/** What the CRD-batch rule needs to know of each manifest, gathered per file (possibly in a worker). */
export interface BatchMeta {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly via: string | undefined;
  readonly kindAt: LocRef;
  /** `group|Kind` this document defines, when it is a CRD */
  readonly defines?: string;
}

export function batchMeta(d: ManifestDoc): BatchMeta {
  const spec = obj(d.value['spec']);
  const group = str(spec?.['group']);
  const kind = str(obj(spec?.['names'])?.['kind']);
  const defines = d.kind === 'CustomResourceDefinition' && group && kind ? `${group}|${kind}` : undefined;
  return { apiVersion: d.apiVersion, kind: d.kind, name: d.name, via: d.via, kindAt: locRef(d, ['kind']), ...(defines ? { defines } : {}) };
}

/**
 * A custom resource applied in the same kustomization as its CRD: `kubectl apply --dry-run=server`
 * and Flux's dry-run fail with "no matches for kind" because the CRD is not established yet.
 */
export function checkCrdBatches(docs: readonly BatchMeta[], locator: Locator, out: Diagnostic[]): void {
  const crdsByBatch = new Map<string, Map<string, BatchMeta>>();
  for (const d of docs) {
    if (!d.via || !d.defines) continue;
    const m = crdsByBatch.get(d.via) ?? new Map<string, BatchMeta>();
    m.set(d.defines, d);
    crdsByBatch.set(d.via, m);
  }
  if (crdsByBatch.size === 0) return;
  for (const d of docs) {
    if (!d.via) continue;
    const crd = crdsByBatch.get(d.via)?.get(`${groupOf(d.apiVersion)}|${d.kind}`);
    if (!crd) continue;
    out.push({
      severity: 'error',
      rule: 'rebirth/crd-same-batch',
      message: `${d.kind} ${d.name} is applied by ${d.via} together with its CRD ${crd.name}: server-side dry-run fails with no matches for kind "${d.kind}" in version "${d.apiVersion}"`,
      location: locator.resolve(d.kindAt),
      hint: 'move the CRD to its own kustomization applied first (Flux: a Kustomization the others dependsOn)',
    });
  }
}
