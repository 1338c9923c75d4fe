import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StepContext } from '../../core/step.js';
import { kubernetesTargetName } from './config.js';
import type { KubeTargetSession, PgoGateFact } from './session.js';

const dir = (ctx: StepContext): string => join(ctx.stateDir, kubernetesTargetName, 'gates');
const file = (ctx: StepContext, key: string): string => join(dir(ctx), `${key.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
export const gateKey = (namespace: string, cluster: string): string => `${namespace}/${cluster}`;

export function savePgoGate(session: KubeTargetSession, ctx: StepContext, fact: PgoGateFact): void {
  session.gates.set(fact.cluster, fact);
  mkdirSync(dir(ctx), { recursive: true });
  const f = file(ctx, fact.cluster);
  writeFileSync(`${f}.tmp`, JSON.stringify(fact, null, 2), { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}

/** The gate of this run or of a run it resumes; an older gate never counts (it is not fresh). */
export function pgoGateOf(session: KubeTargetSession, ctx: StepContext, key: string): PgoGateFact | undefined {
  const inRun = session.gates.get(key);
  if (inRun) return inRun;
  const f = file(ctx, key);
  if (!existsSync(f)) return undefined;
  const saved = JSON.parse(readFileSync(f, 'utf8')) as PgoGateFact;
  if (saved.runId !== ctx.runId && !ctx.resumes.includes(saved.runId)) return undefined;
  session.gates.set(key, saved);
  return saved;
}
