import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { listRuns, type RunSummary } from '../engine/history.js';
import { CliExit, EXIT_INVALID } from './common.js';

export interface StateFlags {
  file: string;
  stateDir?: string;
}

/** The state directory, without requiring castle.yaml to be valid: status and logs must work mid-edit. */
export function stateDirOf(flags: StateFlags): string {
  if (flags.stateDir) return resolve(flags.stateDir);
  const file = resolve(flags.file);
  let configured: string | undefined;
  if (existsSync(file)) {
    try {
      const doc = parse(readFileSync(file, 'utf8')) as { stateDir?: unknown } | null;
      if (doc && typeof doc.stateDir === 'string') configured = doc.stateDir;
    } catch {
      // an unparsable castle.yaml still has its state beside it
    }
  }
  return resolve(dirname(file), configured ?? '.castle');
}

/** A run by id (or unique prefix), or the latest one. */
export function pickRun(stateDir: string, id: string | undefined): RunSummary {
  const runs = listRuns(stateDir);
  if (runs.length === 0) throw new CliExit(EXIT_INVALID, `no runs yet in ${stateDir}`);
  if (!id) return runs[runs.length - 1]!;
  const matches = runs.filter((r) => r.runId === id || r.runId.startsWith(id));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliExit(EXIT_INVALID, `no run '${id}' in ${stateDir} (castle runs lists them)`);
  throw new CliExit(EXIT_INVALID, `'${id}' matches ${matches.length} runs: ${matches.map((m) => m.runId).join(', ')}`);
}
