import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GateRecord } from '../../data/rebirth.js';
import type { StepContext } from '../../core/step.js';
import type { LocalSession } from './session.js';
import { localTargetName } from './config.js';

/** What the gate of this run established: a verified backup (or that there was no data to back up). */
export type GateFact = { readonly runId: string; readonly cluster: string } & ({ readonly empty: true } | { readonly empty: false; readonly gate: GateRecord });

const gatesDir = (ctx: StepContext): string => join(ctx.stateDir, localTargetName, 'gates');
const file = (ctx: StepContext, cluster: string): string => join(gatesDir(ctx), `${cluster}.json`);

export function saveGate(session: LocalSession, ctx: StepContext, fact: GateFact): void {
  session.gates.set(fact.cluster, fact);
  const f = file(ctx, fact.cluster);
  mkdirSync(gatesDir(ctx), { recursive: true });
  writeFileSync(`${f}.tmp`, JSON.stringify(fact, null, 2));
  renameSync(`${f}.tmp`, f);
}

/**
 * The gate of this run, or of the run it resumes (a resumed rebirth does not back up twice). A gate
 * of any other run never authorises a wipe: it is not fresh.
 */
export function gateOf(session: LocalSession, ctx: StepContext, cluster: string): GateFact | undefined {
  const inRun = session.gates.get(cluster);
  if (inRun) return inRun;
  const f = file(ctx, cluster);
  if (!existsSync(f)) return undefined;
  const saved = JSON.parse(readFileSync(f, 'utf8')) as GateFact;
  if (saved.runId !== ctx.runId && !ctx.resumes.includes(saved.runId)) return undefined;
  session.gates.set(cluster, saved);
  return saved;
}
