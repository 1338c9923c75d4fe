import type { Analysis, Diagnostic } from '../diag/diagnostic.js';
import type { Operation, PlannedStepInfo, Section } from '../events.js';
import type { CastleSpec, LayerSpec, StepSpec } from '../spec/types.js';

export interface PlannedStep {
  readonly id: string;
  readonly layer: string;
  readonly section: Section;
  readonly index: number;
  readonly spec: StepSpec;
  readonly deps: readonly string[];
}

/** A validated, frozen DAG of steps for one operation. The engine accepts nothing else. */
export interface Plan {
  readonly castle: CastleSpec;
  readonly operation: Operation;
  /** in a topological order */
  readonly steps: readonly PlannedStep[];
  readonly byId: ReadonlyMap<string, PlannedStep>;
  /** the layers this plan covers (all, or those named by --only) */
  readonly scope: readonly string[];
  /** gate steps dropped by --no-backup --i-accept-data-loss */
  readonly backupSkipped: boolean;
  /** a rebirth without its proof (--no-proof) */
  readonly proofSkipped: boolean;
}

export interface PlanOptions {
  readonly operation: Operation;
  /** restrict up/down to these layers (their cross-layer dependencies are assumed in place) */
  readonly only?: readonly string[];
  /** --no-backup, valid only with --i-accept-data-loss (checked by the CLI) */
  readonly noBackup?: boolean;
  readonly noProof?: boolean;
}

export function layerHoldsData(layer: LayerSpec): boolean {
  return [...layer.apply, ...layer.destroy].some((s) => s.kind.holdsData === true);
}

/** Layers in dependency order, grouped in waves: every layer of a wave depends only on earlier waves. */
export function layerWaves(layers: readonly LayerSpec[]): string[][] {
  const remaining = new Map(layers.map((l) => [l.name, new Set(l.dependsOn)]));
  const waves: string[][] = [];
  while (remaining.size > 0) {
    const wave = [...remaining].filter(([, deps]) => [...deps].every((d) => !remaining.has(d))).map(([n]) => n);
    if (wave.length === 0) throw new Error('layerWaves: cycle in a validated castle');
    for (const n of wave) remaining.delete(n);
    waves.push(wave);
  }
  return waves;
}

function chain(section: Section, layer: string, steps: readonly StepSpec[], entryDeps: readonly string[], out: PlannedStep[]): string[] {
  let prev: readonly string[] = entryDeps;
  steps.forEach((spec, index) => {
    const id = section === 'gate' || section === 'proof' ? `${section}/${index}` : `${section}/${layer}/${index}`;
    out.push({ id, layer, section, index, spec, deps: [...prev] });
    prev = [id];
  });
  return [...prev];
}

/**
 * Steps of one section over layers: each layer's steps run in sequence; a layer starts when the layers
 * it waits for are done (its dependencies for up, its dependents for down). A layer without steps
 * passes its predecessors' exits through, so ordering is kept across empty layers.
 */
function sectionSteps(section: 'up' | 'down', layers: readonly LayerSpec[], entry: readonly string[], out: PlannedStep[]): string[] {
  const names = new Set(layers.map((l) => l.name));
  const waitsFor = new Map<string, string[]>();
  for (const l of layers) waitsFor.set(l.name, []);
  for (const l of layers)
    for (const d of l.dependsOn) {
      if (!names.has(d)) continue;
      if (section === 'up') waitsFor.get(l.name)!.push(d);
      else waitsFor.get(d)!.push(l.name);
    }
  const waves = layerWaves(layers.map((l) => ({ ...l, dependsOn: waitsFor.get(l.name)! })));
  const exits = new Map<string, string[]>();
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (const wave of waves)
    for (const name of wave) {
      const before = waitsFor.get(name)!;
      const deps = before.length === 0 ? [...entry] : [...new Set(before.flatMap((b) => exits.get(b)!))];
      const layer = byName.get(name)!;
      exits.set(name, chain(section, name, section === 'up' ? layer.apply : layer.destroy, deps, out));
    }
  // The section's exits: every layer nothing else waits for.
  const waitedOn = new Set([...waitsFor.values()].flat());
  return [...new Set(layers.filter((l) => !waitedOn.has(l.name)).flatMap((l) => exits.get(l.name)!))];
}

export function buildPlan(castle: CastleSpec, opts: PlanOptions): Analysis<Plan> {
  const diags: Diagnostic[] = [];
  const known = new Set(castle.layers.map((l) => l.name));
  for (const o of opts.only ?? []) {
    if (!known.has(o))
      diags.push({ severity: 'error', rule: 'plan/unknown-layer', message: `--only ${o}: no such layer`, hint: `layers: ${[...known].join(', ')}` });
  }
  const layers = opts.only && opts.only.length > 0 ? castle.layers.filter((l) => opts.only!.includes(l.name)) : castle.layers;
  const wipes = opts.operation === 'down' || opts.operation === 'rebirth';
  const dataLayers = layers.filter(layerHoldsData);
  const hasGate = castle.gate.some((s) => s.kind.backupGate === true);
  if (wipes && dataLayers.length > 0 && !hasGate && !opts.noBackup) {
    for (const l of dataLayers)
      diags.push({
        severity: 'error',
        rule: 'rebirth/no-backup-gate',
        message: `layer '${l.name}' holds data, and the castle has no backup gate: ${opts.operation} would wipe it without a fresh, verified backup`,
        location: l.location,
        hint: 'add a backup step under rebirth.gate, or pass --no-backup --i-accept-data-loss',
      });
  }
  if (diags.length > 0) return { ok: false, diagnostics: diags };

  const steps: PlannedStep[] = [];
  let exits: string[] = [];
  const runGate = wipes && !opts.noBackup && castle.gate.length > 0 && (opts.operation === 'rebirth' || dataLayers.length > 0);
  if (runGate) exits = chain('gate', 'gate', castle.gate, [], steps);
  if (wipes) exits = sectionSteps('down', layers, exits, steps);
  if (opts.operation === 'up' || opts.operation === 'rebirth') exits = sectionSteps('up', layers, exits, steps);
  if (opts.operation === 'rebirth' && !opts.noProof) chain('proof', 'proof', castle.proof, exits, steps);

  const plan: Plan = Object.freeze({
    castle,
    operation: opts.operation,
    steps: Object.freeze(steps.map((s) => Object.freeze(s))),
    byId: new Map(steps.map((s) => [s.id, s])),
    scope: layers.map((l) => l.name),
    backupSkipped: wipes && Boolean(opts.noBackup) && castle.gate.length > 0,
    proofSkipped: opts.operation === 'rebirth' && Boolean(opts.noProof),
  });
  return { ok: true, value: plan, warnings: [] };
}

export function stepInfo(s: PlannedStep): PlannedStepInfo {
  return { id: s.id, layer: s.layer, section: s.section, label: s.spec.label, kind: s.spec.qualified, deps: s.deps };
}

/** Longest path through the DAG, weighted by `cost` (ms). */
export function criticalPath(plan: Plan, cost: (id: string) => number): { path: string[]; totalMs: number } {
  const finish = new Map<string, number>();
  const via = new Map<string, string | undefined>();
  for (const s of plan.steps) {
    let best = 0;
    let from: string | undefined;
    for (const d of s.deps) {
      const f = finish.get(d) ?? 0;
      if (from === undefined || f > best) {
        best = f;
        from = d;
      }
    }
    finish.set(s.id, best + cost(s.id));
    via.set(s.id, from);
  }
  let end: string | undefined;
  let total = 0;
  for (const [id, f] of finish)
    if (end === undefined || f > total) {
      end = id;
      total = f;
    }
  const path: string[] = [];
  for (let at = end; at !== undefined; at = via.get(at)) path.unshift(at);
  return { path, totalMs: total };
}
