import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GateRecord } from '../../data/rebirth.js';
import type { StepContext } from '../kind.js';

/** What the gate of this run established: a verified backup (or that there was no data to back up). */
export type GateFact = { readonly runId: string; readonly cluster: string } & ({ readonly empty: true } | { readonly empty: false; readonly gate: GateRecord });

const file = (ctx: StepContext, cluster: string): string => join(ctx.stateDir, 'local', 'gates', `${cluster}.json`);

export function saveGate(ctx: StepContext, fact: GateFact): void {
  ctx.facts.set(`local:gate:${fact.cluster}`, fact);
  const f = file(ctx, fact.cluster);
  mkdirSync(join(ctx.stateDir, 'local', 'gates'), { recursive: true });
  writeFileSync(`${f}.tmp`, JSON.stringify(fact, null, 2));
  renameSync(`${f}.tmp`, f);
}

/**
 * The gate of this run, or of the run it resumes (a resumed rebirth does not back up twice). A gate
 * of any other run never authorises a wipe: it is not fresh.
 */
export function gateOf(ctx: StepContext, cluster: string): GateFact | undefined {
  const inRun = ctx.facts.get(`local:gate:${cluster}`) as GateFact | undefined;
  if (inRun) return inRun;
  const f = file(ctx, cluster);
  if (!existsSync(f)) return undefined;
  const saved = JSON.parse(readFileSync(f, 'utf8')) as GateFact;
  const resumed = ctx.facts.get('castle:resumeOf') as readonly string[] | undefined;
  return saved.runId === ctx.runId || resumed?.includes(saved.runId) ? saved : undefined;
}
