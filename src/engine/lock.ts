// Hand-written rather than proper-lockfile: that library judges staleness by mtime, castle by the holder's pid
// and start time, and names the holder (run, operation, since) in the lock for `castle status`.
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { processGone, procStat } from '../os/pid.js';
import type { LockInfo } from '../events.js';
import { lockFile } from './run-dir.js';

interface LockFileContent extends LockInfo {
  /** /proc start time of the holder, so a recycled pid is not mistaken for a live holder */
  readonly startTicks?: string;
  /** tells this holder's lock from any other, for release and takeover */
  readonly token?: string;
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
    return parseLock(readFileSync(path, 'utf8'));
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

/** The castle's lock holder unless it is known gone (a holder on another host may be running). */
export function liveLockHolder(stateDir: string): LockInfo | undefined {
  const l = readLockState(stateDir);
  return l && l.stale === undefined ? l.holder : undefined;
}

/** Whether run `runId` holds the castle's lock now: a run holds it from before its first summary to after its last. */
export function runHoldsLock(stateDir: string, runId: string): boolean {
  const l = readLockState(stateDir);
  return l !== undefined && l.holder.runId === runId && l.stale === undefined;
}

export function readLockInfo(stateDir: string): LockInfo | undefined {
  return readLock(lockFile(stateDir));
}

/** Hard-links `from` to `to`: creates `to` with its whole content in one step, or fails if it exists. */
function linkExclusive(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function readRaw(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parseLock(raw: string): LockFileContent | undefined {
  try {
    const l = JSON.parse(raw) as LockFileContent;
    return typeof l === 'object' && l !== null && typeof l.pid === 'number' ? l : undefined;
  } catch {
    return undefined;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Blocks this thread for `ms`: acquiring the lock is synchronous, and waits only on another process's takeover. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

type Takeover = 'taken' | 'changed' | 'busy';

/**
 * Replaces the stale lock whose content is `raw` by ours (`mine`, a file of our content). Takers of
 * one stale lock first claim it by hard-linking `mine` to a name derived from its content: only the
 * claimer may then check the lock is still that one and rename ours over it, so two takers never
 * both win and no newcomer slips in between. A claimer that died is passed by the next claim number.
 */
function takeOver(path: string, raw: string, mine: string, corrupt: boolean): Takeover {
  const generation = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  const claims: string[] = [];
  let won = false;
  for (let k = 0; k < 8 && !won; k++) {
    const claim = `${path}.takeover-${generation}-${k}`;
    claims.push(claim);
    if (linkExclusive(mine, claim)) won = true;
    else {
      const text = readRaw(claim);
      // gone: the takeover it belonged to is over, and the stale lock with it
      if (text === undefined) return 'changed';
      const claimer = parseLock(text);
      if (claimer === undefined || staleReason(claimer) === undefined) return 'busy';
    }
  }
  if (!won) return 'busy';
  try {
    if (readRaw(path) !== raw) return 'changed';
    // an unreadable lock is kept beside to look at
    if (corrupt) linkExclusive(path, `${path}.corrupt-${Date.now()}-${process.pid}`);
    renameSync(mine, path);
    return 'taken';
  } finally {
    for (const c of claims) unlinkQuiet(c);
  }
}

/**
 * One run per castle at a time: a lock file holding who, where, which run, since when. It is written
 * whole to a file of its own, then hard-linked into place, so a reader never sees it half-written.
 */
export function acquireLock(stateDir: string, info: Omit<LockInfo, 'pid' | 'host' | 'since'>): LockOutcome {
  mkdirSync(stateDir, { recursive: true });
  const path = lockFile(stateDir);
  const mine: LockFileContent = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    startTicks: startTicks(process.pid),
    token: randomBytes(8).toString('hex'),
    ...info,
  };
  const text = JSON.stringify(mine, null, 2) + '\n';
  const release = (): void => {
    if (readRaw(path) === text) unlinkSync(path);
  };
  const own = `${path}.${process.pid}-${mine.token}.tmp`;
  writeFileSync(own, text, { mode: 0o644, flag: 'wx' });
  try {
    let last: LockFileContent | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      if (linkExclusive(own, path)) return { state: 'acquired', release };
      const raw = readRaw(path);
      if (raw === undefined) continue; // released meanwhile
      const holder = parseLock(raw);
      // castle writes its lock whole: an unreadable one is left by a crash of an older castle or a damaged disk
      const reason = holder === undefined ? 'the lock file is unreadable' : staleReason(holder);
      if (holder !== undefined) last = holder;
      if (reason === undefined) return { state: 'held', holder: holder! };
      const outcome = takeOver(path, raw, own, holder === undefined);
      switch (outcome) {
        case 'taken':
          if (holder === undefined) return { state: 'acquired', release };
          return { state: 'acquired', release, takenOver: { previous: lockInfo(holder), reason } };
        case 'changed':
          continue;
        case 'busy':
          // another process is replacing the stale lock right now: see who holds it next
          pause(2);
          continue;
        default: {
          const never: never = outcome;
          throw new Error(`acquireLock: unexpected takeover outcome ${String(never)}`);
        }
      }
    }
    return { state: 'held', holder: last ?? { pid: -1, host: '?', runId: '?', since: '?', operation: '?' } };
  } finally {
    unlinkQuiet(own);
  }
}

function lockInfo(l: LockFileContent): LockInfo {
  return { pid: l.pid, host: l.host, runId: l.runId, since: l.since, operation: l.operation };
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
