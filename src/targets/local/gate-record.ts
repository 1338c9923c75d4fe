import { join } from 'node:path';
import { readFreshGate, saveGateFile } from '../../data/gate-store.js';
import type { GateRecord } from '../../data/rebirth.js';
import type { StepContext } from '../../core/step.js';
import type { LocalSession } from './session.js';
import { localTargetName } from './config.js';

/** What the gate of this run established: a verified backup (or that there was no data to back up). */
export type GateFact = { readonly runId: string; readonly cluster: string } & ({ readonly empty: true } | { readonly empty: false; readonly gate: GateRecord });

const gatesDir = (ctx: StepContext): string => join(ctx.stateDir, localTargetName, 'gates');

export function saveGate(session: LocalSession, ctx: StepContext, fact: GateFact): void {
  session.gates.set(fact.cluster, fact);
  saveGateFile(gatesDir(ctx), fact.cluster, fact);
}

/**
 * The gate of this run, or of the run it resumes (a resumed rebirth does not back up twice). A gate
 * of any other run never authorises a wipe: it is not fresh.
 */
export function gateOf(session: LocalSession, ctx: StepContext, cluster: string): GateFact | undefined {
  const gate = session.gates.get(cluster) ?? readFreshGate<GateFact>(gatesDir(ctx), cluster, ctx);
  if (gate) session.gates.set(cluster, gate);
  return gate;
}
