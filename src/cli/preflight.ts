import { readFileSync } from 'node:fs';
import { formatDiagnostics } from '../diag/printer.js';
import type { Plan } from '../plan/plan.js';
import { liveLockHolder } from '../engine/lock.js';
import { castleManifestPaths } from '../spec/manifests.js';

/**
 * A castle with errors is never wiped: before up/rebirth runs anything, the manifests it applies are
 * validated offline (schemas, names, references, CEL, and for a rebirth its safety rules as errors).
 * Returns false (after printing why) when the run must not start.
 */
export async function preflight(plan: Plan): Promise<boolean> {
  if (!(await targetPreflight(plan))) return false;
  if (plan.operation === 'down') return true;
  const paths = castleManifestPaths(plan.castle);
  if (paths.length === 0) return true;
  const { validateManifests } = await import('../validate/index.js');
  const result = await validateManifests(paths, { rebirth: plan.operation === 'rebirth', builtinCrds: true });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  const warnings = result.diagnostics.filter((d) => d.severity === 'warning');
  if (errors.length > 0) {
    process.stderr.write(formatDiagnostics(errors, (f) => result.sources.get(f)) + '\n');
    process.stderr.write(
      `castle: ${plan.operation} not started: the manifests have ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was touched\n`,
    );
    return false;
  }
  if (warnings.length > 0)
    process.stderr.write(
      `preflight: ${result.stats.documents} manifests checked, ${warnings.length} warning${warnings.length === 1 ? '' : 's'} (castle validate shows them)\n`,
    );
  return true;
}

/** The targets whose steps the plan runs check what only I/O can tell (a port held by another process, a host's memory). */
async function targetPreflight(plan: Plan): Promise<boolean> {
  const castle = plan.castle;
  const targets = [...new Set(plan.steps.map((s) => s.spec.target))].filter((t) => t.preflight !== undefined);
  const ac = new AbortController();
  const found = await Promise.all(
    targets.map((t) =>
      t.preflight!(castle.targets[t.name], {
        castleDir: castle.dir,
        stateDir: castle.stateDir,
        castleName: castle.name,
        operation: plan.operation,
        signal: ac.signal,
        steps: plan.steps.filter((s) => s.spec.target === t).map((s) => ({ kind: s.spec.kind.name, config: s.spec.config, location: s.spec.location })),
        lockHolder: liveLockHolder,
      }),
    ),
  );
  // the targets' own files (Talos patches) the castle names: an error there would stop the run half-way
  const files = castle.uses.flatMap((t) => t.checkFiles?.(castle.targets[t.name], castle.dir) ?? []);
  const diags = [...files, ...found.flat()];
  const errors = diags.filter((d) => d.severity === 'error');
  const others = diags.filter((d) => d.severity !== 'error');
  if (others.length > 0) process.stderr.write(formatDiagnostics(others, readSource) + '\n');
  if (errors.length === 0) return true;
  process.stderr.write(formatDiagnostics(errors, readSource) + '\n');
  process.stderr.write(
    `castle: ${plan.operation} not started: ${errors.length} preflight check${errors.length === 1 ? '' : 's'} failed; nothing was touched\n`,
  );
  return false;
}

function readSource(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
