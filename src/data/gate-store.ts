import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The run a gate is looked up for: its own gates count, and those of the runs it resumes. */
export interface GateReader {
  readonly runId: string;
  readonly resumes: readonly string[];
}

const fileOf = (dir: string, key: string): string => join(dir, `${key.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);

/** Keeps a backup gate where a resumed run finds it (written whole, then renamed; 0600: it names the cluster's system and backups). */
export function saveGateFile(dir: string, key: string, fact: { readonly runId: string }): void {
  mkdirSync(dir, { recursive: true });
  const f = fileOf(dir, key);
  writeFileSync(`${f}.tmp`, JSON.stringify(fact, null, 2), { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}

/** The gate kept under `key`, when it was taken by this run or a run it resumes: an older gate is not fresh and never authorises a wipe. */
export function readFreshGate<F extends { readonly runId: string }>(dir: string, key: string, run: GateReader): F | undefined {
  const f = fileOf(dir, key);
  if (!existsSync(f)) return undefined;
  const saved = JSON.parse(readFileSync(f, 'utf8')) as F;
  return saved.runId === run.runId || run.resumes.includes(saved.runId) ? saved : undefined;
}
