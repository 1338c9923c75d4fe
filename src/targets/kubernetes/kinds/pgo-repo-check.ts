import type { StepKind } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { readRepoBackupInfo, repoBelongsTo } from '../../../data/gate-core.js';
import { s3Bucket } from '../../../s3/client.js';
import type { PgoRepoCheckConfig } from '../config.js';
import { loadManifests } from '../manifests.js';
import { repoOf } from '../pgo.js';
import { gateKey, pgoGateOf } from '../pgo-gates.js';
import type { KubeTargetSession } from '../session.js';

/**
 * Before a PostgresCluster is applied to come back from its repo: the repo it restores from holds
 * backups, and its stanza belongs to the system the gate backed up. PGO itself would otherwise run
 * `stanza-create || stanza-upgrade` on a foreign repo and bootstrap an empty cluster into it.
 */
export const run: StepKind<PgoRepoCheckConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const k = session.kube();
  if (!k.ok) return k;
  const docs = loadManifests([c.manifest], ctx.castleDir);
  if (!docs.ok) return docs;
  const doc = docs.value.find((d) => d.object.kind === 'PostgresCluster' && d.object.metadata.name === c.cluster);
  if (!doc) return fail(`${c.manifest}: no PostgresCluster named ${c.cluster}`, { retryable: false });
  const pc = doc.object;
  const restoring = !!pc.spec?.dataSource?.pgbackrest;
  const repo = await repoOf(k.value, pc, c, ctx, { restore: restoring });
  if (!repo.ok) return repo;
  const info = await readRepoBackupInfo(s3Bucket(repo.value.target), repo.value.path, repo.value.stanza, ctx.signal);
  const gate = pgoGateOf(session, ctx, gateKey(c.namespace, c.cluster));
  if (!info.ok) {
    if (/not found|NoSuchKey|does not exist/i.test(info.reason) && !restoring && !gate) {
      ctx.check('repo', true, `${repo.value.where} holds no stanza '${repo.value.stanza}' yet: a new cluster will create it`);
      return { ok: true, summary: 'empty repo: first birth' };
    }
    return fail(`${doc.where}: the repo ${repo.value.where} cannot be read through the S3 API: ${info.reason}`, { retryable: true });
  }
  const i = info.value;
  if (gate) {
    const b = repoBelongsTo(i, gate.gate.systemId, `the repo ${repo.value.where} (stanza ${repo.value.stanza})`);
    if (!b.ok) {
      ctx.check('repo belongs to the castle', false, b.reason);
      return fail(`${doc.where}: ${b.reason}; nothing was applied`, { retryable: false });
    }
    if (!i.backups.some((x) => x.label === gate.gate.backup.label))
      return fail(`${doc.where}: the gate's backup ${gate.gate.backup.label} is not in ${repo.value.where} any more; nothing was applied`, {
        retryable: false,
      });
    ctx.check(
      'repo belongs to the castle',
      true,
      `${repo.value.where} stanza ${repo.value.stanza}: system ${i.current.systemId} = the gate's, backup ${gate.gate.backup.label} present`,
    );
  } else if (restoring && i.backups.length === 0) {
    return fail(`${doc.where}: ${repo.value.where} holds no backup to restore from; nothing was applied`, { retryable: false });
  } else {
    ctx.check(
      'repo',
      true,
      `${repo.value.where} stanza ${repo.value.stanza}: system ${i.current.systemId}, ${i.backups.length} backups (no gate in this run to compare with)`,
    );
  }
  if (!restoring && i.backups.length > 0)
    return fail(
      `${doc.where}: ${repo.value.where} holds backups of system ${i.current.systemId} but the PostgresCluster has no spec.dataSource: PGO would bootstrap an empty cluster into that repo (stanza-upgrade). Add dataSource.pgbackrest pointing at the repo`,
      { retryable: false },
    );
  return { ok: true, summary: `restore from ${repo.value.where} (system ${i.current.systemId}) allowed` };
};
