import type { SourceLocation } from '../diag/diagnostic.js';
import type { YamlSource, PathSeg } from '../diag/yaml-source.js';
import type { StepKind } from '../targets/kind.js';

/** A step after its kind has been resolved and its config checked. */
export interface StepSpec {
  readonly kind: StepKind;
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
  readonly target: string;
  /** validated target blocks (`local`, ...) by target name */
  readonly targets: Readonly<Record<string, unknown>>;
  readonly layers: readonly LayerSpec[];
  readonly gate: readonly StepSpec[];
  readonly proof: readonly StepSpec[];
  readonly source: YamlSource;
}
