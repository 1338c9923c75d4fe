import { ok } from '../../core/result.js';
import type { Result } from '../../core/result.js';
import type { SessionFactory } from '../../core/target.js';
import type { GateRecord } from '../../data/rebirth.js';
import type { KubernetesBlock, KubeSession, openKube } from './client.js';

/** A PGO backup gate taken in this run (or in the run it resumes). */
export type PgoGateFact = { readonly runId: string; readonly cluster: string; readonly gate: GateRecord };

/**
 * What the kubernetes target's steps share in a run. The connection is opened by the first step that
 * needs it: a destroy whose cluster is gone (no kubeconfig, nothing answering) must still run and skip.
 */
export class KubeTargetSession {
  #kube: Result<KubeSession> | undefined;
  readonly gates = new Map<string, PgoGateFact>();
  constructor(
    readonly block: KubernetesBlock | undefined,
    readonly castleDir: string,
    readonly stateDir: string,
    private readonly open: typeof openKube,
  ) {}

  kube(): Result<KubeSession> {
    if (!this.#kube?.ok) this.#kube = this.open(this.block, this.castleDir, this.stateDir);
    return this.#kube;
  }
}

export const kubeSession: SessionFactory<KubernetesBlock, KubeTargetSession> = {
  // the Kubernetes client (~700 modules) is loaded by a castle that has a step of this target, not by every command
  open: async (config, ctx) => ok(new KubeTargetSession(config, ctx.castleDir, ctx.stateDir, (await import('./client.js')).openKube)),
};
