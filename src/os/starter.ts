// Which Castle process started a command. Every command run to completion carries its starter's identity in its
// environment (src/os/process.ts), so that a later run can tell a command abandoned by a killed Castle (its starter
// is gone) from one a live process runs, or one an operator started by hand (no mark): only the first is Castle's
// to stop.
import { readFileSync, readlinkSync } from 'node:fs';
import { procStat } from './pid.js';

/**
 * `<pid>:<start ticks>:<pid namespace>` of the Castle process that started the command: pid and start time name one
 * process, pid reuse or not; the namespace says where that pid means it (a castle seen from a container, or from its
 * host, is nobody's to judge there).
 */
export const STARTER_VAR = 'CASTLE_STARTED_BY';

/** What a command's environment says of its starter. `none`: no mark, another pid namespace's, or unreadable. */
export type Starter = { readonly state: 'gone' | 'alive'; readonly starter: number } | { readonly state: 'none' };

let namespace: string | undefined;

/** This process's pid namespace (a process keeps its own for life), read once. */
function pidNamespace(): string {
  if (namespace === undefined) {
    try {
      namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
    } catch {
      namespace = '';
    }
  }
  return namespace;
}

let mark: string | undefined;

/** This process's identity, as its commands carry it. */
export function starterMark(): string {
  mark ??= `${process.pid}:${procStat(process.pid)?.startTicks ?? ''}:${pidNamespace()}`;
  return mark;
}

export function starterOf(pid: number): Starter {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return { state: 'none' };
  }
  const entry = environ.split('\0').find((e) => e.startsWith(`${STARTER_VAR}=`));
  const m = entry ? /^(\d+):(\d+):(\d+)$/.exec(entry.slice(STARTER_VAR.length + 1)) : null;
  if (!m || m[3] !== pidNamespace()) return { state: 'none' };
  const starter = Number(m[1]);
  const st = procStat(starter);
  const alive = st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.startTicks === m[2];
  return { state: alive ? 'alive' : 'gone', starter };
}
