import type { StepKind } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { appServesValue, compareWithGate, readRepoBackupInfo, systemIdVia } from '../../../data/gate-core.js';
import { s3Bucket } from '../../../s3/client.js';
import type { PgoProofConfig } from '../config.js';
import { primaryOf, readCluster, repoOf } from '../pgo.js';
import { gateKey, pgoGateOf } from '../pgo-gates.js';
import type { KubeTargetSession } from '../session.js';

/**
 * The proof after a rebirth on Kubernetes, by the same rules as the local target's: the restored
 * cluster is the system the gate backed up, the repo still belongs to it, every table matches the
 * gate's fingerprint, and the app's URL serves a value read from the database.
 */
export const run: StepKind<PgoProofConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const k = session.kube();
  if (!k.ok) return k;
  const gate = pgoGateOf(session, ctx, gateKey(c.namespace, c.cluster));
  if (!gate) return fail(`no backup gate of ${c.namespace}/${c.cluster} in this run: there is nothing to prove the data against`, { retryable: false });
  const pc = await readCluster(k.value, c);
  if (!pc.ok) return pc;
  const repo = await repoOf(k.value, pc.value, c, ctx);
  if (!repo.ok) return repo;
  const primary = await primaryOf(k.value, c, ctx);
  if (!primary.ok) return primary;
  try {
    const conn = primary.value.conn;
    const [sys, info] = await Promise.all([
      systemIdVia(conn, { signal: ctx.signal }),
      readRepoBackupInfo(s3Bucket(repo.value.target), repo.value.path, repo.value.stanza, ctx.signal),
    ]);
    if (!sys.ok) return fail(`proof: ${sys.reason}`);
    const repoSystemId = info.ok ? info.value.current.systemId : null;
    // the app is asked while the fingerprint reads the tables: both only read, and neither waits for the other
    const served = c.app ? appServesValue(conn, c.app, ctx.signal) : undefined;
    const r = await compareWithGate(conn, gate.gate, sys.value, repoSystemId, { signal: ctx.signal, log: (x) => ctx.log(x) });
    if (!r.ok) {
      await served; // nothing of the step goes on after it ends (the port-forward closes)
      ctx.check('data identical', false, r.reason);
      return fail(r.reason, { retryable: false });
    }
    ctx.check('system identifier', true, `restored cluster ${sys.value} = gate ${gate.gate.systemId}${repoSystemId ? ` = S3 repo ${repoSystemId}` : ''}`);
    if (r.value.fingerprint) {
      const rows = r.value.fingerprint.tables.reduce((a, t) => a + t.rows, 0);
      ctx.check(
        'data identical',
        true,
        `${r.value.fingerprint.tables.length} tables, ${rows} rows in ${r.value.fingerprint.databases.length} databases match the gate`,
      );
    } else ctx.check('data identical', true, 'fingerprint off at the gate: system identifiers only');
    if (served) {
      const a = await served;
      ctx.check('app serves the data', a.ok, a.detail);
      if (!a.ok) return fail(`the app does not serve the restored data: ${a.detail}`);
    }
    return { ok: true, summary: 'data proven identical' };
  } finally {
    await primary.value.close();
  }
};
