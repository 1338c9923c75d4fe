import type { Command } from 'commander';
import type { Operation } from '../events.js';
import { expectedDurations, listRuns } from '../engine/history.js';
import { buildPlan, criticalPath, layerWaves, type Plan } from '../plan/plan.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';
import { CliExit, EXIT_INVALID, EXIT_OK, loadOrExit, valueOrExit } from './common.js';

interface PlanFlags {
  file: string;
  stateDir?: string;
  operation: string;
  json?: boolean;
}

function describePlan(plan: Plan, expected: Map<string, number>): string {
  const castle = plan.castle;
  const cost = (id: string): number => expected.get(id) ?? 0;
  const layerCost = (section: string, layer: string): number | undefined => {
    const ids = plan.steps.filter((s) => s.section === section && s.layer === layer).map((s) => s.id);
    if (ids.length === 0 || ids.some((id) => !expected.has(id))) return ids.length === 0 ? 0 : undefined;
    return ids.reduce((a, id) => a + cost(id), 0);
  };
  const est = (ms: number | undefined): string => (ms === undefined ? '~?' : `~${formatDuration(ms)}`);
  const lines = [
    `castle ${castle.name} (${castle.file}): ${castle.layers.length} layers, ${plan.steps.length} steps in this ${plan.operation}${castle.budgetMs !== null ? `, budget ${formatDurationCompact(castle.budgetMs)}` : ''}`,
  ];
  const sections = [...new Set(plan.steps.map((s) => s.section))];
  for (const section of sections) {
    if (section === 'gate' || section === 'proof') {
      const ids = plan.steps.filter((s) => s.section === section);
      lines.push(`${section}: ${ids.map((s) => `${s.spec.label} ${est(expected.get(s.id))}`).join(' -> ')}`);
      continue;
    }
    let waves = layerWaves(castle.layers);
    const inScope = new Set(plan.scope);
    waves = waves.map((w) => w.filter((l) => inScope.has(l))).filter((w) => w.length > 0);
    if (section === 'down') waves = waves.reverse();
    lines.push(`${section}, in waves (layers of a wave run in parallel):`);
    waves.forEach((wave, i) => lines.push(`  ${i + 1}. ${wave.map((l) => `${l} ${est(layerCost(section, l))}`).join(' | ')}`));
  }
  for (const t of castle.uses) for (const line of t.describe?.(castle.targets[t.name], castle.dir) ?? []) lines.push(`${t.name}: ${line}`);
  // Without history, the longest chain by step count still shows the structure.
  const cp = criticalPath(plan, expected.size === 0 ? () => 1 : cost);
  const known = plan.steps.every((s) => expected.has(s.id));
  lines.push(
    `critical path: ${cp.path.join(' -> ') || '(empty)'}` +
      (expected.size === 0
        ? ' (no earlier runs: expected times unknown)'
        : ` ${known ? '~' : '≥'}${formatDuration(cp.totalMs)}${castle.budgetMs !== null ? ` of budget ${formatDurationCompact(castle.budgetMs)}` : ''}`),
  );
  return lines.join('\n');
}

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('the DAG as waves, the critical path, and expected times from earlier runs')
    .option('-f, --file <path>', 'castle file', 'castle.yaml')
    .option('--state-dir <dir>', 'run state directory')
    .option('--operation <op>', 'up, down or rebirth', 'up')
    .option('--json', 'as JSON')
    .action(async (o: PlanFlags) => {
      if (!['up', 'down', 'rebirth'].includes(o.operation)) throw new CliExit(EXIT_INVALID, `--operation ${o.operation}: use up, down or rebirth`);
      const castle = await loadOrExit(o);
      const plan = valueOrExit(buildPlan(castle, { operation: o.operation as Operation }));
      const expected = expectedDurations(listRuns(castle.stateDir));
      if (o.json) {
        const cp = criticalPath(plan, (id) => expected.get(id) ?? 0);
        process.stdout.write(
          JSON.stringify(
            {
              castle: castle.name,
              operation: o.operation,
              budgetMs: castle.budgetMs,
              waves: layerWaves(castle.layers),
              targets: Object.fromEntries(castle.uses.map((t) => [t.name, t.describe?.(castle.targets[t.name], castle.dir) ?? []])),
              steps: plan.steps.map((s) => ({
                id: s.id,
                label: s.spec.label,
                kind: s.spec.qualified,
                deps: s.deps,
                expectedMs: expected.get(s.id) ?? null,
              })),
              criticalPath: cp.path,
              criticalPathMs: cp.totalMs,
            },
            null,
            2,
          ) + '\n',
        );
      } else process.stdout.write(describePlan(plan, expected) + '\n');
      process.exitCode = EXIT_OK;
    });
}
