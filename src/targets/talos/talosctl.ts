// Running talosctl: its presence and version checked once per run, its errors (bare text on stderr,
// exit 1) turned into a sentence, its process killed on Castle's own deadline.
import { exec, type ExecResult } from '../../os/exec.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { StepContext } from '../../core/step.js';

export interface Talosctl {
  readonly bin: string;
  readonly version: string;
  run(args: readonly string[], ctx: StepContext, o?: { signal?: AbortSignal; cwd?: string }): Promise<ExecResult>;
}

export const versionTuple = (v: string): [number, number, number] => {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
};
export const versionAtLeast = (v: string, min: string): boolean => {
  const a = versionTuple(v);
  const b = versionTuple(min);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
};

/** `talosctl version --client`: present, answering, and at least `min`. */
export async function findTalosctl(bin: string, min: string, ctx: StepContext): Promise<Result<Talosctl>> {
  const r = await exec(bin, ['version', '--client'], { signal: ctx.signal, timeoutMs: 30_000 });
  if (r.spawnError)
    return fail(
      `${bin} cannot be run (${r.spawnError}): Castle drives Talos through talosctl ${min} or newer; install it (https://www.talos.dev/latest/talos-guides/install/talosctl/) or set talos.talosctl to its path`,
      { retryable: false },
    );
  if (r.code !== 0) return fail(`\`${bin} version --client\` failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0] ?? ''}`, { retryable: false });
  const tag = /^\s*Tag:\s*(v\S+)/m.exec(r.stdout)?.[1];
  if (!tag) return fail(`\`${bin} version --client\` printed no "Tag:" line; is ${bin} talosctl?`, { retryable: false });
  if (!versionAtLeast(tag, min))
    return fail(`talosctl ${tag} is older than ${min}, the oldest Castle supports: upgrade talosctl (or lower talos.minVersion)`, { retryable: false });
  return ok({
    bin,
    version: tag,
    run: (args, c, o = {}) =>
      exec(bin, args, { signal: o.signal ?? c.signal, log: (t) => c.log(`${t}\n`), logPrefix: '[talosctl] ', ...(o.cwd ? { cwd: o.cwd } : {}) }),
  });
}

/** The error talosctl printed (its last non-empty stderr line carries the gRPC status). */
export function talosError(r: ExecResult): string {
  if (r.spawnError) return r.spawnError;
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? `exit ${r.code}`;
}
