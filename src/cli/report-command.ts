import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { listRuns } from '../engine/history.js';
import { forceUnlock, readLockInfo } from '../engine/lock.js';
import { runDir } from '../engine/run-dir.js';
import { renderReport } from '../sinks/report-html.js';
import { CliExit, EXIT_FAILED, EXIT_INVALID, EXIT_OK } from './common.js';
import { readEvents } from '../engine/events-file.js';
import { pickRun, stateDirOf, type StateFlags } from './state.js';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML page with the timeline of a run and the trend across runs')
    .argument('[run]', 'run id or prefix (default: the latest)')
    .option('-f, --file <path>', 'castle file', 'castle.yaml')
    .option('--state-dir <dir>', 'run state directory')
    .option('-o, --output <file>', 'where to write it (default: report.html in the run folder)')
    .action((runArg: string | undefined, o: StateFlags & { output?: string }) => {
      const stateDir = stateDirOf(o);
      const run = pickRun(stateDir, runArg);
      const dir = runDir(stateDir, run.runId);
      const history = listRuns(stateDir)
        .filter((r) => r.durationMs !== null)
        .map((r) => ({
          runId: r.runId,
          operation: r.operation,
          status: r.status,
          startedAt: r.startedAt,
          durationMs: r.durationMs ?? 0,
          budgetMs: r.budgetMs,
        }));
      const html = renderReport({ runId: run.runId, events: readEvents(dir) }, history);
      const out = resolve(o.output ?? `${dir}/report.html`);
      writeFileSync(out, html);
      process.stdout.write(`${out}\n`);
      process.exitCode = EXIT_OK;
    });
  program
    .command('unlock')
    .description('remove the run lock of this castle')
    .option('-f, --file <path>', 'castle file', 'castle.yaml')
    .option('--state-dir <dir>', 'run state directory')
    .option('--force', 'remove it even if its holder may still be running')
    .action((o: StateFlags & { force?: boolean }) => {
      const stateDir = stateDirOf(o);
      if (!o.force) {
        const h = readLockInfo(stateDir);
        throw new CliExit(
          EXIT_INVALID,
          h ? `locked by run ${h.runId} (pid ${h.pid} on ${h.host}, since ${h.since}); pass --force to remove the lock` : 'not locked',
        );
      }
      const removed = forceUnlock(stateDir);
      process.stdout.write(
        removed ? `removed the lock of run ${removed.runId} (pid ${removed.pid} on ${removed.host}, since ${removed.since})\n` : 'not locked\n',
      );
      process.exitCode = removed ? EXIT_OK : EXIT_FAILED;
    });
}
