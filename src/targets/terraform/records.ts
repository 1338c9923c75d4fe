// What the terraform target keeps in the castle's state dir (stateDir/terraform/), so that a resumed
// or later run still knows it: each layer's outputs, the terraform commands Castle started (to prove a
// lock's holder gone), the last successful apply of each module, and which ghosts were removed.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { OutputValue } from './ui-stream.js';

export const tfDir = (stateDir: string): string => join(stateDir, 'terraform');

/** A stable file name for a module folder. */
export function moduleKey(castleDir: string, cwd: string): string {
  const rel = relative(castleDir, resolve(castleDir, cwd)) || '.';
  return rel.replace(/[^A-Za-z0-9._-]+/g, '__');
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Written whole or not at all; `private` files (outputs may be sensitive) are 0600. */
function writeJson(file: string, value: unknown, mode = 0o644): void {
  mkdirSync(resolve(file, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, file);
}

// ---------- outputs ----------
export interface StoredOutputs {
  readonly layer: string;
  readonly module: string;
  readonly runId: string;
  readonly at: string;
  readonly outputs: Readonly<Record<string, OutputValue>>;
}

const outputsFile = (stateDir: string, layer: string): string => join(tfDir(stateDir), 'outputs', `${layer}.json`);
export const readOutputs = (stateDir: string, layer: string): StoredOutputs | undefined => readJson<StoredOutputs>(outputsFile(stateDir, layer));
export const writeOutputs = (stateDir: string, o: StoredOutputs): void => writeJson(outputsFile(stateDir, o.layer), o, 0o600);
export const dropOutputs = (stateDir: string, layer: string): void => rmSync(outputsFile(stateDir, layer), { force: true });

// ---------- the commands Castle started ----------
export interface LedgerEntry {
  readonly runId: string;
  /** Castle's own process */
  readonly castlePid: number;
  readonly host: string;
  readonly command: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly exit?: string;
}

export interface LedgerRecord extends LedgerEntry {
  /** the terraform process (its pid file, written by the wrapper shell before it execs the tool) */
  readonly toolPid?: number;
}

const ledgerDir = (stateDir: string, key: string): string => join(tfDir(stateDir), 'ledger', key);

/** Opens an entry before the command starts; returns the pid file the command writes and the closer. */
export function ledgerOpen(stateDir: string, key: string, e: Omit<LedgerEntry, 'endedAt' | 'exit'>): { pidFile: string; close(exit: string): void } {
  const dir = ledgerDir(stateDir, key);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // named by start time (the run id is inside): a name sorts by age
  const base = join(dir, `${Date.now()}-${Math.random().toString(16).slice(2, 8)}`);
  writeJson(`${base}.json`, e);
  return { pidFile: `${base}.pid`, close: (exit) => writeJson(`${base}.json`, { ...e, endedAt: new Date().toISOString(), exit }) };
}

/** The entries of a module, newest first; older than the last 50 are pruned. */
export function ledgerRead(stateDir: string, key: string): LedgerRecord[] {
  const dir = ledgerDir(stateDir, key);
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir)
    .filter((n) => /^\d+-[0-9a-f]+\.json$/.test(n))
    .sort((a, b) => Number.parseInt(b, 10) - Number.parseInt(a, 10));
  for (const old of names.slice(50)) {
    rmSync(join(dir, old), { force: true });
    rmSync(join(dir, old.replace(/\.json$/, '.pid')), { force: true });
  }
  return names.slice(0, 50).flatMap((n) => {
    const e = readJson<LedgerEntry>(join(dir, n));
    if (!e) return [];
    let toolPid: number | undefined;
    try {
      toolPid = Number.parseInt(readFileSync(join(dir, n.replace(/\.json$/, '.pid')), 'utf8'), 10) || undefined;
    } catch {
      toolPid = undefined;
    }
    return [{ ...e, ...(toolPid ? { toolPid } : {}) }];
  });
}

// ---------- applies, wipes and ghosts ----------
export interface Applied {
  readonly runId: string;
  readonly at: string;
}
const appliedFile = (stateDir: string, key: string): string => join(tfDir(stateDir), 'applied', `${key}.json`);
export const readApplied = (stateDir: string, key: string): Applied | undefined => readJson<Applied>(appliedFile(stateDir, key));
export const writeApplied = (stateDir: string, key: string, a: Applied): void => writeJson(appliedFile(stateDir, key), a);

/** A module whose resources are known gone (a destroy skipped because its cluster was unreachable). */
export interface PendingGhosts {
  readonly runId: string;
  readonly at: string;
  readonly reason: string;
}
const pendingFile = (stateDir: string, key: string): string => join(tfDir(stateDir), 'pending-ghosts', `${key}.json`);
export const readPending = (stateDir: string, key: string): PendingGhosts | undefined => readJson<PendingGhosts>(pendingFile(stateDir, key));
export const writePending = (stateDir: string, key: string, p: PendingGhosts): void => writeJson(pendingFile(stateDir, key), p);
export const dropPending = (stateDir: string, key: string): void => rmSync(pendingFile(stateDir, key), { force: true });

/** The ghosts a run removed, by module: a resumed run does not remove again what it may have re-created since. */
const ghostsFile = (stateDir: string, runId: string): string => join(tfDir(stateDir), 'ghosts', `${runId}.json`);
export function readGhosts(stateDir: string, runId: string): Record<string, readonly string[]> {
  return readJson<Record<string, readonly string[]>>(ghostsFile(stateDir, runId)) ?? {};
}
export function addGhosts(stateDir: string, runId: string, key: string, removed: readonly string[]): void {
  writeJson(ghostsFile(stateDir, runId), { ...readGhosts(stateDir, runId), [key]: removed });
}
