import { closeSync, open, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { EventEnvelope, EventSink, LockInfo, RunStatus } from '../events.js';
import { stepInfo, type Plan } from '../plan/plan.js';
import { stepHashes } from '../plan/step-hash.js';
import { EventBus } from './bus.js';
import { executePlan } from './execute.js';
import { doneSteps, type RunSummary } from './history.js';
import { acquireLock } from './lock.js';
import { castleRunState } from './run-state.js';
import { Redactor } from './redact.js';
import { resumeDecision, type ResumeFrom } from './resume.js';
import { eventsFile, newRunId, runDir, summaryFile } from './run-dir.js';
import { StepLogs } from './step-log.js';
import { finishTimings } from './timing.js';
import { writeAllSync } from './write-all.js';

export interface RunRequest {
  readonly plan: Plan;
  readonly runId?: string;
  readonly concurrency?: number;
  readonly failFast?: boolean;
  readonly sinks: readonly EventSink[];
  readonly signal: AbortSignal;
  readonly redactor?: Redactor;
  readonly resume?: ResumeFrom;
  readonly detached?: boolean;
  readonly argv?: readonly string[];
}

export type RunOutcome =
  | { readonly state: 'refused'; readonly holder: LockInfo }
  | {
      readonly state: 'finished';
      readonly runId: string;
      readonly runDir: string;
      readonly status: RunStatus;
      readonly reason?: string;
      readonly durationMs: number;
      readonly events: readonly EventEnvelope[];
    };

/** The first summary is written beside the steps starting: only status and detach watchers read it. */
async function writeSummaryAsync(dir: string, s: RunSummary): Promise<void> {
  const file = summaryFile(dir);
  await writeFile(`${file}.tmp`, JSON.stringify(s, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

/**
 * Opens the last summary's temp file while the steps run: creating a file costs more than writing
 * it (0.3 ms on some disks), and the last summary is on the run's critical path.
 */
function openFinalSummary(dir: string): Promise<number | undefined> {
  return new Promise((resolve) => open(`${summaryFile(dir)}.tmp`, 'w', 0o644, (err, fd) => resolve(err ? undefined : fd)));
}

/** The last one is written with nothing left to overlap: directly, without the thread pool's round trips. */
function writeSummary(dir: string, s: RunSummary, fd: number | undefined): void {
  const file = summaryFile(dir);
  const text = JSON.stringify(s, null, 2) + '\n';
  if (fd === undefined) writeFileSync(`${file}.tmp`, text);
  else {
    try {
      writeAllSync(fd, text);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(`${file}.tmp`, file);
}

/** One run of a plan: lock, run folder, event log, execution, summary, unlock. */
export async function runCastle(req: RunRequest): Promise<RunOutcome> {
  const { plan } = req;
  const castle = plan.castle;
  const runId = req.runId ?? newRunId(plan.operation);
  const lock = acquireLock(castle.stateDir, { runId, operation: plan.operation });
  if (lock.state === 'held') return { state: 'refused', holder: lock.holder };
  const dir = runDir(castle.stateDir, runId);
  const redactor = req.redactor ?? new Redactor();
  let bus: EventBus | undefined;
  const logs = new StepLogs(dir, redactor, (stepId, file, message) =>
    bus?.emit({ type: 'warning', message: `the log of step ${stepId} (${file}) could not be written (${message}): castle logs will miss its output` }),
  );
  let first: Promise<void> | undefined;
  let finalFd: Promise<number | undefined> | undefined;
  let last: RunSummary | undefined;
  // Stops the steps on the caller's signal, or when the run's folder cannot be made (nothing could be recorded).
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(req.signal.reason);
  try {
    // made beside the first steps: a new folder costs 0.3 ms on some disks, and everything that writes
    // into it waits for it (the event log, the summary) or makes it itself (step logs)
    const folder = mkdir(dir, { recursive: true });
    folder.catch((err: Error) => stop.abort(`the run's folder ${dir} could not be made: ${err.message}`));
    const startedAt = new Date();
    const concurrency = req.concurrency ?? castle.concurrency;
    const hashes = stepHashes(plan);
    const resumed = req.resume ? resumeDecision(plan, hashes, req.resume) : undefined;
    const base: Omit<RunSummary, 'status' | 'finishedAt' | 'durationMs' | 'steps' | 'succeeded'> = {
      version: 1,
      runId,
      castle: castle.name,
      operation: plan.operation,
      startedAt: startedAt.toISOString(),
      budgetMs: castle.budgetMs,
      pid: process.pid,
      host: hostname(),
      detached: req.detached ?? false,
      resumeOf: req.resume?.runId ?? null,
      argv: req.argv ?? [],
      hashes: Object.fromEntries(hashes),
    };
    first = folder.then(() => writeSummaryAsync(dir, { ...base, status: 'running', finishedAt: null, durationMs: null, steps: {}, succeeded: [] }));
    finalFd = first.then(
      () => openFinalSummary(dir),
      () => undefined,
    );
    bus = new EventBus(runId, redactor, req.sinks, eventsFile(dir), folder);
    const b = bus;
    b.emit({
      type: 'run-started',
      castle: castle.name,
      file: castle.file,
      operation: plan.operation,
      budgetMs: castle.budgetMs,
      pid: process.pid,
      host: hostname(),
      resumeOf: req.resume?.runId ?? null,
      concurrency,
      steps: plan.steps.map((s) => ({ ...stepInfo(s), hash: hashes.get(s.id)! })),
    });
    if (lock.takenOver) b.emit({ type: 'lock-taken-over', previous: lock.takenOver.previous, reason: lock.takenOver.reason });
    for (const c of resumed?.changed ?? [])
      b.emit({ type: 'warning', message: `step ${c.stepId} runs again although run ${req.resume!.runId} did it: ${c.why}` });
    if (plan.backupSkipped)
      b.emit({ type: 'warning', message: 'backup gate skipped (--no-backup --i-accept-data-loss): data written since the last backup will be lost' });
    const onStop = (): void => {
      const why = stop.signal.reason;
      if (req.signal.aborted)
        b.emit({ type: 'signal', signal: String(why ?? 'abort'), action: `stopping: running steps get SIGTERM, then SIGKILL after ${castle.killGraceMs} ms` });
      else b.emit({ type: 'warning', message: `stopping: ${String(why)}` });
    };
    if (stop.signal.aborted) onStop();
    else stop.signal.addEventListener('abort', onStop, { once: true });
    if (req.signal.aborted) onAbort();
    else req.signal.addEventListener('abort', onAbort, { once: true });
    const t0 = performance.now();
    const result = await executePlan(plan, {
      runId,
      runDir: dir,
      concurrency,
      failFast: req.failFast ?? false,
      signal: stop.signal,
      emit: (ev) => b.emit(ev),
      redactor,
      logs,
      runs: castleRunState(castle.stateDir),
      resumes: req.resume ? [req.resume.runId, ...(req.resume.chain ?? [])] : [],
      alreadySucceeded: resumed?.skip ?? new Set<string>(),
      ...(req.resume ? { resumeOf: req.resume.runId } : {}),
    });
    stop.signal.removeEventListener('abort', onStop);
    const durationMs = performance.now() - t0;
    if (b.logError !== undefined)
      b.emit({
        type: 'warning',
        message: `the run's event log ${eventsFile(dir)} could not be written (${b.logError}): castle logs and report will miss events`,
      });
    const deps = new Map(plan.steps.map((s) => [s.id, s.deps]));
    b.emit({
      type: 'run-finished',
      status: result.status,
      durationMs,
      budgetMs: castle.budgetMs,
      ...finishTimings(b.events, deps),
      ...(result.reason ? { reason: redactor.redact(result.reason) } : {}),
    });
    const steps = Object.fromEntries([...result.steps].map(([id, r]) => [id, { ...r }]));
    const succeeded = doneSteps(result.steps, resumed?.skip ?? new Set<string>());
    await first;
    // written once the logs are closed, so a reader that sees the run finished finds its logs complete
    last = {
      ...base,
      status: result.status,
      finishedAt: new Date().toISOString(),
      durationMs,
      steps,
      succeeded,
      ...(result.reason ? { reason: redactor.redact(result.reason) } : {}),
    };
    return {
      state: 'finished',
      runId,
      runDir: dir,
      status: result.status,
      durationMs,
      events: b.events,
      ...(result.reason ? { reason: redactor.redact(result.reason) } : {}),
    };
  } finally {
    req.signal.removeEventListener('abort', onAbort);
    try {
      // every close is waited for, and the summary written, even when one of them fails
      const closed = await Promise.allSettled([first ?? Promise.resolve(), logs.close(), bus?.close() ?? Promise.resolve()]);
      const fd = await finalFd;
      if (last) writeSummary(dir, last, fd);
      else if (fd !== undefined) closeSync(fd);
      const failed = closed.slice(1).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      lock.release();
    }
  }
}
