import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Analysis, Diagnostic } from '../diag/diagnostic.js';
import { locate, parseYamlSource, type PathSeg, type YamlSource } from '../diag/yaml-source.js';
import { parseDuration } from '../core/duration.js';
import type { KindRegistry, StepKind, TargetConfig } from '../targets/kind.js';
import { ajvToDiagnostics, badDuration } from './ajv-diagnostics.js';
import { castleSchema, commonStepProperties, type RawCastle, type RawDefaults, type RawStep } from './schema.js';
import { closest } from './suggest.js';
import type { CastleSpec, LayerSpec, StepSpec } from './types.js';
import { findCycles } from './cycles.js';

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validateCastle = ajv.compile(castleSchema);
const stepValidators = new WeakMap<StepKind, ValidateFunction>();

function stepValidator(kind: StepKind): ValidateFunction {
  let v = stepValidators.get(kind);
  if (!v) {
    v = ajv.compile({
      type: 'object',
      additionalProperties: false,
      required: [kind.name],
      properties: { ...commonStepProperties, ...(kind.siblings ?? {}), [kind.name]: kind.schema },
    });
    stepValidators.set(kind, v);
  }
  return v;
}

const targetValidators = new WeakMap<TargetConfig, ValidateFunction>();
function targetValidator(t: TargetConfig): ValidateFunction {
  let v = targetValidators.get(t);
  if (!v) targetValidators.set(t, (v = ajv.compile(t.schema)));
  return v;
}

const COMMON = new Set(Object.keys(commonStepProperties));
const DEFAULT_KILL_GRACE_MS = 5000;

interface Ctx {
  readonly src: YamlSource;
  readonly registry: KindRegistry;
  readonly defaults: RawDefaults;
  readonly castleDir: string;
  readonly diags: Diagnostic[];
}

function durationOf(text: string | undefined, fallback: number | null): number | null {
  if (text === undefined) return fallback;
  return parseDuration(text) ?? fallback;
}

/** The schema checks a duration's shape; parseDuration also rejects repeated or out-of-order units. */
function checkDurations(raw: Record<string, unknown> | undefined | null, fields: readonly string[], path: PathSeg[], ctx: Ctx): void {
  for (const f of fields) {
    const v = raw?.[f];
    if (typeof v === 'string' && parseDuration(v) === undefined) ctx.diags.push(badDuration(ctx.src, [...path, f]));
  }
}

function resolveStep(raw: RawStep, path: PathSeg[], ctx: Ctx): StepSpec | undefined {
  const keys = Object.keys(raw);
  const kindKeys = keys.filter((k) => ctx.registry.has(k));
  if (kindKeys.length === 0) {
    const siblingNames = new Set(ctx.registry.all().flatMap((k) => Object.keys(k.siblings ?? {})));
    const unknown = keys.find((k) => !COMMON.has(k) && !siblingNames.has(k));
    const known = ctx.registry.names();
    const guess = unknown ? closest(unknown, known) : undefined;
    ctx.diags.push({
      severity: 'error',
      rule: 'spec/unknown-step-kind',
      message: unknown ? `unknown step kind '${unknown}'` : 'step names no kind',
      location: locate(ctx.src, unknown ? [...path, unknown] : path, { key: Boolean(unknown) }),
      hint: guess ? `did you mean '${guess}'? known kinds: ${known.join(', ')}` : `known kinds: ${known.join(', ')}`,
    });
    return undefined;
  }
  if (kindKeys.length > 1) {
    ctx.diags.push({
      severity: 'error',
      rule: 'spec/ambiguous-step',
      message: `a step has exactly one kind, this one has ${kindKeys.length}: ${kindKeys.join(', ')}`,
      location: locate(ctx.src, [...path, kindKeys[1]!], { key: true }),
      hint: 'split it into one step per kind',
    });
    return undefined;
  }
  const kind = ctx.registry.get(kindKeys[0]!)!;
  const validate = stepValidator(kind);
  if (!validate(raw)) {
    ctx.diags.push(...ajvToDiagnostics(validate.errors ?? [], ctx.src, path, `a '${kind.name}' step`));
    return undefined;
  }
  const nDiags = ctx.diags.length;
  checkDurations(raw, ['timeout', 'backoff'], path, ctx);
  if (ctx.diags.length > nDiags) return undefined;
  const siblings = Object.keys(kind.siblings ?? {});
  const config = siblings.length > 0 ? Object.fromEntries([[kind.name, raw[kind.name]], ...siblings.map((s) => [s, raw[s]])]) : raw[kind.name];
  const before = ctx.diags.length;
  ctx.diags.push(
    ...(kind.check?.(config, { locate: (p) => locate(ctx.src, [...path, kind.name, ...p]), castleDir: ctx.castleDir }) ?? []),
  );
  if (ctx.diags.slice(before).some((d) => d.severity === 'error')) return undefined;
  const name = raw['name'];
  return {
    kind,
    config,
    label: typeof name === 'string' ? name : (kind.label?.(config) ?? kind.name),
    timeoutMs: durationOf(raw['timeout'] as string | undefined, durationOf(ctx.defaults.timeout, null)),
    retries: (raw['retries'] as number | undefined) ?? ctx.defaults.retries ?? 0,
    retryOn: (raw['retryOn'] as string[] | undefined) ?? ctx.defaults.retryOn ?? [],
    backoffMs: durationOf(raw['backoff'] as string | undefined, durationOf(ctx.defaults.backoff, 1000)) ?? 1000,
    location: locate(ctx.src, [...path, kind.name], { key: true }),
    path,
  };
}

function resolveSteps(list: RawStep[] | undefined | null, path: PathSeg[], ctx: Ctx): StepSpec[] {
  const out: StepSpec[] = [];
  (list ?? []).forEach((raw, i) => {
    const s = resolveStep(raw, [...path, i], ctx);
    if (s) out.push(s);
  });
  return out;
}

function checkLayers(raw: RawCastle, ctx: Ctx): void {
  const firstAt = new Map<string, number>();
  raw.layers.forEach((layer, i) => {
    const prev = firstAt.get(layer.name);
    if (prev !== undefined) {
      ctx.diags.push({
        severity: 'error',
        rule: 'spec/duplicate-layer',
        message: `layer '${layer.name}' is defined twice`,
        location: locate(ctx.src, ['layers', i, 'name']),
        related: [{ message: 'first defined here', location: locate(ctx.src, ['layers', prev, 'name']) }],
        hint: 'give each layer a unique name',
      });
    } else firstAt.set(layer.name, i);
  });
  const names = [...firstAt.keys()];
  raw.layers.forEach((layer, i) => {
    (layer.dependsOn ?? []).forEach((dep, j) => {
      const at = locate(ctx.src, ['layers', i, 'dependsOn', j]);
      if (dep === layer.name) {
        ctx.diags.push({ severity: 'error', rule: 'dag/self-dependency', message: `layer '${dep}' depends on itself`, location: at, hint: `remove '${dep}' from its dependsOn` });
      } else if (!firstAt.has(dep)) {
        const guess = closest(dep, names);
        ctx.diags.push({
          severity: 'error',
          rule: 'dag/unknown-layer',
          message: `layer '${layer.name}' depends on '${dep}', which is not a layer of this castle`,
          location: at,
          hint: guess ? `did you mean '${guess}'?` : `layers: ${names.join(', ')}`,
        });
      }
    });
  });
  const edges = raw.layers.flatMap((layer, i) =>
    (layer.dependsOn ?? []).map((dep, j) => ({ from: layer.name, to: dep, location: locate(ctx.src, ['layers', i, 'dependsOn', j]) })),
  );
  for (const cycle of findCycles(names, edges.filter((e) => e.from !== e.to && firstAt.has(e.to)))) {
    ctx.diags.push({
      severity: 'error',
      rule: 'dag/cycle',
      message: `dependency cycle: ${[...cycle.map((e) => e.from), cycle[0]!.from].join(' -> ')}`,
      location: cycle[0]!.location,
      related: cycle.map((e) => ({ message: `'${e.from}' depends on '${e.to}'`, location: e.location })),
      hint: 'remove one of these dependsOn entries',
    });
  }
}

/** Reads and checks castle.yaml. Returns a validated spec, or every diagnostic found. */
export async function loadCastle(file: string, registry: KindRegistry, opts: { stateDir?: string } = {}): Promise<Analysis<CastleSpec>> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      diagnostics: [
        {
          severity: 'error',
          rule: 'spec/unreadable',
          message: code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(err)})`,
          hint: code === 'ENOENT' ? 'run `castle init` to create one, or pass -f PATH' : undefined,
        },
      ],
    };
  }
  return analyzeCastle(abs, text, registry, opts);
}

export function analyzeCastle(abs: string, text: string, registry: KindRegistry, opts: { stateDir?: string } = {}): Analysis<CastleSpec> {
  const { source: src, diagnostics } = parseYamlSource(abs, text);
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  if (src.docs.length !== 1) {
    const loc = src.docs[1] ? locate(src, [], { doc: 1 }) : { file: abs, line: 1, col: 1 };
    return { ok: false, diagnostics: [{ severity: 'error', rule: 'spec/documents', message: src.docs.length === 0 ? 'castle.yaml is empty' : 'castle.yaml holds one YAML document; found more', location: loc }] };
  }
  let raw: unknown;
  try {
    raw = src.docs[0]!.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, diagnostics: [{ severity: 'error', rule: 'yaml/aliases', message: `cannot expand the document: ${(err as Error).message}`, location: { file: abs, line: 1, col: 1 } }] };
  }
  if (!validateCastle(raw)) {
    return { ok: false, diagnostics: ajvToDiagnostics(validateCastle.errors ?? [], src, [], 'the castle') };
  }
  const dir = dirname(abs);
  const ctx: Ctx = { src, registry, defaults: raw.defaults ?? {}, castleDir: dir, diags: [] };
  checkDurations(raw as unknown as Record<string, unknown>, ['budget'], [], ctx);
  checkDurations(raw.defaults as Record<string, unknown> | undefined, ['timeout', 'backoff', 'killGrace'], ['defaults'], ctx);
  checkLayers(raw, ctx);
  const layers: LayerSpec[] = raw.layers.map((l, i) => ({
    name: l.name,
    description: l.description ?? undefined,
    dependsOn: [...new Set(l.dependsOn ?? [])],
    apply: resolveSteps(l.apply, ['layers', i, 'apply'], ctx),
    destroy: resolveSteps(l.destroy, ['layers', i, 'destroy'], ctx),
    location: locate(src, ['layers', i, 'name']),
  }));
  const targets: Record<string, unknown> = {};
  for (const t of registry.targets()) {
    const block = (raw as unknown as Record<string, unknown>)[t.name];
    if (block === undefined || block === null) continue;
    const v = targetValidator(t);
    if (!v(block)) ctx.diags.push(...ajvToDiagnostics(v.errors ?? [], src, [t.name], `the ${t.name} block`));
    else {
      ctx.diags.push(...(t.check?.(block, { locate: (p) => locate(src, [t.name, ...p]), castleDir: dir }) ?? []));
      targets[t.name] = block;
    }
  }
  const gate = resolveSteps(raw.rebirth?.gate, ['rebirth', 'gate'], ctx);
  const proof = resolveSteps(raw.rebirth?.proof, ['rebirth', 'proof'], ctx);
  if (ctx.diags.some((d) => d.severity === 'error')) return { ok: false, diagnostics: ctx.diags };
  const spec: CastleSpec = Object.freeze({
    name: raw.name,
    description: raw.description ?? undefined,
    file: abs,
    dir,
    stateDir: resolve(dir, opts.stateDir ?? raw.stateDir ?? '.castle'),
    budgetMs: durationOf(raw.budget ?? undefined, null),
    concurrency: raw.concurrency ?? 4,
    killGraceMs: durationOf(raw.defaults?.killGrace ?? undefined, DEFAULT_KILL_GRACE_MS) ?? DEFAULT_KILL_GRACE_MS,
    target: raw.target ?? 'local',
    targets,
    layers,
    gate,
    proof,
    source: src,
  });
  return { ok: true, value: spec, warnings: ctx.diags };
}
