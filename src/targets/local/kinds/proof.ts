import { connConfig } from '../../../data/postgres.js';
import { appServesValue } from '../../../data/gate-core.js';
import { proveCastle } from '../../../data/rebirth.js';
import { fingerprintRate } from '../../../data/fingerprint.js';
import type { StepContext, StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import type { ProofConfig } from '../kind-specs.js';
import { fail, localEnv, opOptions, type LocalEnv } from '../env.js';
import { gateOf } from '../gate-record.js';

async function appCheck(env: LocalEnv, app: NonNullable<ProofConfig['app']>, ctx: StepContext): Promise<boolean> {
  const r = await appServesValue(connConfig(env.data.cluster), app, ctx.signal);
  ctx.check('app serves the data', r.ok, r.detail);
  return r.ok;
}

/**
 * The proof after a rebirth: the restored cluster is the same system as the one backed up, the repo
 * still belongs to it, every table of every database has the same rows as at the gate (rows written
 * after the last backup included: they came back through archived WAL), and the app serves them.
 */
export const run: StepKind<ProofConfig, LocalSession>['run'] = async (c, ctx, session) => {
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  const gate = gateOf(session, ctx, env.model.name);
  if (!gate) return fail('no backup gate in this run: there is nothing to prove the data against');
  let ok = true;
  if (gate.empty) {
    ctx.check('data identical', true, 'not compared: the castle was already down at the gate, so no fingerprint was taken');
  } else {
    const r = await proveCastle(env.data, gate.gate, { ...opOptions(ctx), redact: env.data.pgbr.redact, evidenceDir: ctx.runDir });
    if (!r.ok) {
      ctx.check('data identical', false, r.reason);
      return fail(r.reason);
    }
    ctx.check('system identifier', true, `restored cluster ${r.value.systemId} = gate ${gate.gate.systemId} = S3 repo ${r.value.repoSystemId}`);
    if (r.value.fingerprint) {
      const rows = r.value.fingerprint.tables.reduce((a, t) => a + t.rows, 0);
      ctx.check(
        'data identical',
        true,
        `${r.value.fingerprint.tables.length} tables, ${rows} rows in ${r.value.fingerprint.databases.length} databases match the gate, including writes after backup ${gate.gate.backup.label} (WAL through ${gate.gate.flushedSegment}); fingerprint ${fingerprintRate(r.value.fingerprint)}`,
      );
    } else ctx.check('data identical', true, 'fingerprint off at the gate: system identifiers only');
  }
  if (c.app) ok = (await appCheck(env, c.app, ctx)) && ok;
  return ok ? { ok: true, summary: 'data proven identical' } : fail('the app does not serve the restored data (see the checks)');
};
