import { withClient } from '../../../data/postgres.js';
import { proveCastle } from '../../../data/rebirth.js';
import type { StepContext, StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import type { ProofConfig } from '../kind-specs.js';
import { fail, localEnv, opOptions, type LocalEnv } from '../env.js';
import { gateOf } from '../gate-record.js';


async function appCheck(env: LocalEnv, app: NonNullable<ProofConfig['app']>, ctx: StepContext): Promise<boolean> {
  let expected: string;
  try {
    expected = await withClient(env.data.cluster, app.database, async (db) => String(Object.values((await db.query(app.query)).rows[0] ?? {})[0] ?? ''));
  } catch (err) {
    ctx.check('app serves the data', false, `the query for the expected value failed: ${(err as Error).message}`);
    return false;
  }
  if (!expected) {
    ctx.check('app serves the data', false, `the query returned nothing to look for: ${app.query}`);
    return false;
  }
  try {
    const res = await fetch(app.url, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)]) });
    const body = await res.text();
    const esc = expected.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const found = res.ok && (body.includes(expected) || body.includes(esc));
    ctx.check('app serves the data', found, found ? `GET ${app.url}: ${res.status}, shows "${expected}" from the database` : `GET ${app.url}: ${res.status}, "${expected}" not in the page`);
    return found;
  } catch (err) {
    ctx.check('app serves the data', false, `GET ${app.url}: ${(err as Error).message}`);
    return false;
  }
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
        `${r.value.fingerprint.tables.length} tables, ${rows} rows in ${r.value.fingerprint.databases.length} databases match the gate, including writes after backup ${gate.gate.backup.label} (WAL through ${gate.gate.flushedSegment})`,
      );
    } else ctx.check('data identical', true, 'fingerprint off at the gate: system identifiers only');
  }
  if (c.app) ok = (await appCheck(env, c.app, ctx)) && ok;
  return ok ? { ok: true, summary: 'data proven identical' } : fail('the app does not serve the restored data (see the checks)');
};
