import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Operation, RunStatus, StepStatus } from '../events.js';
import { runDir, runsDir, summaryFile } from './run-dir.js';

/** summary.json of a run: written when it starts (status running) and when it ends. */
export interface RunSummary {
  readonly version: 1;
  readonly runId: string;
  readonly castle: string;
  readonly operation: Operation;
  readonly status: RunStatus | 'running';
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly budgetMs: number | null;
  readonly pid: number;
  readonly host: string;
  readonly detached: boolean;
  readonly resumeOf: string | null;
  readonly argv: readonly string[];
  readonly reason?: string;
  readonly steps: Readonly<Record<string, { status: StepStatus; attempts: number; durationMs: number; reason?: string }>>;
  /** steps done in this run or in the runs it resumed: what a further --resume skips */
  readonly succeeded: readonly string[];
}

export function readSummary(stateDir: string, runId: string): RunSummary | undefined {
  try {
    return JSON.parse(readFileSync(summaryFile(runDir(stateDir, runId)), 'utf8')) as RunSummary;
  } catch {
    return undefined;
  }
}

/** Every run of the castle, oldest first (run ids sort by time). */
export function listRuns(stateDir: string): RunSummary[] {
  const dir = runsDir(stateDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((id) => readSummary(stateDir, id))
    .filter((s): s is RunSummary => s !== undefined);
}

/** Expected duration per step id: the median of its last successful runs. */
export function expectedDurations(runs: readonly RunSummary[], window = 5): Map<string, number> {
  const samples = new Map<string, number[]>();
  for (const run of [...runs].reverse()) {
    for (const [id, rec] of Object.entries(run.steps)) {
      if (rec.status !== 'succeeded') continue;
      const list = samples.get(id) ?? samples.set(id, []).get(id)!;
      if (list.length < window) list.push(rec.durationMs);
    }
  }
  const out = new Map<string, number>();
  for (const [id, list] of samples) {
    const sorted = [...list].sort((a, b) => a - b);
    out.set(id, sorted[Math.floor(sorted.length / 2)]!);
  }
  return out;
}
