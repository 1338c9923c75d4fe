// Which Castle process started a command. Every command run to completion carries its starter's identity in its
// environment (src/os/process.ts), so that a later run can tell a command abandoned by a killed Castle (its starter
// is gone) from one a live process runs, or one an operator started by hand (no mark): only the first is Castle's
// to stop.
import { readFileSync } from 'node:fs';
import { procStat } from './pid.js';

/** `<pid>:<start ticks>` of the Castle process that started the command: the pair names one process, pid reuse or not */
export const STARTER_VAR = 'CASTLE_STARTED_BY';

let mark: string | undefined;

/** This process's identity, as its commands carry it. */
export function starterMark(): string {
  mark ??= `${process.pid}:${procStat(process.pid)?.startTicks ?? ''}`;
  return mark;
}

/**
 * What `pid`'s environment says of its starter: `gone` (that Castle process ended: the command is abandoned), `alive`
 * (it still runs), `none` (not started by Castle, or an environment this user may not read: never Castle's to touch).
 */
export function starterOf(pid: number): { state: 'gone' | 'alive'; starter: number } | { state: 'none' } {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return { state: 'none' };
  }
  const entry = environ.split('\0').find((e) => e.startsWith(`${STARTER_VAR}=`));
  const m = entry ? /^(\d+):(\d+)$/.exec(entry.slice(STARTER_VAR.length + 1)) : null;
  if (!m) return { state: 'none' };
  const starter = Number(m[1]);
  const st = procStat(starter);
  const alive = st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.startTicks === m[2];
  return { state: alive ? 'alive' : 'gone', starter };
}
