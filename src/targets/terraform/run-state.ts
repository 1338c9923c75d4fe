// Reads the engine's run state files (stateDir/lock.json, stateDir/runs/<id>/summary.json) as data:
// whether a Castle run of this castle is still alive, and which runs wiped a layer. Targets do not
// import the engine, so the two fields read here are named here.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processGone } from '../../os/pid.js';

interface CastleLock {
  readonly pid: number;
  readonly host: string;
  readonly runId: string;
}

interface Summary {
  readonly runId: string;
  readonly operation: string;
  readonly status: string;
  readonly startedAt: string;
  readonly pid: number;
  readonly host: string;
  readonly steps?: Readonly<Record<string, { readonly status: string }>>;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export const summaryOf = (stateDir: string, runId: string): Summary | undefined => readJson<Summary>(join(stateDir, 'runs', runId, 'summary.json'));

export type RunLiveness =
  | { readonly state: 'alive'; readonly why: string }
  | { readonly state: 'gone'; readonly why: string }
  | { readonly state: 'unknown'; readonly why: string };

/**
 * Whether run `runId` of this castle still runs. A run is alive only while it holds the castle's lock
 * with a live process on this host (one run per castle at a time); a run the state dir does not know
 * is not a Castle run of this castle.
 */
export function runLiveness(stateDir: string, runId: string): RunLiveness {
  const s = summaryOf(stateDir, runId);
  if (!s && !existsSync(join(stateDir, 'runs', runId, 'events.jsonl'))) return { state: 'unknown', why: `run ${runId} is not a run of this castle (no ${join(stateDir, 'runs', runId)})` };
  const lock = readJson<CastleLock>(join(stateDir, 'lock.json'));
  if (lock && lock.runId === runId) {
    if (lock.host !== hostname()) return { state: 'unknown', why: `run ${runId} holds the castle lock on host ${lock.host}: its process cannot be checked from here` };
    if (!processGone(lock.pid)) return { state: 'alive', why: `run ${runId} still holds the castle lock (pid ${lock.pid})` };
    return { state: 'gone', why: `run ${runId} left the castle lock but its process ${lock.pid} is gone` };
  }
  if (s && s.host === hostname() && s.status === 'running' && !processGone(s.pid)) {
    return { state: 'alive', why: `run ${runId} says running and its process ${s.pid} is alive` };
  }
  return { state: 'gone', why: `run ${runId} no longer holds the castle lock (${s ? `its summary says ${s.status}` : 'killed before its first summary'})` };
}

/** Runs other than `self` that completed the `down` steps of `layer` after `since` (ISO), newest first. */
export function wipesOf(stateDir: string, layer: string, since: string | undefined, self: string): string[] {
  const dir = join(stateDir, 'runs');
  if (!existsSync(dir)) return [];
  const out: { id: string; at: string }[] = [];
  for (const id of readdirSync(dir)) {
    if (id === self) continue;
    const s = summaryOf(stateDir, id);
    if (!s || (s.operation !== 'down' && s.operation !== 'rebirth')) continue;
    if (since && s.startedAt <= since) continue;
    const downs = Object.entries(s.steps ?? {}).filter(([k]) => k.startsWith(`down/${layer}/`));
    if (downs.length > 0 && downs.every(([, v]) => v.status === 'succeeded')) out.push({ id, at: s.startedAt });
  }
  return out.sort((a, b) => b.at.localeCompare(a.at)).map((x) => x.id);
}
