import { join } from 'node:path';
import type { StepContext } from '../../core/step.js';
import { readFreshGate, saveGateFile } from '../../data/gate-store.js';
import { kubernetesTargetName } from './config.js';
import type { KubeTargetSession, PgoGateFact } from './session.js';

const dir = (ctx: StepContext): string => join(ctx.stateDir, kubernetesTargetName, 'gates');
export const gateKey = (namespace: string, cluster: string): string => `${namespace}/${cluster}`;

/** `fact.cluster` is the gate's key (`namespace/cluster`) */
export function savePgoGate(session: KubeTargetSession, ctx: StepContext, fact: PgoGateFact): void {
  session.gates.set(fact.cluster, fact);
  saveGateFile(dir(ctx), fact.cluster, fact);
}

/** The gate of this run or of a run it resumes; an older gate never counts (it is not fresh). */
export function pgoGateOf(session: KubeTargetSession, ctx: StepContext, key: string): PgoGateFact | undefined {
  const gate = session.gates.get(key) ?? readFreshGate<PgoGateFact>(dir(ctx), key, ctx);
  if (gate) session.gates.set(key, gate);
  return gate;
}
