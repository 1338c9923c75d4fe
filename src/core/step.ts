import type { Diagnostic, SourceLocation } from '../diag/diagnostic.js';
import type { Operation } from '../events.js';
import type { Failure } from './result.js';

/** What a step can see and use while it runs. Everything the engine knows that a step may need is a typed field here. */
export interface StepContext {
  /** aborted on SIGINT/SIGTERM, on --fail-fast after another step failed, or on this step's timeout */
  readonly signal: AbortSignal;
  /** directory of castle.yaml: relative paths in configs are resolved against it */
  readonly castleDir: string;
  /** state directory of the castle (`.castle/` by default): targets keep their own files under it */
  readonly stateDir: string;
  /** this run's folder inside stateDir; made while the first steps start: mkdir it (recursive) before writing there */
  readonly runDir: string;
  readonly runId: string;
  readonly stepId: string;
  /** the castle's name (safe to use in paths and process titles) */
  readonly castleName: string;
  /** the operation of this run */
  readonly operation: Operation;
  /** which list the step is in: `up` (apply), `down` (destroy), `gate` or `proof` */
  readonly section: 'gate' | 'down' | 'up' | 'proof';
  /** the runs this run resumes (`--resume`), newest first: what they recorded (e.g. a backup gate) still counts */
  readonly resumes: readonly string[];
  /** the gate was dropped on purpose (`--no-backup --i-accept-data-loss`): a wipe goes on without one */
  readonly backupSkipped: boolean;
  /** the rebirth runs without its proof (`--no-proof`): nothing needs to be recorded for it */
  readonly proofSkipped: boolean;
  /** the castle's runs as its run state records them: which run still lives, which runs did what */
  readonly runs: RunState;
  /** grace period between SIGTERM and SIGKILL when a step's processes must stop */
  readonly killGraceMs: number;
  /** appends to this step's log file; secrets registered with `secret()` are redacted */
  log(text: string): void;
  /** a progress note shown in the live view and recorded as an event */
  note(message: string): void;
  /** a named check with its outcome (the proof after a rebirth reports one per check) */
  check(name: string, ok: boolean, detail: string): void;
  /** registers a secret value: it is masked in logs, events, reports and error messages */
  secret(value: string): void;
}

/** A run of this castle as its run state records it (a run killed without finishing reads as interrupted). */
export interface RunRecord {
  readonly runId: string;
  readonly operation: Operation;
  readonly status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  readonly startedAt: string;
  /** each step's outcome, by step id (`down/<layer>/<index>`) */
  readonly steps: Readonly<Record<string, { readonly status: string }>>;
}

/** Whether a run still runs: `unknown` when it cannot be told from here (its lock is held on another host, or it is no run of this castle). */
export type RunLiveness = { readonly state: 'alive' | 'gone' | 'unknown'; readonly why: string };

/** What the engine knows of the castle's runs, read from its run state. */
export interface RunState {
  /** a run is alive only while it holds the castle's lock with a live process (one run per castle at a time) */
  liveness(runId: string): RunLiveness;
  /** every run of the castle, oldest first */
  runs(): readonly RunRecord[];
}

/** An expected failure is a value. `retryable` lets the kind say a retry cannot help (e.g. bad credentials). */
export type StepResult = { readonly ok: true; readonly summary?: string } | Failure;

export interface StepCheckContext {
  /** where the step's kind key (or a path under it) sits in castle.yaml */
  locate(path: readonly (string | number)[]): SourceLocation;
  readonly castleDir: string;
}

/**
 * A step kind, provided by a target. `C` is the parsed config: the value under the kind's key merged
 * with the kind's sibling properties (for `run`: `{run, cwd, env}`). `S` is the target's per-run
 * session, opened before the first step of the target runs and shared by all its kinds.
 */
export interface StepKind<C = any, S = any> {
  /** the name inside its target (`postgres`); castle.yaml writes `local.postgres`, or `postgres` where `local` is the selected target */
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the value under the kind's key */
  readonly schema: object;
  /** JSON Schema properties allowed beside the kind's key (besides the common step fields) */
  readonly siblings?: Readonly<Record<string, object>>;
  /** destroying a layer with such a step loses data: a rebirth needs a backup gate first */
  readonly holdsData?: boolean;
  /** a step of this kind proves a fresh, verified backup exists */
  readonly backupGate?: boolean;
  /** pure, static checks beyond the schema (no I/O) */
  check?(config: C, ctx: StepCheckContext): Diagnostic[];
  /** Kubernetes-style manifests (paths relative to castle.yaml) this step applies: `castle validate` and the preflight check them */
  manifests?(config: C): string[];
  /** a one-line label for the live view, e.g. the command */
  label?(config: C): string;
  run(config: C, ctx: StepContext, session: S): Promise<StepResult>;
  /** loads what `run` needs ahead of the first step (a lazy kind's module); the engine calls it while earlier steps run */
  preload?(): Promise<void>;
}

/**
 * A kind whose description is loaded with the castle and whose `run` is loaded on its first step: a castle
 * of `run` steps never loads the S3, PostgreSQL or Kubernetes clients (a smaller process also forks faster).
 */
export function lazyKind<C, S>(spec: Omit<StepKind<C, S>, 'run'>, load: () => Promise<{ run: StepKind<C, S>['run'] }>): StepKind<C, S> {
  let run: Promise<StepKind<C, S>['run']> | undefined;
  const loaded = (): Promise<StepKind<C, S>['run']> => (run ??= load().then((m) => m.run));
  return {
    ...spec,
    run: async (config, ctx, session) => (await loaded())(config, ctx, session),
    preload: async () => void (await loaded()),
  };
}
