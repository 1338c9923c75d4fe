import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventEnvelope } from '../../src/events.js';

export const CLI = resolve(fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const made: string[] = [];
// removed when the test process ends; CASTLE_KEEP_TEST_DIRS=1 keeps them to look at
process.on('exit', () => {
  if (process.env['CASTLE_KEEP_TEST_DIRS']) return;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function castleDir(yaml: string, prefix = 'castle-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  writeFileSync(join(dir, 'castle.yaml'), yaml);
  return dir;
}

const baseEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, CASTLE_PLAIN: '1', NO_COLOR: '1' };
  delete env['NODE_TEST_CONTEXT'];
  return env;
};

export function castle(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...baseEnv(), ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function castleAsync(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<CliResult>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  return { child, done };
}

export function runIds(dir: string): string[] {
  const runs = join(dir, '.castle', 'runs');
  return existsSync(runs) ? readdirSync(runs).sort() : [];
}

export function events(dir: string, runId?: string): EventEnvelope[] {
  const id = runId ?? runIds(dir).pop()!;
  const text = readFileSync(join(dir, '.castle', 'runs', id, 'events.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EventEnvelope);
}

export function summary(dir: string, runId?: string): Record<string, any> {
  const id = runId ?? runIds(dir).pop()!;
  return JSON.parse(readFileSync(join(dir, '.castle', 'runs', id, 'summary.json'), 'utf8'));
}

export type Span = { start: number; end: number };

/** Wall-clock span of each step that ran, from the events' timestamps. */
export function spans(evs: readonly EventEnvelope[]): Map<string, Span> {
  const out = new Map<string, Span>();
  for (const e of evs) {
    if (e.type === 'step-started' && !out.has(e.stepId)) out.set(e.stepId, { start: Date.parse(e.ts), end: NaN });
    if (e.type === 'step-finished' && out.has(e.stepId)) out.get(e.stepId)!.end = Date.parse(e.ts);
  }
  return out;
}

export async function waitFor(cond: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Running, not a zombie: a killed child whose parent died stays a zombie until its reaper waits for it. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
