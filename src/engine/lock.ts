import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { processGone, procStat } from '../os/pid.js';
import type { LockInfo } from '../events.js';
import { lockFile } from './run-dir.js';
import { writeAllSync } from './write-all.js';

interface LockFileContent extends LockInfo {
  /** /proc start time of the holder, so a recycled pid is not mistaken for a live holder */
  readonly startTicks?: string;
}

export type LockOutcome =
  | { readonly state: 'acquired'; readonly release: () => void; readonly takenOver?: { previous: LockInfo; reason: string } }
  | { readonly state: 'held'; readonly holder: LockInfo };

function startTicks(pid: number): string | undefined {
  return procStat(pid)?.startTicks;
}

/** Running and not a zombie (a zombie has exited: it only waits for its parent to reap it). */
function processAlive(pid: number): boolean {
  return !processGone(pid);
}

function readLock(path: string): LockFileContent | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockFileContent;
  } catch {
    return undefined;
  }
}

/** Why a lock is stale, or undefined when its holder may still be running. */
function staleReason(l: LockFileContent): string | undefined {
  if (l.host !== hostname()) return undefined;
  if (!processAlive(l.pid)) return `process ${l.pid} is no longer running`;
  const ticks = startTicks(l.pid);
  if (l.startTicks && ticks && ticks !== l.startTicks) return `process ${l.pid} is another program now (pid reused)`;
  return undefined;
}

/** The castle's lock, if any, and why it is stale (undefined while its holder may still be running). */
export function readLockState(stateDir: string): { readonly holder: LockInfo; readonly stale: string | undefined } | undefined {
  const l = readLock(lockFile(stateDir));
  return l === undefined ? undefined : { holder: l, stale: staleReason(l) };
}

/** Whether run `runId` holds the castle's lock now: a run holds it from before its first summary to after its last. */
export function runHoldsLock(stateDir: string, runId: string): boolean {
  const l = readLockState(stateDir);
  return l !== undefined && l.holder.runId === runId && l.stale === undefined;
}

export function readLockInfo(stateDir: string): LockInfo | undefined {
  return readLock(lockFile(stateDir));
}

/** One run per castle at a time: an O_EXCL lock file holding who, where, which run, since when. */
export function acquireLock(stateDir: string, info: Omit<LockInfo, 'pid' | 'host' | 'since'>): LockOutcome {
  mkdirSync(stateDir, { recursive: true });
  const path = lockFile(stateDir);
  const mine: LockFileContent = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    startTicks: startTicks(process.pid),
    ...info,
  };
  let takenOver: { previous: LockInfo; reason: string } | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeAllSync(fd, JSON.stringify(mine, null, 2) + '\n');
      closeSync(fd);
      const release = (): void => {
        const now = readLock(path);
        if (now && now.pid === mine.pid && now.runId === mine.runId) unlinkSync(path);
      };
      return takenOver ? { state: 'acquired', release, takenOver } : { state: 'acquired', release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readLock(path);
    if (!holder) {
      // Unreadable or half-written: only a holder that died mid-write leaves that; set it aside.
      renameSync(path, `${path}.corrupt-${Date.now()}`);
      continue;
    }
    const reason = staleReason(holder);
    if (!reason) return { state: 'held', holder };
    // Move the stale lock aside atomically: of two racing takers, only one rename finds it.
    try {
      renameSync(path, `${path}.stale-${holder.pid}-${process.pid}`);
      unlinkSync(`${path}.stale-${holder.pid}-${process.pid}`);
    } catch {
      continue;
    }
    takenOver = { previous: { pid: holder.pid, host: holder.host, runId: holder.runId, since: holder.since, operation: holder.operation }, reason };
  }
  const holder = readLock(path);
  return holder ? { state: 'held', holder } : { state: 'held', holder: { pid: -1, host: '?', runId: '?', since: '?', operation: '?' } };
}

/** `castle unlock --force`: removes the lock whoever holds it; returns what it removed. */
export function forceUnlock(stateDir: string): LockInfo | undefined {
  const path = lockFile(stateDir);
  const holder = readLock(path);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return holder;
}
