import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Operation } from '../events.js';
import { listRuns, readSummary } from '../engine/history.js';
import { newRunId, outputFile, runDir, summaryFile } from '../engine/run-dir.js';
import { runCastle } from '../engine/session.js';
import type { ResumeFrom } from '../engine/resume.js';
import { buildPlan } from '../plan/plan.js';
import { formatSummary } from '../sinks/summary.js';
import { CliExit, EXIT_FAILED, EXIT_INVALID, EXIT_OK, loadOrExit, pickSinks, printDiagnostics } from './common.js';
import { preflight } from './preflight.js';
import { sleep } from '../os/sleep.js';

interface RunFlags {
  file: string;
  stateDir?: string;
  only?: string[];
  concurrency?: string;
  failFast?: boolean;
  json?: boolean;
  detach?: boolean;
  resume?: boolean;
  runId?: string;
  backup: boolean;
  iAcceptDataLoss?: boolean;
  proof: boolean;
  preflight: boolean;
}

function parseConcurrency(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new CliExit(EXIT_INVALID, `--concurrency ${v}: give a whole number from 1 to 256`);
  return n;
}

/** Starts the same command in its own session (setsid), immune to the terminal's hangup, and returns. */
async function detach(operation: Operation, stateDir: string): Promise<number> {
  const runId = newRunId(operation);
  const dir = runDir(stateDir, runId);
  mkdirSync(dir, { recursive: true });
  const out = openSync(outputFile(dir), 'a');
  const args = process.argv.slice(2).filter((a) => a !== '--detach');
  const cli = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, ...args, '--run-id', runId], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, CASTLE_DETACHED: '1', CASTLE_PLAIN: '1' },
  });
  child.unref();
  let exitCode: number | null = null;
  child.on('exit', (code) => (exitCode = code ?? 1));
  // Wait until the run holds its lock (summary written) or has given up (lock refused, bad input).
  for (let i = 0; i < 200 && exitCode === null && !existsSync(summaryFile(dir)); i++) await sleep(25);
  if (!existsSync(summaryFile(dir))) {
    const text = existsSync(outputFile(dir)) ? readFileSync(outputFile(dir), 'utf8') : '';
    if (exitCode !== null) {
      process.stderr.write(text);
      rmSync(dir, { recursive: true, force: true });
      return exitCode;
    }
  }
  process.stdout.write(
    `run ${runId} started in the background (pid ${child.pid})\n` +
      `  follow it:  castle logs -f ${runId}\n` +
      `  progress:   castle status\n` +
      `  output:     ${outputFile(dir)}\n`,
  );
  return EXIT_OK;
}

async function runOperation(operation: Operation, flags: RunFlags): Promise<number> {
  if (!flags.backup && !flags.iAcceptDataLoss) {
    throw new CliExit(EXIT_INVALID, '--no-backup wipes without a fresh backup: add --i-accept-data-loss to say you mean it');
  }
  const concurrency = parseConcurrency(flags.concurrency);
  const castle = await loadOrExit(flags);
  const planned = buildPlan(castle, {
    operation,
    ...(flags.only ? { only: flags.only } : {}),
    noBackup: !flags.backup,
    noProof: !flags.proof,
  });
  if (!planned.ok) {
    printDiagnostics(planned.diagnostics);
    return EXIT_INVALID;
  }
  const plan = planned.value;
  // A castle with errors is never wiped: manifests are checked before anything runs.
  if (flags.preflight) {
    const ok = await preflight(plan);
    if (!ok) return EXIT_INVALID;
  }
  if (flags.detach) return detach(operation, castle.stateDir);

  let resume: ResumeFrom | undefined;
  if (flags.resume) {
    const last = listRuns(castle.stateDir)
      .filter((r) => r.operation === operation && r.status !== 'running')
      .pop();
    if (!last || last.status === 'succeeded') {
      throw new CliExit(EXIT_INVALID, `nothing to resume: the last ${operation} run ${last ? `(${last.runId}) succeeded` : 'does not exist'}`);
    }
    const chain: string[] = [];
    for (let r = last.resumeOf; r; r = readSummary(castle.stateDir, r)?.resumeOf ?? null) chain.push(r);
    resume = { runId: last.runId, succeeded: [...last.succeeded], chain, ...(last.hashes ? { hashes: last.hashes } : {}) };
  }

  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!ac.signal.aborted) ac.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A detached run outlives its terminal: a hangup (its old session's, or kill -HUP) is not a reason to stop.
  // Without a handler, node's default for SIGHUP ended the run mid-step, leaving it interrupted.
  const onHangup = (): void => {};
  if (process.env['CASTLE_DETACHED'] === '1') process.on('SIGHUP', onHangup);
  try {
    const outcome = await runCastle({
      plan,
      ...(flags.runId ? { runId: flags.runId } : {}),
      ...(concurrency ? { concurrency } : {}),
      failFast: flags.failFast ?? false,
      sinks: pickSinks(flags.json ?? false),
      signal: ac.signal,
      ...(resume ? { resume } : {}),
      detached: process.env['CASTLE_DETACHED'] === '1',
      argv: process.argv.slice(2),
    });
    if (outcome.state === 'refused') {
      const h = outcome.holder;
      throw new CliExit(
        EXIT_FAILED,
        `castle ${castle.name} is locked by run ${h.runId} (${h.operation}, pid ${h.pid} on ${h.host}, since ${h.since})\n` +
          `  wait for it (castle status), or if that process is gone from another host: castle unlock --force`,
      );
    }
    if (!flags.json) {
      process.stdout.write('\n' + formatSummary(outcome.events) + '\n');
      if (outcome.status !== 'succeeded')
        process.stdout.write(
          `\nrun ${outcome.runId} ${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ''}\n  logs: castle logs ${outcome.runId}\n  continue: castle ${operation} --resume\n`,
        );
    }
    return outcome.status === 'succeeded' ? EXIT_OK : EXIT_FAILED;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onHangup);
  }
}

function addRunOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <path>', 'castle file', 'castle.yaml')
    .option('--state-dir <dir>', 'run state directory (default: .castle beside castle.yaml)')
    .option('--only <layer...>', 'run only these layers')
    .option('--concurrency <n>', 'steps running at once')
    .option('--fail-fast', 'when a step fails, stop the running ones too')
    .option('--json', 'stream events as JSON lines')
    .option('--detach', 'run in the background, immune to the terminal hanging up')
    .option('--resume', 'continue the last failed or interrupted run, skipping steps that succeeded')
    .option('--no-preflight', 'skip validating manifests before running')
    .option('--run-id <id>', 'run id (used by --detach)');
}

export function registerRunCommands(program: Command): void {
  const ops: { op: Operation; desc: string }[] = [
    { op: 'up', desc: 'apply the layers in dependency order' },
    { op: 'down', desc: 'destroy the layers in reverse dependency order (after the backup gate when the castle holds data)' },
    { op: 'rebirth', desc: 'backup gate, down, up and proof, as one run with one stopwatch' },
  ];
  for (const { op, desc } of ops) {
    const cmd = addRunOptions(program.command(op).description(desc));
    if (op !== 'up') {
      cmd.option('--no-backup', 'skip the backup gate (needs --i-accept-data-loss)').option('--i-accept-data-loss', 'confirm --no-backup');
    }
    if (op === 'rebirth') cmd.option('--no-proof', 'skip the proof after the rebirth');
    cmd.option(
      '--adopt <vmid...>',
      "proxmox: take over these VM ids though they lack the castle's tag (this run only; `adopt:` in the block makes it lasting)",
    );
    cmd.action(async (opts: Partial<RunFlags> & { adopt?: string[] }) => {
      if (opts.adopt) {
        const ids = opts.adopt.flatMap((a) => a.split(',')).filter(Boolean);
        if (!ids.every((id) => /^[1-9][0-9]{2,8}$/.test(id)))
          throw new CliExit(EXIT_INVALID, `--adopt ${opts.adopt.join(' ')}: give Proxmox VM ids (100-999999999)`);
        // the proxmox target reads it where its block's `adopt:` is read (preflight and steps run in this process or a detached child)
        process.env['CASTLE_PROXMOX_ADOPT'] = ids.join(',');
      }
      process.exitCode = await runOperation(op, { backup: true, proof: true, preflight: true, file: 'castle.yaml', ...opts } as RunFlags);
    });
  }
}
