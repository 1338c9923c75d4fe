import { hostname } from 'node:os';
import type { StepContext } from '../../core/step.js';
import { exec, type ExecResult } from '../../os/exec.js';
import type { Flavor } from './config.js';
import { ledgerOpen } from './records.js';
import { formatDiagnostic, parseUiLine, UiReport } from './ui-stream.js';

/** The commands Castle runs, as data (argv is built from these only: no secret ever goes into it). */
export type TfCommand =
  | { readonly op: 'init' }
  | { readonly op: 'plan' }
  | { readonly op: 'apply' }
  | { readonly op: 'destroy' }
  | { readonly op: 'output' }
  | { readonly op: 'state-list' }
  | { readonly op: 'state-rm'; readonly addresses: readonly string[] }
  | { readonly op: 'force-unlock'; readonly id: string };

const UI = ['-input=false', '-no-color', '-json'];

function tfArgs(c: TfCommand): string[] {
  switch (c.op) {
    case 'init':
      return ['init', '-input=false', '-no-color'];
    case 'plan':
      return ['plan', ...UI, '-detailed-exitcode'];
    case 'apply':
      return ['apply', ...UI, '-auto-approve'];
    case 'destroy':
      return ['destroy', ...UI, '-auto-approve'];
    case 'output':
      return ['output', '-no-color', '-json'];
    case 'state-list':
      return ['state', 'list'];
    case 'state-rm':
      return ['state', 'rm', ...c.addresses];
    case 'force-unlock':
      return ['force-unlock', '-force', c.id];
    default: {
      const never: never = c;
      return never;
    }
  }
}

/** Terragrunt (>= 0.73) forwards init/apply/destroy/output as they are, other commands through `run --`. */
export function argv(flavor: Flavor, c: TfCommand): string[] {
  const a = tfArgs(c);
  if (flavor !== 'terragrunt') return a;
  return c.op === 'state-list' || c.op === 'state-rm' || c.op === 'force-unlock' ? ['run', '--', ...a] : a;
}

/** The command a user types to do the same by hand (for messages). */
export function commandLine(binary: string, flavor: Flavor, c: TfCommand): string {
  return [binary, ...argv(flavor, c)].join(' ');
}

/** Commands that take the state lock: Castle records them so that a lock they leave behind can be traced to its run. */
const LOCKING = new Set<TfCommand['op']>(['plan', 'apply', 'destroy', 'state-rm']);

export interface ToolRun {
  readonly exec: ExecResult;
  readonly report: UiReport;
  /** every output line that was not a UI message (text errors, Terragrunt's log), capped */
  readonly text: string;
}

export interface ToolEnv {
  readonly binary: string;
  readonly flavor: Flavor;
  readonly env: Readonly<Record<string, string>>;
}

/** Runs one command in `cwd`, its JSON UI read into notes, its other lines into the step log. */
export async function runTool(tool: ToolEnv, ctx: StepContext, cwd: string, key: string, c: TfCommand, opts: { quiet?: boolean } = {}): Promise<ToolRun> {
  const report = new UiReport();
  let text = '';
  const args = argv(tool.flavor, c);
  const shown = `${tool.binary} ${args.join(' ')}`;
  logLine(ctx, `$ ${shown}   (in ${cwd})`);
  const onLine = (line: string): void => {
    const m = parseUiLine(line);
    if (!m) {
      if (text.length < 256 * 1024) text += `${line}\n`;
      logLine(ctx, line);
      return;
    }
    if (m.type === 'diagnostic') logLine(ctx, formatDiagnostic(m.diagnostic) + (m.diagnostic.detail ? `\n${m.diagnostic.detail}` : ''));
    else if (m.type !== 'outputs') logLine(ctx, m.type === 'other' ? m.message : lineOf(line));
    const note = report.take(m);
    if (note) ctx.note(note);
  };
  const ledger = LOCKING.has(c.op)
    ? ledgerOpen(ctx.stateDir, key, { runId: ctx.runId, castlePid: process.pid, host: hostname(), command: shown, startedAt: new Date().toISOString() })
    : undefined;
  // the shell writes its pid, then becomes the tool (exec): the pid file names the terraform process itself
  const [file, fileArgs] = ledger ? ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', ledger.pidFile, tool.binary, ...args]] : [tool.binary, args];
  const r = await exec(file, fileArgs, {
    cwd,
    env: { ...tool.env },
    signal: ctx.signal,
    log: opts.quiet ? (l) => logLine(ctx, l) : onLine,
    quietStdout: opts.quiet === true,
  });
  ledger?.close(r.spawnError ? 'spawn-failed' : r.code !== null ? `exit ${r.code}` : r.signal ? `signal ${r.signal}` : r.timedOut ? 'timed out' : 'cancelled');
  if (opts.quiet) text = r.stderr;
  if (report.unsupported) ctx.note(`${shown}: ${report.unsupported}: notes may be incomplete`);
  return { exec: r, report, text };
}

function lineOf(line: string): string {
  try {
    return String((JSON.parse(line) as { '@message'?: string })['@message'] ?? line);
  } catch {
    return line;
  }
}

/** The step log takes raw output: a line of Castle's own ends with a newline. */
export function logLine(ctx: StepContext, text: string): void {
  ctx.log(text.endsWith('\n') ? text : `${text}\n`);
}
