import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { EventEnvelope, PlannedStepInfo } from '../events.js';
import { expectedDurations, listRuns, readSummary } from '../engine/history.js';
import { readLockState } from '../engine/lock.js';
import { runDir, stepLogFile } from '../engine/run-dir.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';
import { describe } from '../sinks/plain.js';
import { CliExit, EXIT_INVALID, EXIT_OK } from './common.js';
import { readEvents } from '../engine/events-file.js';
import { pickRun, stateDirOf, type StateFlags } from './state.js';
import { sleep } from '../os/sleep.js';

/** Expected time left: the longest chain of not-yet-finished steps, costed from history. */
function remainingMs(steps: readonly PlannedStepInfo[], done: Set<string>, runningFor: Map<string, number>, expected: Map<string, number>): number | undefined {
  let known = false;
  const finish = new Map<string, number>();
  let max = 0;
  for (const s of steps) {
    const exp = expected.get(s.id);
    if (exp !== undefined) known = true;
    const own = done.has(s.id) ? 0 : Math.max(0, (exp ?? 0) - (runningFor.get(s.id) ?? 0));
    const f = own + Math.max(0, ...s.deps.map((d) => finish.get(d) ?? 0));
    finish.set(s.id, f);
    max = Math.max(max, f);
  }
  return known ? max : undefined;
}

function status(flags: StateFlags): number {
  const stateDir = stateDirOf(flags);
  const held = readLockState(stateDir);
  const runs = listRuns(stateDir);
  // the same judgement as the next run's when it takes the lock over (another host's holder is not judged)
  if (!held || held.stale !== undefined) {
    if (held)
      process.stdout.write(`stale lock: run ${held.holder.runId} (pid ${held.holder.pid} on ${held.holder.host}): ${held.stale}; the next run takes it over\n`);
    const last = runs[runs.length - 1];
    process.stdout.write(
      last
        ? `no run in progress; last run ${last.runId}: ${last.operation} ${last.status}${last.durationMs !== null ? ` in ${formatDuration(last.durationMs)}` : ''}\n`
        : 'no run in progress; no runs yet\n',
    );
    return EXIT_OK;
  }
  const lock = held.holder;
  const dir = runDir(stateDir, lock.runId);
  const events = readEvents(dir);
  const started = events.find((e): e is Extract<EventEnvelope, { type: 'run-started' }> => e.type === 'run-started');
  const now = Date.now();
  const done = new Set<string>();
  const running = new Map<string, number>();
  let failed = 0;
  for (const e of events) {
    if (e.type === 'step-started') running.set(e.stepId, Date.parse(e.ts));
    if (e.type === 'step-finished') {
      running.delete(e.stepId);
      done.add(e.stepId);
      if (e.status === 'failed' || e.status === 'timed-out') failed++;
    }
  }
  const elapsed = started ? now - Date.parse(started.ts) : 0;
  const total = started?.steps.length ?? 0;
  const lines = [
    `run ${lock.runId}: ${lock.operation} in progress (pid ${lock.pid} on ${lock.host}, since ${lock.since})`,
    `  steps: ${done.size}/${total} done, ${running.size} running${failed ? `, ${failed} failed` : ''}`,
    `  elapsed: ${formatDuration(elapsed)}${started?.budgetMs ? ` of budget ${formatDurationCompact(started.budgetMs)}` : ''}`,
  ];
  const runningFor = new Map([...running].map(([id, t]) => [id, now - t]));
  const exp = expectedDurations(runs.filter((r) => r.runId !== lock.runId));
  const left = started ? remainingMs(started.steps, done, runningFor, exp) : undefined;
  lines.push(`  expected remaining: ${left === undefined ? 'unknown (no earlier runs)' : formatDuration(left)}`);
  for (const [id, ms] of runningFor) lines.push(`  running: ${id} (${formatDuration(ms)})`);
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}

function runs(flags: StateFlags & { json?: boolean }): number {
  const list = listRuns(stateDirOf(flags));
  if (flags.json) {
    process.stdout.write(
      JSON.stringify(
        list.map(({ steps: _s, ...r }) => r),
        null,
        2,
      ) + '\n',
    );
    return EXIT_OK;
  }
  if (list.length === 0) {
    process.stdout.write('no runs yet\n');
    return EXIT_OK;
  }
  const rows = list.map((r) => [
    r.runId,
    r.operation,
    r.status,
    r.startedAt.replace('T', ' ').slice(0, 19),
    r.durationMs === null ? '-' : formatDuration(r.durationMs),
    r.budgetMs === null
      ? '-'
      : r.durationMs !== null && r.durationMs > r.budgetMs
        ? `over ${formatDurationCompact(r.budgetMs)}`
        : `within ${formatDurationCompact(r.budgetMs)}`,
  ]);
  const head = ['RUN', 'OPERATION', 'STATUS', 'STARTED (UTC)', 'DURATION', 'BUDGET'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write([fmt(head), ...rows.map(fmt)].join('\n') + '\n');
  return EXIT_OK;
}

async function logs(runArg: string | undefined, flags: StateFlags & { follow?: boolean; step?: string }): Promise<number> {
  const stateDir = stateDirOf(flags);
  const run = pickRun(stateDir, runArg);
  const dir = runDir(stateDir, run.runId);
  // a run whose process died reads as interrupted (history), so this also ends a follow of a killed run
  const finished = (): boolean => readSummary(stateDir, run.runId)?.status !== 'running';
  if (flags.step) {
    const file = stepLogFile(dir, flags.step);
    const events = readEvents(dir);
    const started = events.find((e) => e.type === 'run-started');
    const known = started?.type === 'run-started' ? started.steps.map((s) => s.id) : [];
    if (!known.includes(flags.step)) throw new CliExit(EXIT_INVALID, `run ${run.runId} has no step '${flags.step}'; steps: ${known.join(', ')}`);
    let offset = 0;
    for (;;) {
      if (existsSync(file)) {
        const buf = readFileSync(file);
        if (buf.length > offset) {
          process.stdout.write(buf.subarray(offset));
          offset = buf.length;
        }
      }
      if (!flags.follow || finished()) break;
      await sleep(200);
    }
    return EXIT_OK;
  }
  let printed = 0;
  for (;;) {
    const events = readEvents(dir);
    for (const ev of events.slice(printed)) process.stdout.write(`${ev.ts} ${describe(ev)}\n`);
    printed = events.length;
    if (!flags.follow || events.some((e) => e.type === 'run-finished') || finished()) break;
    await sleep(200);
  }
  return EXIT_OK;
}

export function registerInspectCommands(program: Command): void {
  const base = (c: Command): Command => c.option('-f, --file <path>', 'castle file', 'castle.yaml').option('--state-dir <dir>', 'run state directory');
  base(program.command('status').description('what is running now: steps done/running, elapsed, expected remaining')).action((o: StateFlags) => {
    process.exitCode = status(o);
  });
  base(program.command('runs').description('the history of runs'))
    .option('--json', 'as JSON')
    .action((o: StateFlags & { json?: boolean }) => {
      process.exitCode = runs(o);
    });
  // -f is --follow here, as in tail and kubectl logs; the castle file is --file.
  program
    .command('logs')
    .description("a run's events, or with --step the full output of one step")
    .argument('[run]', 'run id or prefix (default: the latest)')
    .option('--file <path>', 'castle file', 'castle.yaml')
    .option('--state-dir <dir>', 'run state directory')
    .option('-f, --follow', 'keep printing until the run ends')
    .option('--step <id>', 'print this step’s output (ids as in the events, e.g. up/platform/0)')
    .action(async (run: string | undefined, o: StateFlags & { follow?: boolean; step?: string }) => {
      process.exitCode = await logs(run, o);
    });
}
