// Processes read from procfs: their command line, and which of them name a directory in it.
import { readdirSync } from 'node:fs';
import { sep } from 'node:path';
import { pidCmdline } from './pid.js';

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
  const out: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = processCmdline(Number(entry));
    if (!cmdline) continue;
    if (pathsIn(cmdline).some((p) => dirs.some((d) => isInside(p, d)))) out.push({ pid: Number(entry), cmdline });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
