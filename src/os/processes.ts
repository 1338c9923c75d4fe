// Processes read from procfs: their command line, and which of them name a directory in it.
import { readdirSync, readlinkSync } from 'node:fs';
import { sep } from 'node:path';
import { pidCmdline, procStat } from './pid.js';

/** The pids in /proc but our own. */
function procPids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** Every live process (not a zombie) this user may see, but our own, with its argv: the one walk of /proc. */
export function liveProcesses(): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const pid of procPids()) {
    const argv = pidCmdline(pid);
    if (argv && argv.length) out.push({ pid, argv });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The live members of process group `pgid` (one read of each process's stat: a stop polls this). */
export function groupMembers(pgid: number): number[] {
  return procPids().filter((pid) => {
    const st = procStat(pid);
    return st !== undefined && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X';
  });
}

/** /proc/<pid>/cmdline joined with spaces, or undefined when the process is gone or a zombie. */
export function processCmdline(pid: number): string | undefined {
  const argv = pidCmdline(pid);
  return argv && argv.length ? argv.join(' ') : undefined;
}

/** The absolute paths a command line names: its words, and the values of `--opt=/path` words. */
export function pathsIn(cmdline: string): string[] {
  const out: string[] = [];
  for (const word of cmdline.split(' ')) {
    const value = word.startsWith('/') ? word : word.includes('=/') ? word.slice(word.indexOf('=/') + 1) : undefined;
    if (value) out.push(value);
  }
  return out;
}

/** Whether `p` is `dir` or inside it. */
export function isInside(p: string, dir: string): boolean {
  const d = dir.endsWith(sep) ? dir.slice(0, -1) : dir;
  return p === d || p.startsWith(d + sep);
}

/**
 * Every live process (this user may read) whose command line names a path inside one of `dirs`: the
 * daemons a castle started name their data, config or pid file there (postgres -D, pgbouncer's ini,
 * the blog's --dir, the S3 endpoint's --dir). Our own process is left out.
 */
export function processesUsing(dirs: readonly string[]): { pid: number; cmdline: string }[] {
  return liveProcesses()
    .map(({ pid, argv }) => ({ pid, cmdline: argv.join(' ') }))
    .filter(({ cmdline }) => pathsIn(cmdline).some((p) => dirs.some((d) => isInside(p, d))));
}

/**
 * Every live process whose working directory is `dir` or below (a tool run in its module folder). A process
 * whose directory this user may not read is listed with `cwd: undefined`: the caller decides what it may
 * conclude about it. Our own process is left out.
 */
export function processesWorkingIn(dir: string): { pid: number; cmdline: string; cwd: string | undefined }[] {
  const out: { pid: number; cmdline: string; cwd: string | undefined }[] = [];
  for (const { pid, argv } of liveProcesses()) {
    let cwd: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      cwd = undefined;
    }
    if (cwd === undefined || isInside(cwd, dir)) out.push({ pid, cmdline: argv.join(' '), cwd });
  }
  return out;
}
