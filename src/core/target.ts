import type { LockInfo } from '../events.js';
import type { Diagnostic, SourceLocation } from '../diag/diagnostic.js';
import type { Result } from './result.js';
import type { StepCheckContext, StepContext, StepKind } from './step.js';

/**
 * A target: one folder under src/targets that plugs in. Its castle.yaml block (named after it:
 * `local:`, `proxmox:`), its step kinds, the manifests it applies, what `castle plan` shows of it,
 * the checks it runs before anything starts, and the per-run session its kinds share.
 *
 * `C` is the validated block (undefined when the castle has none), `S` the session.
 */
export interface Target<C = any, S = any> {
  readonly name: string;
  readonly description: string;
  /** the castle.yaml block named after the target; without it the target takes no block */
  readonly block?: {
    /** JSON Schema of the block */
    readonly schema: object;
    /** the target's kinds cannot run without the block: a castle using them without it is refused at load */
    readonly required?: boolean;
    /** pure checks beyond the schema (no I/O), e.g. a memory budget against declared hosts */
    check?(config: C, ctx: StepCheckContext): Diagnostic[];
  };
  /** step kinds, named inside the target */
  readonly kinds: readonly StepKind<any, S>[];
  /** manifests (absolute paths, files or directories) this target applies beyond its steps' own: `castle validate` and the preflight check them */
  manifests?(config: C | undefined, castleDir: string): string[];
  /**
   * Files of the target's own formats the block names (Talos machine-config patches), checked against
   * their schema: `castle validate` reports these beside the manifests, and the preflight refuses errors.
   */
  checkFiles?(config: C | undefined, castleDir: string): Diagnostic[];
  /** lines for `castle plan` (machines, budgets): pure, from the block alone */
  describe?(config: C | undefined, castleDir: string): string[];
  /**
   * Checks with I/O that must pass before a run touches anything (a port held by another process, a
   * host's memory): errors stop `up`/`down`/`rebirth` with exit 2 before the first step. Run only for
   * targets whose kinds the plan uses.
   */
  preflight?(config: C | undefined, ctx: PreflightContext): Promise<Diagnostic[]>;
  /** the per-run session, opened on the first step of this target in a run and closed when the run ends */
  readonly session?: SessionFactory<C, S>;
}

export interface PreflightContext {
  readonly castleDir: string;
  readonly stateDir: string;
  readonly castleName: string;
  readonly operation: 'up' | 'down' | 'rebirth';
  readonly signal: AbortSignal;
  /** this target's steps in the plan: kind name inside the target, validated config, where castle.yaml sets it */
  readonly steps: readonly { readonly kind: string; readonly config: unknown; readonly location: SourceLocation }[];
  /** the run holding the lock of the castle whose run state is in `stateDir` (this one or another checkout's), unless its holder is known gone */
  lockHolder(stateDir: string): LockInfo | undefined;
}

export interface SessionFactory<C, S> {
  /**
   * Opens the session for this run. `ctx` is the context of the step that needs it first: its log, its
   * signal (for the opening only), `resumes` to pick up what an interrupted run recorded in the state dir.
   * A failure fails that step (and the next step of the target tries to open it again).
   */
  open(config: C | undefined, ctx: StepContext): Promise<Result<S>>;
  /** releases what the session holds (connections, temp files); called once when the run ends, whatever its outcome */
  close?(session: S): Promise<void>;
}

/** The kinds every castle has whatever its target (`run`, `waitFor`, `noop`) belong to this target. */
export const GENERIC_TARGET = 'generic';
