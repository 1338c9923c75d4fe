// A StepContext for calling a target's kinds directly in tests, recording what the step logs and checks.
import type { StepContext } from '../../src/core/step.js';
import { castleRunState } from '../../src/engine/run-state.js';

export interface Recorded {
  readonly logs: string[];
  readonly notes: string[];
  readonly checks: { name: string; ok: boolean; detail: string }[];
  readonly secrets: string[];
}

export function stepContext(o: {
  castleDir: string;
  stateDir: string;
  runId?: string;
  section?: StepContext['section'];
  signal?: AbortSignal;
  resumes?: string[];
}): StepContext & { rec: Recorded } {
  const rec: Recorded = { logs: [], notes: [], checks: [], secrets: [] };
  return {
    rec,
    signal: o.signal ?? new AbortController().signal,
    castleDir: o.castleDir,
    stateDir: o.stateDir,
    runDir: `${o.stateDir}/runs/${o.runId ?? 'run1'}`,
    runId: o.runId ?? 'run1',
    stepId: 'test-step',
    castleName: 'test',
    operation: 'up',
    section: o.section ?? 'up',
    resumes: o.resumes ?? [],
    backupSkipped: false,
    proofSkipped: false,
    killGraceMs: 1000,
    runs: castleRunState(o.stateDir),
    log: (t) => void rec.logs.push(t),
    note: (m) => void rec.notes.push(m),
    check: (name, ok, detail) => void rec.checks.push({ name, ok, detail }),
    secret: (v) => void rec.secrets.push(v),
  };
}
