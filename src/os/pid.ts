// What Castle knows about a process from its pid: alive or not, zombie, command line, process group,
// start time; read from Linux /proc (signal 0 alone cannot tell a zombie or a recycled pid).

import { readFileSync } from 'node:fs';
import { sleep } from './sleep.js';

/** The fields of /proc/<pid>/stat Castle reads. */
export interface ProcStat {
  /** R, S, D, Z (zombie), X (dead), ... */
  readonly state: string;
  readonly pgrp: number;
  /** clock ticks after boot: with the pid, names one process even when the pid is reused */
  readonly startTicks: string;
}

export function procStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name (which may itself hold spaces or parens), from field 3
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] ?? '', pgrp: Number(f[2]), startTicks: f[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** True when a process with this pid exists (signal 0; EPERM means it exists under another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the process is gone or a zombie (exited, not yet reaped by its parent). */
export function processGone(pid: number): boolean {
  if (!pidAlive(pid)) return true;
  const st = procStat(pid)?.state;
  return st === 'Z' || st === 'X';
}

/** The command line of a live process, or null when it is gone or a zombie. */
export function pidCmdline(pid: number): string[] | null {
  if (processGone(pid)) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((s) => s.length);
  } catch {
    return null;
  }
}

/** Identifies a process by its command line: a substring of it (joined by spaces), or a predicate on it. */
export type CmdlineMatch = string | ((cmdline: string) => boolean);

/** True when `pid` is alive and its command line matches: only then may we signal it. */
export function isOurProcess(pid: number, match: CmdlineMatch): boolean {
  const argv = pidCmdline(pid);
  if (argv === null) return false;
  const cmd = argv.join(' ');
  return typeof match === 'string' ? cmd.includes(match) : match(cmd);
}

/** The pid in the first line of a pid file, or undefined (missing, empty, garbage). */
export function readPidFile(pidFile: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim().split('\n')[0]);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** Sends `sig` to every process of group `pgid`; a group already gone is not an error, EPERM is (the message). */
export function signalGroup(pgid: number, sig: NodeJS.Signals): string | undefined {
  return send(-pgid, sig);
}

function send(target: number, sig: NodeJS.Signals): string | undefined {
  try {
    process.kill(target, sig);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'ESRCH' ? undefined : e.message;
  }
}

/**
 * Sends `sig` to `pid`, or to its whole process group when `group` is set and it leads one (a detached
 * child does: its helpers go too). A process already gone is not an error; EPERM is (the message).
 */
export function signalProcess(pid: number, sig: NodeJS.Signals, group = false): string | undefined {
  return send(group && procStat(pid)?.pgrp === pid ? -pid : pid, sig);
}

/** Waits until `gone()` (default: the pid is gone or a zombie), up to `timeoutMs`; true when it is. */
export async function waitPidGone(pid: number, timeoutMs: number, gone: (pid: number) => boolean = processGone, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (gone(pid)) return true;
    await sleep(everyMs);
  }
  return gone(pid);
}
