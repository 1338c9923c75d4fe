// The pgBackRest commands running on a castle's stanza, read from procfs. A Castle run killed in the middle of one
// leaves it running: it holds the stanza's lock (the resumed gate's backup then fails with pgBackRest's "unable to
// acquire lock") or restores into the directory a resumed run restores into. Those, and only those, are stopped.
import { basename } from 'node:path';
import { readdirSync } from 'node:fs';
import { fail, ok, type Result } from '../core/result.js';
import { noLog, type OpOptions } from '../os/exec.js';
import { pidCmdline } from '../os/pid.js';
import { starterOf } from '../os/starter.js';
import { stopProcess } from '../os/stop.js';

/** The commands Castle runs that lock the stanza or write the data directory (archive-push/-get are the server's). */
const CASTLE_COMMANDS: ReadonlySet<string> = new Set(['backup', 'expire', 'restore', 'stanza-create']);

export interface StanzaProcess {
  readonly pid: number;
  readonly command: string;
  readonly starter: ReturnType<typeof starterOf>;
}

/** The first word of a pgBackRest command line that is no option: its command. */
export const commandOf = (args: readonly string[]): string | undefined => args.find((a) => !a.startsWith('-'));

/** Live pgBackRest processes run with this configuration file, doing one of Castle's commands (their workers left out). */
export function stanzaProcesses(confPath: string): StanzaProcess[] {
  const out: StanzaProcess[] = [];
  const config = `--config=${confPath}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = pidCmdline(pid);
    if (!argv || basename(argv[0] ?? '') !== 'pgbackrest' || !argv.includes(config)) continue;
    const args = argv.slice(1);
    if (isCastleCommand(args)) out.push({ pid, command: commandOf(args)!, starter: starterOf(pid) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Whether `args` run one of those commands: a killed run's are stopped first. */
export function isCastleCommand(args: readonly string[]): boolean {
  const command = commandOf(args);
  return command !== undefined && CASTLE_COMMANDS.has(command);
}

/**
 * Stops the commands on this stanza whose Castle process is gone (SIGTERM to the group, which pgBackRest handles:
 * its lock released, a backup left for the next to resume; SIGKILL after 5 s). Another live process's command, or
 * one started without Castle's mark (by hand), is left alone: pgBackRest's lock then refuses, and says so.
 */
export async function stopAbandoned(confPath: string, o: Pick<OpOptions, 'log' | 'note'> = {}): Promise<Result<number[]>> {
  const abandoned = stanzaProcesses(confPath).flatMap((p) => (p.starter.state === 'gone' ? [{ ...p, starter: p.starter.starter }] : []));
  const said = o.note ?? o.log ?? noLog;
  const stops = await Promise.all(
    abandoned.map(async (p) => {
      said(`stopping pgBackRest ${p.command} (pid ${p.pid}): the Castle process that started it (pid ${p.starter}) is gone`);
      return { p, r: await stopProcess(p.pid, { name: `pgBackRest ${p.command} (pid ${p.pid})`, graceMs: 5000, group: true, cont: true }) };
    }),
  );
  const failed = stops.find((s) => !s.r.ok);
  if (failed && !failed.r.ok) return fail(failed.r.reason);
  return ok(stops.map((s) => s.p.pid));
}

/** Who holds the stanza, for pgBackRest's lock refusal: each command, its pid, and who started it. */
export function describeHolders(confPath: string): string {
  return stanzaProcesses(confPath)
    .map((p) => {
      const who =
        p.starter.state === 'none'
          ? 'not started by Castle'
          : p.starter.state === 'alive'
            ? `started by process ${p.starter.starter}, still running`
            : 'abandoned';
      return `pgBackRest ${p.command} (pid ${p.pid}, ${who})`;
    })
    .join(', ');
}
