import { fail, ok, type Result } from '../core/result.js';
import { processGone, signalGroup, signalProcess, waitPidGone } from './pid.js';
import { groupMembers } from './processes.js';

export interface StopOptions {
  /** what the process is, for messages (e.g. `pgbouncer (pid 123)`) */
  readonly name: string;
  /** after the first signal, wait this long before SIGKILL */
  readonly graceMs: number;
  /** default SIGTERM (PostgreSQL's immediate shutdown is SIGQUIT) */
  readonly first?: NodeJS.Signals;
  /** signal the process group when the pid leads one */
  readonly group?: boolean;
  /** how long to wait after SIGKILL (default 5 s) */
  readonly killWaitMs?: number;
  /** when the process counts as gone (default: gone or a zombie); e.g. its command line no longer matches */
  readonly gone?: (pid: number) => boolean;
  /** SIGCONT after the first signal, as systemd does: a stopped process (SIGSTOP, ^Z) handles it only once continued */
  readonly cont?: boolean;
  /**
   * `pid` leads a process group, and the whole group is stopped: signals go to the group (whose id is not given
   * again while a member lives), and it is gone when no live member is left, the leader's workers included
   */
  readonly wholeGroup?: boolean;
}

/**
 * The one stop-wait-kill: the first signal (SIGTERM), up to `graceMs` for the process to go, then SIGKILL.
 * `killed` says whether SIGKILL was needed; a process that survives SIGKILL or cannot be signalled is a failure.
 */
export async function stopProcess(pid: number, o: StopOptions): Promise<Result<{ killed: boolean }>> {
  const gone = o.gone ?? (o.wholeGroup ? () => groupMembers(pid).length === 0 : processGone);
  const send = (sig: NodeJS.Signals) => (o.wholeGroup ? signalGroup(pid, sig) : signalProcess(pid, sig, o.group));
  if (gone(pid)) return ok({ killed: false });
  const err = send(o.first ?? 'SIGTERM');
  if (err) return fail(`cannot signal ${o.name}: ${err}`);
  if (o.cont) send('SIGCONT');
  if (await waitPidGone(pid, o.graceMs, gone)) return ok({ killed: false });
  const kerr = send('SIGKILL');
  if (kerr) return fail(`cannot SIGKILL ${o.name}: ${kerr}`);
  const waitMs = o.killWaitMs ?? 5_000;
  if (await waitPidGone(pid, waitMs, gone)) return ok({ killed: true });
  return fail(`${o.name} survived SIGKILL for ${Math.round(waitMs / 1000)} s`);
}
