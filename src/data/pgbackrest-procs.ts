// The pgBackRest commands running on a castle's stanza, read from procfs. A Castle run killed in the middle of one
// leaves it running: it holds the stanza's lock (the resumed gate's backup then fails with pgBackRest's "unable to
// acquire lock") or restores into the directory a resumed run restores into. Those, and only those, are stopped.
import { basename } from 'node:path';
import { fail, ok, type Result } from '../core/result.js';
import { noLog, type OpOptions } from '../os/exec.js';
import { procStat } from '../os/pid.js';
import { liveProcesses } from '../os/processes.js';
import { starterOf, type Starter } from '../os/starter.js';
import { stopProcess } from '../os/stop.js';

/** The commands Castle runs that lock the stanza or write the data directory (archive-push/-get are the server's). */
const CASTLE_COMMANDS: ReadonlySet<string> = new Set(['backup', 'expire', 'restore', 'stanza-create']);

export interface StanzaProcess {
  readonly pid: number;
  readonly command: string;
  readonly starter: Starter;
}

/** The first word of a pgBackRest command line that is no option: its command (Castle writes options as `--o=v`). */
export const commandOf = (args: readonly string[]): string | undefined => args.find((a) => !a.startsWith('-'));

/** Whether `args` run one of Castle's commands: a killed run's are stopped first. */
export function isCastleCommand(args: readonly string[]): boolean {
  const command = commandOf(args);
  return command !== undefined && CASTLE_COMMANDS.has(command);
}

/**
 * Live pgBackRest processes run with this configuration file doing one of Castle's commands, each the leader of its
 * process group, as every command Castle runs is: its workers, the server's archive commands and a command a step
 * put in the background inherit a starter's mark, but lead no group.
 */
export function stanzaProcesses(confPath: string): StanzaProcess[] {
  const config = `--config=${confPath}`;
  return liveProcesses().flatMap(({ pid, argv }) => {
    const args = argv.slice(1);
    if (basename(argv[0] ?? '') !== 'pgbackrest' || !argv.includes(config) || !isCastleCommand(args)) return [];
    if (procStat(pid)?.pgrp !== pid) return [];
    return [{ pid, command: commandOf(args)!, starter: starterOf(pid) }];
  });
}

/**
 * Stops the commands on this stanza whose Castle process is gone, each with its process group: SIGTERM, which
 * pgBackRest handles (its lock released, a backup left for the next to resume), SIGCONT for a stopped one, SIGKILL
 * after 5 s. Another live process's command, or one started without Castle's mark (by hand), is left alone:
 * pgBackRest's lock then refuses, and the refusal names it.
 */
export async function stopAbandoned(confPath: string, o: Pick<OpOptions, 'log' | 'note'> = {}): Promise<Result<number[]>> {
  const abandoned = stanzaProcesses(confPath).flatMap((p) => (p.starter.state === 'gone' ? [{ ...p, starter: p.starter.starter }] : []));
  const say = o.note ?? o.log ?? noLog;
  const stops = await Promise.all(
    abandoned.map(async (p) => {
      say(`stopping pgBackRest ${p.command} (pid ${p.pid}): the Castle process that started it (pid ${p.starter}) is gone`);
      const name = `pgBackRest ${p.command} (pid ${p.pid}, abandoned by Castle process ${p.starter})`;
      return stopProcess(p.pid, { name, graceMs: 5000, wholeGroup: true, cont: true });
    }),
  );
  const failed = stops.flatMap((r) => (r.ok ? [] : [r.reason]));
  if (failed.length) return fail(failed.join('; '));
  return ok(abandoned.map((p) => p.pid));
}

/** Who holds the stanza, for pgBackRest's lock refusal: each command, its pid, and who started it. */
export function describeHolders(confPath: string): string {
  return stanzaProcesses(confPath)
    .map((p) => {
      const s = p.starter;
      const who =
        s.state === 'none'
          ? 'not started by Castle'
          : s.state === 'alive'
            ? `started by process ${s.starter}, still running`
            : `abandoned by Castle process ${s.starter}, not stopped`;
      return `pgBackRest ${p.command} (pid ${p.pid}, ${who})`;
    })
    .join(', ');
}
