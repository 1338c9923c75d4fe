import { hostname } from 'node:os';
import type { RunLiveness, RunRecord, RunState } from '../core/step.js';
import { listRuns, readSummary } from './history.js';
import { readLockState } from './lock.js';

/** The castle's run state as steps see it (`StepContext.runs`): the lock's own staleness rules and the history's reading of killed runs. */
export function castleRunState(stateDir: string): RunState {
  return {
    liveness(runId: string): RunLiveness {
      const lock = readLockState(stateDir);
      if (lock && lock.holder.runId === runId) {
        if (lock.stale !== undefined) return { state: 'gone', why: `run ${runId} left the castle lock behind: ${lock.stale}` };
        if (lock.holder.host !== hostname())
          return { state: 'unknown', why: `run ${runId} holds the castle lock on host ${lock.holder.host}: its process cannot be checked from here` };
        return { state: 'alive', why: `run ${runId} holds the castle lock (pid ${lock.holder.pid})` };
      }
      const s = readSummary(stateDir, runId);
      if (!s) return { state: 'unknown', why: `run ${runId} is not a run of this castle` };
      return { state: 'gone', why: `run ${runId} no longer holds the castle lock (it ${s.status === 'running' ? 'was killed' : s.status})` };
    },
    runs(): readonly RunRecord[] {
      return listRuns(stateDir).map((s) => ({ runId: s.runId, operation: s.operation, status: s.status, startedAt: s.startedAt, steps: s.steps }));
    },
  };
}
