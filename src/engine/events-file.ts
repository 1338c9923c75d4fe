import { existsSync, readFileSync } from 'node:fs';
import type { EventEnvelope } from '../events.js';
import { eventsFile } from './run-dir.js';

/** Events of a run; a torn last line (the run is still writing) is left for the next read. */
export function readEvents(runDir: string): EventEnvelope[] {
  const file = eventsFile(runDir);
  if (!existsSync(file)) return [];
  const out: EventEnvelope[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as EventEnvelope);
    } catch {
      break;
    }
  }
  return out;
}
