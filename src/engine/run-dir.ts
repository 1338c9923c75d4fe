import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Operation } from '../events.js';

/** Sortable (to the millisecond), unique, readable: `20261126-063012.345-rebirth-3f9a`. */
export function newRunId(operation: Operation, now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}.${String(now.getUTCMilliseconds()).padStart(3, '0')}`;
  return `${stamp}-${operation}-${randomBytes(2).toString('hex')}`;
}

export const runsDir = (stateDir: string): string => join(stateDir, 'runs');
export const runDir = (stateDir: string, runId: string): string => join(runsDir(stateDir), runId);
export const eventsFile = (dir: string): string => join(dir, 'events.jsonl');
export const summaryFile = (dir: string): string => join(dir, 'summary.json');
export const outputFile = (dir: string): string => join(dir, 'output.log');
export const stepLogFile = (dir: string, stepId: string): string => join(dir, 'steps', `${stepId.replace(/\//g, '__')}.log`);
export const lockFile = (stateDir: string): string => join(stateDir, 'lock.json');
