import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { withClient } from '../../../data/postgres.js';
import type { StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import { fail, localEnv } from '../env.js';

/** Runs a SQL file on a database of the cluster as the superuser (seed data, migrations): make it idempotent. */
export const run: StepKind<{ database: string; file: string }, LocalSession>['run'] = async (c, ctx, session) => {
  const env = await localEnv(session, ctx);
  if ('ok' in env) return env;
  const file = resolve(ctx.castleDir, c.file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return fail(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    await withClient(env.data.cluster, c.database, (db) => db.query(text));
  } catch (err) {
    return fail(`${c.file} on ${c.database}: ${(err as Error).message}`);
  }
  return { ok: true, summary: `${c.file} applied to ${c.database}` };
};
