// Which runs wiped a layer, from the castle's run state as the engine hands it to steps (ctx.runs).
import type { RunState } from '../../core/step.js';

/** Runs other than `self` that completed the `down` steps of `layer` after `since` (ISO), newest first. */
export function wipesOf(runs: RunState, layer: string, since: string | undefined, self: string): string[] {
  const out: { id: string; at: string }[] = [];
  for (const s of runs.runs()) {
    if (s.runId === self || (s.operation !== 'down' && s.operation !== 'rebirth')) continue;
    if (since && s.startedAt <= since) continue;
    const downs = Object.entries(s.steps).filter(([k]) => k.startsWith(`down/${layer}/`));
    if (downs.length > 0 && downs.every(([, v]) => v.status === 'succeeded')) out.push({ id: s.runId, at: s.startedAt });
  }
  return out.sort((a, b) => b.at.localeCompare(a.at)).map((x) => x.id);
}
