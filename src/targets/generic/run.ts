import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { runProcess } from '../../os/process.js';
import type { StepKind } from '../../core/step.js';

export interface RunConfig {
  readonly run: string;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

// Reading process.env goes through a getter per variable: a plain copy is taken once, merged with a
// step's `env` once per step definition, and each attempt only adds its own variables on top through
// the prototype chain (spawn reads inherited keys too), instead of copying the whole environment.
let inherited: NodeJS.ProcessEnv | undefined;
const merged = new WeakMap<Readonly<Record<string, string>>, NodeJS.ProcessEnv>();

function baseEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  inherited ??= { ...process.env };
  if (!extra) return inherited;
  let env = merged.get(extra);
  if (!env) merged.set(extra, (env = { ...inherited, ...extra }));
  return env;
}

function stepEnv(base: NodeJS.ProcessEnv, own: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.create(base) as NodeJS.ProcessEnv;
  for (const k in own) env[k] = own[k];
  return env;
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines[lines.length - 1] ?? '';
  return last.length > 200 ? `${last.slice(0, 200)}…` : last;
}

/** A shell command, in its own process group, with cwd and env. */
export const runKind: StepKind<RunConfig, undefined> = {
  name: 'run',
  description: 'run a shell command (sh -c) with cwd and env',
  schema: { type: 'string', minLength: 1 },
  siblings: {
    cwd: { type: 'string', minLength: 1, description: 'working directory, relative to castle.yaml' },
    env: { type: 'object', additionalProperties: { type: 'string' }, description: 'extra environment variables' },
  },
  label: (c) => {
    const first = c.run.trim().split('\n')[0] ?? '';
    return first.length > 60 ? `${first.slice(0, 59)}…` : first;
  },
  async run(c, ctx) {
    const cwd = resolve(ctx.castleDir, c.cwd ?? '.');
    const exit = await runProcess('/bin/sh', ['-c', c.run], {
      cwd,
      env: stepEnv(baseEnv(c.env), { CASTLE_RUN_ID: ctx.runId, CASTLE_STEP_ID: ctx.stepId, CASTLE_STATE_DIR: ctx.stateDir }),
      signal: ctx.signal,
      onOutput: ctx.log,
      killGraceMs: ctx.killGraceMs,
    });
    switch (exit.state) {
      case 'exited':
        return exit.code === 0 ? { ok: true } : { ok: false, reason: `exited with code ${exit.code}${lastLine(exit.tail) ? `: ${lastLine(exit.tail)}` : ''}` };
      case 'signalled':
        return { ok: false, reason: `killed by ${exit.signal}` };
      case 'aborted':
        return { ok: false, reason: `stopped (${String(exit.reason)})` };
      case 'spawn-failed':
        // checked only here: a stat per step costs more than it saves, and a missing cwd is what makes spawn fail
        if (!existsSync(cwd)) return { ok: false, reason: `working directory ${cwd} does not exist`, retryable: false };
        return { ok: false, reason: `could not start /bin/sh: ${exit.error}`, retryable: false };
      default: {
        const never: never = exit;
        return never;
      }
    }
  },
};
