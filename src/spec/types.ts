import type { SourceLocation } from '../diag/diagnostic.js';
import type { YamlSource, PathSeg } from '../diag/yaml-source.js';
import type { StepKind } from '../core/step.js';
import type { Target } from '../core/target.js';

/** A step after its kind has been resolved and its config checked. */
export interface StepSpec {
  readonly kind: StepKind;
  /** the target the kind belongs to: its session is shared by its kinds during a run */
  readonly target: Target;
  /** the kind's name as castle.yaml can always write it (`local.postgres`; generic kinds bare: `run`) */
  readonly qualified: string;
  readonly config: unknown;
  readonly label: string;
  readonly timeoutMs: number | null;
  readonly retries: number;
  readonly retryOn: readonly string[];
  readonly backoffMs: number;
  readonly location: SourceLocation;
  readonly path: readonly PathSeg[];
}

export interface LayerSpec {
  readonly name: string;
  readonly description: string | undefined;
  readonly dependsOn: readonly string[];
  /** the target bare step names of this layer refer to */
  readonly target: string;
  readonly apply: readonly StepSpec[];
  readonly destroy: readonly StepSpec[];
  readonly location: SourceLocation;
}

/** A validated castle.yaml: the only thing the planner accepts. */
export interface CastleSpec {
  readonly name: string;
  readonly description: string | undefined;
  readonly file: string;
  readonly dir: string;
  readonly stateDir: string;
  readonly budgetMs: number | null;
  readonly concurrency: number;
  readonly killGraceMs: number;
  /** the castle's selected target: bare step names refer to its kinds unless a layer selects another */
  readonly target: string;
  /** validated target blocks (`local`, ...) by target name */
  readonly targets: Readonly<Record<string, unknown>>;
  /** the targets this castle uses (a block or a step of theirs), in registry order */
  readonly uses: readonly Target[];
  readonly layers: readonly LayerSpec[];
  readonly gate: readonly StepSpec[];
  readonly proof: readonly StepSpec[];
  readonly source: YamlSource;
}
