// One typed union of everything that can happen in a run. The engine emits these; sinks consume them.

export const EVENT_LOG_VERSION = 1;

export type Operation = 'up' | 'down' | 'rebirth';
/** gate: backup gate before a wipe; down: destroy; up: apply; proof: verification after rebirth */
export type Section = 'gate' | 'down' | 'up' | 'proof';

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly runId: string;
  readonly since: string;
  readonly operation: string;
}

export interface PlannedStepInfo {
  readonly id: string;
  readonly layer: string;
  readonly section: Section;
  readonly label: string;
  readonly kind: string;
  readonly deps: readonly string[];
  /** what --resume compares (src/plan/step-hash.ts); absent in the events of older runs */
  readonly hash?: string;
}

export type StepStatus = 'succeeded' | 'failed' | 'timed-out' | 'cancelled' | 'skipped';
export type RunStatus = 'succeeded' | 'failed' | 'interrupted';

export interface PhaseTiming {
  /** `gate`, `proof`, or `<section>/<layer>` */
  readonly phase: string;
  readonly startMs: number;
  readonly durationMs: number;
}

export type CastleEvent =
  | {
      readonly type: 'run-started';
      readonly castle: string;
      readonly file: string;
      readonly operation: Operation;
      readonly budgetMs: number | null;
      readonly pid: number;
      readonly host: string;
      readonly resumeOf: string | null;
      readonly concurrency: number;
      readonly steps: readonly PlannedStepInfo[];
    }
  | { readonly type: 'lock-taken-over'; readonly previous: LockInfo; readonly reason: string }
  | { readonly type: 'step-started'; readonly stepId: string; readonly attempt: number }
  | {
      readonly type: 'step-retrying';
      readonly stepId: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  | {
      readonly type: 'step-finished';
      readonly stepId: string;
      readonly status: StepStatus;
      readonly attempts: number;
      readonly durationMs: number;
      readonly reason?: string;
      /** true when the step threw: a bug, not an expected failure */
      readonly bug?: boolean;
      readonly summary?: string;
    }
  | { readonly type: 'step-note'; readonly stepId: string; readonly message: string }
  | { readonly type: 'check'; readonly stepId: string; readonly name: string; readonly ok: boolean; readonly detail: string }
  | { readonly type: 'signal'; readonly signal: string; readonly action: string }
  | { readonly type: 'warning'; readonly message: string }
  | {
      readonly type: 'run-finished';
      readonly status: RunStatus;
      readonly durationMs: number;
      readonly budgetMs: number | null;
      readonly phases: readonly PhaseTiming[];
      readonly criticalPath: readonly string[];
      readonly reason?: string;
    };

/** What is written to the JSONL log and streamed by `--json`. */
export type EventEnvelope = CastleEvent & { readonly v: number; readonly seq: number; readonly ts: string; readonly runId: string };

export interface EventSink {
  handle(ev: EventEnvelope): void;
  /** flush and release; called once after run-finished */
  close?(): Promise<void> | void;
}

export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`);
}
