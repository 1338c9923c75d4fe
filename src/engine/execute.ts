import type { CastleEvent, RunStatus, StepStatus } from '../events.js';
import type { Plan, PlannedStep } from '../plan/plan.js';
import type { Result } from '../core/result.js';
import type { RunState, StepContext, StepResult } from '../core/step.js';
import type { Target } from '../core/target.js';
import type { Redactor } from './redact.js';
import type { StepLogs } from './step-log.js';
import { sleep } from '../os/sleep.js';

export interface StepRecord {
  readonly status: StepStatus;
  readonly attempts: number;
  readonly durationMs: number;
  readonly reason?: string;
}

export interface ExecuteOptions {
  readonly runId: string;
  readonly runDir: string;
  readonly concurrency: number;
  readonly failFast: boolean;
  /** aborted on SIGINT/SIGTERM */
  readonly signal: AbortSignal;
  readonly emit: (ev: CastleEvent) => void;
  readonly redactor: Redactor;
  readonly logs: StepLogs;
  /** the runs this run resumes, newest first (their recorded state, e.g. a backup gate, still counts) */
  readonly resumes: readonly string[];
  /** the castle's run state, as steps read it */
  readonly runs: RunState;
  /** steps that succeeded in the run being resumed */
  readonly alreadySucceeded?: ReadonlySet<string>;
  readonly resumeOf?: string;
}

export interface ExecuteResult {
  readonly status: RunStatus;
  readonly steps: ReadonlyMap<string, StepRecord>;
  readonly reason?: string;
}

const MAX_BACKOFF_MS = 60_000;

function matchesRetry(patterns: readonly string[], timedOut: boolean, text: string): boolean {
  if (patterns.length === 0) return true;
  const lower = text.toLowerCase();
  return patterns.some((p) => (p.toLowerCase() === 'timeout' ? timedOut : lower.includes(p.toLowerCase())));
}

/**
 * Hands the run's cancellation (interrupt, fail-fast) to every running step's controller: one listener
 * per source for the whole run rather than one per step, since EventTarget listeners are not cheap.
 */
class StepCancellation {
  readonly #live = new Set<AbortController>();
  readonly #detach: (() => void)[] = [];
  #reason: { readonly why: unknown } | undefined;

  constructor(sources: readonly AbortSignal[]) {
    for (const s of sources) {
      if (s.aborted) this.#abortAll(s.reason);
      else {
        const on = (): void => this.#abortAll(s.reason);
        s.addEventListener('abort', on, { once: true });
        this.#detach.push(() => s.removeEventListener('abort', on));
      }
    }
  }

  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  open(): AbortController {
    const ac = new AbortController();
    if (this.#reason !== undefined) ac.abort(this.#reason.why);
    else this.#live.add(ac);
    return ac;
  }

  close(ac: AbortController): void {
    this.#live.delete(ac);
  }

  dispose(): void {
    for (const d of this.#detach) d();
    this.#detach.length = 0;
  }

  #abortAll(why: unknown): void {
    this.#reason ??= { why };
    for (const ac of this.#live) ac.abort(this.#reason.why);
    this.#live.clear();
  }
}

/**
 * The targets' per-run sessions: each opened by the first step of its target that runs (a failed
 * opening fails that step, and the next step tries again), all closed when the run ends.
 */
class Sessions {
  readonly #open = new Map<Target, Promise<Result<unknown>>>();

  get(target: Target, config: unknown, ctx: StepContext): Promise<Result<unknown>> {
    const factory = target.session;
    if (!factory) return Promise.resolve({ ok: true, value: undefined });
    let p = this.#open.get(target);
    if (!p) {
      p = factory.open(config, ctx);
      this.#open.set(target, p);
      p.then(
        (r) => {
          if (!r.ok) this.#open.delete(target);
        },
        () => this.#open.delete(target),
      );
    }
    return p;
  }

  /** closes every session that opened; a failing close is reported, never thrown */
  async close(warn: (message: string) => void): Promise<void> {
    for (const [target, p] of this.#open) {
      const r = await p.catch(() => undefined);
      if (!r?.ok || !target.session?.close) continue;
      try {
        await target.session.close(r.value);
      } catch (err) {
        warn(`the ${target.name} target's session did not close cleanly: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    this.#open.clear();
  }
}

/** Runs a validated plan: a bounded worker pool over the DAG, retries, timeouts, cancellation. */
export async function executePlan(plan: Plan, opts: ExecuteOptions): Promise<ExecuteResult> {
  const sessions = new Sessions();
  try {
    return await executeSteps(plan, opts, sessions);
  } finally {
    await sessions.close((message) => opts.emit({ type: 'warning', message: opts.redactor.redact(message) }));
  }
}

async function executeSteps(plan: Plan, opts: ExecuteOptions, sessions: Sessions): Promise<ExecuteResult> {
  const records = new Map<string, StepRecord>();
  const dependents = new Map<string, PlannedStep[]>();
  const waitingOn = new Map<string, number>();
  for (const s of plan.steps) {
    for (const d of s.deps) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(s);
  }
  const ready: PlannedStep[] = [];
  let readyHead = 0;
  const release = (id: string): void => {
    for (const next of dependents.get(id) ?? []) {
      const left = waitingOn.get(next.id)! - 1;
      waitingOn.set(next.id, left);
      if (left === 0) ready.push(next);
    }
  };
  // Resumed steps count as done without running; what depends on them becomes ready.
  for (const s of plan.steps) {
    if (opts.alreadySucceeded?.has(s.id)) {
      records.set(s.id, { status: 'skipped', attempts: 0, durationMs: 0, reason: `succeeded in run ${opts.resumeOf ?? '?'}` });
      opts.emit({ type: 'step-finished', stepId: s.id, status: 'skipped', attempts: 0, durationMs: 0, reason: `succeeded in run ${opts.resumeOf ?? '?'}` });
    }
  }
  for (const s of plan.steps) {
    if (records.has(s.id)) continue;
    const left = s.deps.filter((d) => !records.has(d)).length;
    waitingOn.set(s.id, left);
    if (left === 0) ready.push(s);
  }

  // Kinds load on their first step. The ones later steps need load one after another behind the first steps' own
  // (never competing with them), while those run (a gate's backup leaves this process idle for seconds), not
  // between two steps of the critical path.
  const preloading = (async () => {
    for (const kind of new Set(plan.steps.filter((s) => !records.has(s.id)).map((s) => s.spec.kind))) await kind.preload?.().catch(() => undefined);
  })();

  const failFast = new AbortController();
  const cancel = new StepCancellation([opts.signal, failFast.signal]);
  let firstFailure: string | undefined;
  const running = new Set<string>();
  // one wake-up per finished step instead of a Promise.race over everything running
  let wake: (() => void) | undefined;
  let bug: { readonly err: unknown } | undefined;

  const runOne = async (step: PlannedStep): Promise<void> => {
    const rec = await runStep(plan, step, opts, cancel, sessions);
    records.set(step.id, rec);
    if (rec.status === 'succeeded') release(step.id);
    else if (firstFailure === undefined && !opts.signal.aborted) {
      firstFailure = `${step.id} ${rec.status}${rec.reason ? `: ${rec.reason}` : ''}`;
      if (opts.failFast) failFast.abort('fail-fast');
    }
  };

  const stopping = (): boolean => opts.signal.aborted || firstFailure !== undefined;
  for (;;) {
    while (!stopping() && bug === undefined && running.size < opts.concurrency && readyHead < ready.length) {
      const step = ready[readyHead++]!;
      running.add(step.id);
      runOne(step).then(
        () => {
          running.delete(step.id);
          wake?.();
        },
        (err: unknown) => {
          running.delete(step.id);
          bug ??= { err };
          // a bug outside any step kind: stop the running steps rather than wait for them
          failFast.abort('internal error');
          wake?.();
        },
      );
    }
    if (running.size === 0) break;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  cancel.dispose();
  await preloading;
  if (bug !== undefined) throw bug.err;

  for (const s of plan.steps) {
    if (records.has(s.id)) continue;
    const why = opts.signal.aborted
      ? 'not started: run interrupted'
      : firstFailure
        ? `not started: ${firstFailure.split(' ')[0]} did not succeed`
        : 'not started';
    records.set(s.id, { status: 'skipped', attempts: 0, durationMs: 0, reason: why });
    opts.emit({ type: 'step-finished', stepId: s.id, status: 'skipped', attempts: 0, durationMs: 0, reason: why });
  }
  if (opts.signal.aborted) return { status: 'interrupted', steps: records, reason: String(opts.signal.reason ?? 'interrupted') };
  if (firstFailure !== undefined) return { status: 'failed', steps: records, reason: firstFailure };
  return { status: 'succeeded', steps: records };
}

async function runStep(plan: Plan, step: PlannedStep, opts: ExecuteOptions, cancel: StepCancellation, sessions: Sessions): Promise<StepRecord> {
  const spec = step.spec;
  const started = performance.now();
  let attempt = 1;
  for (;;) {
    opts.emit({ type: 'step-started', stepId: step.id, attempt });
    const ac = cancel.open();
    const timer = spec.timeoutMs !== null ? setTimeout(() => ac.abort('timeout'), spec.timeoutMs) : undefined;
    let tail = '';
    const ctx: StepContext = {
      signal: ac.signal,
      castleDir: plan.castle.dir,
      stateDir: plan.castle.stateDir,
      runDir: opts.runDir,
      runId: opts.runId,
      stepId: step.id,
      castleName: plan.castle.name,
      operation: plan.operation,
      resumes: opts.resumes,
      backupSkipped: plan.backupSkipped,
      proofSkipped: plan.proofSkipped,
      log: (text) => {
        tail = (tail + text).slice(-8192);
        opts.logs.write(step.id, text);
      },
      note: (message) => opts.emit({ type: 'step-note', stepId: step.id, message: opts.redactor.redact(message) }),
      check: (name, ok, detail) => opts.emit({ type: 'check', stepId: step.id, name, ok, detail: opts.redactor.redact(detail) }),
      secret: (value) => opts.redactor.add(value),
      killGraceMs: plan.castle.killGraceMs,
      runs: opts.runs,
      section: step.section,
    };
    let result: StepResult;
    let bug = false;
    try {
      const session = await sessions.get(spec.target, plan.castle.targets[spec.target.name], ctx);
      result = session.ok ? await spec.kind.run(spec.config, ctx, session.value) : session;
    } catch (err) {
      // An exception is a bug in a step kind, not an expected failure: say so, keep the stack in the log.
      bug = true;
      const e = err as Error;
      opts.logs.write(step.id, `\n[castle] bug in step kind '${spec.qualified}': ${e?.stack ?? String(err)}\n`);
      result = { ok: false, reason: `bug in step kind '${spec.qualified}': ${e?.message ?? String(err)}`, retryable: false };
    } finally {
      if (timer) clearTimeout(timer);
      cancel.close(ac);
    }
    const aborted = ac.signal.aborted ? String(ac.signal.reason) : undefined;
    const durationMs = performance.now() - started;
    if (result.ok && aborted === undefined) {
      const summary = result.summary ? opts.redactor.redact(result.summary) : undefined;
      opts.emit({ type: 'step-finished', stepId: step.id, status: 'succeeded', attempts: attempt, durationMs, ...(summary ? { summary } : {}) });
      return { status: 'succeeded', attempts: attempt, durationMs };
    }
    const timedOut = aborted === 'timeout';
    const reason = opts.redactor.redact(
      timedOut ? `timed out after ${spec.timeoutMs} ms` : aborted !== undefined ? `cancelled (${aborted})` : result.ok ? 'cancelled' : result.reason,
    );
    const outerAborted = cancel.aborted;
    const canRetry =
      !outerAborted &&
      !bug &&
      attempt <= spec.retries &&
      (result.ok || result.retryable !== false) &&
      matchesRetry(spec.retryOn, timedOut, `${reason}\n${tail}`);
    if (canRetry) {
      const delayMs = Math.min(MAX_BACKOFF_MS, spec.backoffMs * 2 ** (attempt - 1));
      opts.emit({ type: 'step-retrying', stepId: step.id, attempt, delayMs, reason });
      opts.logs.write(step.id, `\n[castle] attempt ${attempt} failed (${reason}); retrying in ${delayMs} ms\n`);
      // the wait ends early on an interrupt or fail-fast, like a running attempt
      const wait = cancel.open();
      await sleep(delayMs, wait.signal);
      cancel.close(wait);
      if (!cancel.aborted) {
        attempt++;
        continue;
      }
    }
    const status: StepStatus = timedOut ? 'timed-out' : aborted !== undefined || cancel.aborted ? 'cancelled' : 'failed';
    opts.emit({ type: 'step-finished', stepId: step.id, status, attempts: attempt, durationMs, reason, ...(bug ? { bug: true } : {}) });
    return { status, attempts: attempt, durationMs, reason };
  }
}
