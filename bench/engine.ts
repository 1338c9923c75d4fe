import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCastle } from '../src/engine/session.js';
import { buildPlan } from '../src/plan/plan.js';
import { analyzeCastle } from '../src/spec/load.js';
import { noopKind } from '../src/targets/generic/noop.js';
import type { StepContext } from '../src/core/step.js';
import { defaultRegistry } from '../src/targets/registry.js';

const CONCURRENCY = 4;

/**
 * `layers` layers of `perLayer` steps; layer i depends on layer i-CONCURRENCY, so every wave holds
 * CONCURRENCY independent chains: a DAG that can keep the workers as busy as the baseline's plain pool.
 */
function castleYaml(layers: number, perLayer: number, step: string): string {
  const lines = ['name: bench', 'layers:'];
  for (let i = 0; i < layers; i++) {
    lines.push(`  - name: l${i}`);
    const deps = [i - CONCURRENCY].filter((d) => d >= 0).map((d) => `l${d}`);
    if (deps.length) lines.push(`    dependsOn: [${deps.join(', ')}]`);
    lines.push('    apply:');
    for (let j = 0; j < perLayer; j++) lines.push(`      - ${step}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * A castle written and planned once: each run then does what `castle up` does once its plan is
 * validated (lock, run folder, event log, steps, summary), in its own run folder, like consecutive
 * runs of one castle. Parsing and temp folders stay out of the timed part and out of the rounds.
 */
function enginePrepared(yaml: string): { run: () => Promise<number>; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'castle-bench-'));
  const file = join(dir, 'castle.yaml');
  writeFileSync(file, yaml);
  const spec = analyzeCastle(file, yaml, defaultRegistry());
  if (!spec.ok) throw new Error(JSON.stringify(spec.diagnostics));
  const plan = buildPlan(spec.value, { operation: 'up' });
  if (!plan.ok) throw new Error('plan');
  return {
    run: async () => {
      const t0 = performance.now();
      const out = await runCastle({ plan: plan.value, concurrency: CONCURRENCY, sinks: [], signal: new AbortController().signal });
      const ms = performance.now() - t0;
      if (out.state !== 'finished' || out.status !== 'succeeded') throw new Error('bench run failed');
      return ms;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The steps' own minimum cost: the same step function called in a plain loop. */
async function noopBaseline(n: number): Promise<number> {
  const ctx = {} as StepContext;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await noopKind.run({}, ctx, undefined);
  return performance.now() - t0;
}

/** The same process spawned by `concurrency` plain workers, each one after the other. */
async function spawnBaseline(n: number, concurrency: number): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      await new Promise<void>((res, rej) => {
        const c = spawn('/bin/sh', ['-c', 'true'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        c.on('error', rej);
        c.on('close', () => res());
      });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Both sides are warmed up first, alternating: a fresh process spends its first runs compiling the
 * engine's code (the JIT's background threads compete with the spawned processes for the same cores),
 * a one-off cost per process that is reported apart from the per-run overhead.
 *
 * Then rounds of (baseline, engine). This machine's speed drifts from one minute to the next (the same
 * baseline takes 53 ms, then 64 ms), so the overhead is read two ways: the difference of the two
 * medians, and the median of each round's difference (each engine run against the baseline run just
 * before it, which the drift affects alike).
 */
async function measure(
  label: string,
  runs: number,
  warmup: number,
  engine: () => Promise<number>,
  baseline: () => Promise<number>,
  steps: number,
): Promise<void> {
  const cold = await engine();
  const coldBase = await baseline();
  for (let i = 1; i < warmup; i++) {
    await baseline();
    await engine();
  }
  const e: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    b.push(await baseline());
    e.push(await engine());
  }
  const em = median(e);
  const bm = median(b);
  const paired = median(e.map((x, i) => x - b[i]!));
  const overhead = em - bm;
  const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;
  const pct = (ms: number): string => `${((ms / bm) * 100).toFixed(1)}%`;
  const verdict = (ms: number): string => (ms / bm < 0.1 ? 'met' : 'NOT met');
  process.stdout.write(
    `${label}\n` +
      `  first run in this process (JIT cold): engine ${fmt(cold)}, baseline ${fmt(coldBase)}; then ${warmup - 1} warm-up runs of each\n` +
      `  engine (run start to end, median of ${runs}): ${fmt(em)}\n` +
      `  baseline (plain loop, same concurrency):      ${fmt(bm)}\n` +
      `  engine overhead: ${fmt(overhead)} = ${((overhead / steps) * 1000).toFixed(1)} µs per step (target < 1000 µs): ${overhead / steps < 1 ? 'met' : 'NOT met'}\n` +
      `  engine / baseline: ${(em / bm).toFixed(3)} (overhead ${pct(overhead)} of baseline, target < 10%): ${verdict(overhead)}\n` +
      `  per round (engine run minus the baseline run before it), median: ${fmt(paired)} = ${pct(paired)} of baseline: ${verdict(paired)}\n`,
  );
}

export async function benchEngine(argv: string[]): Promise<void> {
  const runs = Number(argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 31);
  const warmup = Math.max(1, Number(argv.find((a) => a.startsWith('--warmup='))?.slice(9) ?? 10));
  process.stdout.write(`engine benchmark (node ${process.version}, concurrency ${CONCURRENCY})\n`);
  const noop = enginePrepared(castleYaml(50, 20, 'noop: {}'));
  try {
    await measure('1,000 in-process no-op steps (50 layers x 20, 4 chains)', runs, warmup, noop.run, () => noopBaseline(1000), 1000);
  } finally {
    noop.dispose();
  }
  // 50 one-step layers in 4 chains (13, 13, 12, 12 steps): the same split the plain pool of 4 makes
  const proc = enginePrepared(castleYaml(50, 1, 'run: "true"'));
  try {
    await measure('50 `true` processes (50 layers x 1, 4 chains)', runs, warmup, proc.run, () => spawnBaseline(50, CONCURRENCY), 50);
  } finally {
    proc.dispose();
  }
}
