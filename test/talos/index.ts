// The talosctl test double for Castle's tests and users' own: `installTalosctl` writes its state and a
// `talosctl` executable into a directory; put `bin` first on PATH (and TALOSCTL_DOUBLE_STATE in the
// environment) and Castle's talos target drives it like the real CLI.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DoubleNode, DoubleState } from './talosctl.js';

export type { DoubleNode, DoubleState } from './talosctl.js';

export interface TalosctlDouble {
  readonly bin: string;
  readonly statePath: string;
  /** PATH and TALOSCTL_DOUBLE_STATE for a process that should find the double */
  readonly env: Record<string, string>;
  state(): DoubleState;
  update(fn: (s: DoubleState) => void): void;
  /** every call so far: argv and exit code (143: killed by SIGTERM) */
  calls(): { argv: string[]; code: number }[];
}

const script = resolve(dirname(fileURLToPath(import.meta.url)), 'talosctl.js');

export function installTalosctl(
  dir: string,
  o: { version?: string; nodes: Record<string, DoubleNode['state']>; kubeconfig?: string; healthHangs?: boolean },
): TalosctlDouble {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const statePath = join(dir, 'talosctl-state.json');
  const state: DoubleState = {
    version: o.version ?? 'v1.15.0',
    nodes: Object.fromEntries(Object.entries(o.nodes).map(([ip, s]) => [ip, { state: s }])),
    ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
    ...(o.healthHangs ? { healthHangs: true } : {}),
  };
  writeFileSync(statePath, JSON.stringify(state, null, 2));
  const exe = join(bin, 'talosctl');
  writeFileSync(exe, `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`);
  chmodSync(exe, 0o755);
  const env = { PATH: `${bin}:${process.env['PATH'] ?? ''}`, TALOSCTL_DOUBLE_STATE: statePath };
  return {
    bin,
    statePath,
    env,
    state: () => JSON.parse(readFileSync(statePath, 'utf8')) as DoubleState,
    update: (fn) => {
      const s = JSON.parse(readFileSync(statePath, 'utf8')) as DoubleState;
      fn(s);
      writeFileSync(statePath, JSON.stringify(s, null, 2));
    },
    calls: () => {
      const f = `${statePath}.calls.jsonl`;
      return existsSync(f)
        ? readFileSync(f, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { argv: string[]; code: number })
        : [];
    },
  };
}
