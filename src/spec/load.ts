import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Analysis, Diagnostic } from '../diag/diagnostic.js';
import { decodeTextFile, MAX_TEXT_FILE_BYTES, tooLarge } from '../diag/text-file.js';
import { locate, parseYamlSource, type PathSeg, type YamlSource } from '../diag/yaml-source.js';
import { parseDuration } from '../core/duration.js';
import type { TargetRegistry } from '../core/registry.js';
import type { StepKind } from '../core/step.js';
import type { Target } from '../core/target.js';
import { ajvToDiagnostics, badDuration } from './ajv-diagnostics.js';
import { castleSchemaWith, commonStepProperties, type RawCastle, type RawDefaults, type RawStep } from './schema.js';
import { closest } from './suggest.js';
import type { CastleSpec, LayerSpec, StepSpec } from './types.js';
import { findCycles } from './cycles.js';

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const castleValidators = new WeakMap<TargetRegistry, ValidateFunction<RawCastle>>();
const stepValidators = new Map<StepKind, Map<string, ValidateFunction>>();

function castleValidator(registry: TargetRegistry): ValidateFunction<RawCastle> {
  let v = castleValidators.get(registry);
  if (!v) {
    const blocks = registry.targets().filter((t) => t.block !== undefined);
    castleValidators.set(registry, (v = ajv.compile<RawCastle>(castleSchemaWith(blocks))));
  }
  return v;
}

/** One validator per kind and per key it is written with (`postgres` or `local.postgres`). */
function stepValidator(kind: StepKind, key: string): ValidateFunction {
  const byKey = stepValidators.get(kind) ?? stepValidators.set(kind, new Map()).get(kind)!;
  let v = byKey.get(key);
  if (!v) {
    v = ajv.compile({
      type: 'object',
      additionalProperties: false,
      required: [key],
      properties: { ...commonStepProperties, ...(kind.siblings ?? {}), [key]: kind.schema },
    });
    byKey.set(key, v);
  }
  return v;
}

const targetValidators = new WeakMap<Target, ValidateFunction>();
function targetValidator(t: Target): ValidateFunction {
  let v = targetValidators.get(t);
  if (!v) targetValidators.set(t, (v = ajv.compile(t.block?.schema ?? {})));
  return v;
}

const COMMON = new Set(Object.keys(commonStepProperties));
const DEFAULT_KILL_GRACE_MS = 5000;

interface Ctx {
  readonly src: YamlSource;
  readonly registry: TargetRegistry;
  /** the target bare step names refer to where the step is */
  readonly selected: string;
  /** targets whose kinds the castle's steps use, with the first step that does */
  readonly used: Map<Target, PathSeg[]>;
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
  const resolved = keys.flatMap((k) => {
    const r = ctx.registry.resolve(k, ctx.selected);
    return r ? [{ key: k, ...r }] : [];
  });
  if (resolved.length === 0) {
    const siblingNames = new Set(ctx.registry.kinds().flatMap((k) => Object.keys(k.kind.siblings ?? {})));
    const unknown = keys.find((k) => !COMMON.has(k) && !siblingNames.has(k));
    const known = ctx.registry.keysFor(ctx.selected);
    const elsewhere = unknown && !unknown.includes('.') ? ctx.registry.kinds().find((k) => k.kind.name === unknown) : undefined;
    const guess = unknown ? closest(unknown, known) : undefined;
    ctx.diags.push({
      severity: 'error',
      rule: 'spec/unknown-step-kind',
      message: elsewhere
        ? `'${unknown}' is a step kind of target '${elsewhere.target.name}', and this ${ctx.selected === undefined ? 'castle' : `step's target is '${ctx.selected}'`}`
        : unknown
          ? `unknown step kind '${unknown}'`
          : 'step names no kind',
      location: locate(ctx.src, unknown ? [...path, unknown] : path, { key: Boolean(unknown) }),
      hint: elsewhere
        ? `write '${elsewhere.qualified}', or set \`target: ${elsewhere.target.name}\` on the layer`
        : guess
          ? `did you mean '${guess}'? known kinds: ${known.join(', ')}`
          : `known kinds: ${known.join(', ')}`,
    });
    return undefined;
  }
  if (resolved.length > 1) {
    ctx.diags.push({
      severity: 'error',
      rule: 'spec/ambiguous-step',
      message: `a step has exactly one kind, this one has ${resolved.length}: ${resolved.map((r) => r.key).join(', ')}`,
      location: locate(ctx.src, [...path, resolved[1]!.key], { key: true }),
      hint: 'split it into one step per kind',
    });
    return undefined;
  }
  const { key, kind, target, qualified } = resolved[0]!;
  if (!ctx.used.has(target)) ctx.used.set(target, [...path, key]);
  const validate = stepValidator(kind, key);
  if (!validate(raw)) {
    ctx.diags.push(...ajvToDiagnostics(validate.errors ?? [], ctx.src, path, `a '${qualified}' step`));
    return undefined;
  }
  const nDiags = ctx.diags.length;
  checkDurations(raw, ['timeout', 'backoff'], path, ctx);
  if (ctx.diags.length > nDiags) return undefined;
  const siblings = Object.keys(kind.siblings ?? {});
  const config = siblings.length > 0 ? Object.fromEntries([[kind.name, raw[key]], ...siblings.map((s) => [s, raw[s]])]) : raw[key];
  const before = ctx.diags.length;
  ctx.diags.push(...(kind.check?.(config, { locate: (p) => locate(ctx.src, [...path, key, ...p]), castleDir: ctx.castleDir }) ?? []));
  if (ctx.diags.slice(before).some((d) => d.severity === 'error')) return undefined;
  const name = raw['name'];
  return {
    kind,
    target,
    qualified,
    config,
    label: typeof name === 'string' ? name : (kind.label?.(config) ?? kind.name),
    timeoutMs: durationOf(raw['timeout'] as string | undefined, durationOf(ctx.defaults.timeout, null)),
    retries: (raw['retries'] as number | undefined) ?? ctx.defaults.retries ?? 0,
    retryOn: (raw['retryOn'] as string[] | undefined) ?? ctx.defaults.retryOn ?? [],
    backoffMs: durationOf(raw['backoff'] as string | undefined, durationOf(ctx.defaults.backoff, 1000)) ?? 1000,
    location: locate(ctx.src, [...path, key], { key: true }),
    path,
  };
}

function resolveSteps(list: RawStep[] | undefined | null, path: PathSeg[], ctx: Ctx): StepSpec[] {
  // ctx.selected is the list's target (the layer's or the castle's)
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
        ctx.diags.push({
          severity: 'error',
          rule: 'dag/self-dependency',
          message: `layer '${dep}' depends on itself`,
          location: at,
          hint: `remove '${dep}' from its dependsOn`,
        });
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
  for (const cycle of findCycles(
    names,
    edges.filter((e) => e.from !== e.to && firstAt.has(e.to)),
  )) {
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

function checkTargetName(name: string | undefined, path: PathSeg[], ctx: Ctx): void {
  if (name === undefined || ctx.registry.target(name)) return;
  const known = ctx.registry.targets().map((t) => t.name);
  const guess = closest(name, known);
  ctx.diags.push({
    severity: 'error',
    rule: 'spec/unknown-target',
    message: `unknown target '${name}'`,
    location: locate(ctx.src, path),
    hint: guess ? `did you mean '${guess}'? targets: ${known.join(', ')}` : `targets: ${known.join(', ')}`,
  });
}

/** Reads and checks castle.yaml. Returns a validated spec, or every diagnostic found. */
export async function loadCastle(file: string, registry: TargetRegistry, opts: { stateDir?: string } = {}): Promise<Analysis<CastleSpec>> {
  const abs = resolve(file);
  let buf: Buffer;
  try {
    // not read at all when too large: the size alone is the diagnostic
    const size = (await stat(abs)).size;
    if (size > MAX_TEXT_FILE_BYTES) return { ok: false, diagnostics: [tooLarge(abs, size, 'castle file')] };
    buf = await readFile(abs);
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
  const text = decodeTextFile(abs, buf, 'castle file');
  if (!text.ok) return { ok: false, diagnostics: [text.diagnostic] };
  return analyzeCastle(abs, text.text, registry, opts);
}

export function analyzeCastle(abs: string, text: string, registry: TargetRegistry, opts: { stateDir?: string } = {}): Analysis<CastleSpec> {
  const { source: src, diagnostics } = parseYamlSource(abs, text);
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  if (src.docs.length !== 1) {
    const loc = src.docs[1] ? locate(src, [], { doc: 1 }) : { file: abs, line: 1, col: 1 };
    return {
      ok: false,
      diagnostics: [
        {
          severity: 'error',
          rule: 'spec/documents',
          message: src.docs.length === 0 ? 'castle.yaml is empty' : 'castle.yaml holds one YAML document; found more',
          location: loc,
        },
      ],
    };
  }
  let raw: unknown;
  try {
    raw = src.docs[0]!.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return {
      ok: false,
      diagnostics: [
        { severity: 'error', rule: 'yaml/aliases', message: `cannot expand the document: ${(err as Error).message}`, location: { file: abs, line: 1, col: 1 } },
      ],
    };
  }
  const validateCastle = castleValidator(registry);
  if (!validateCastle(raw)) {
    return { ok: false, diagnostics: ajvToDiagnostics(validateCastle.errors ?? [], src, [], 'the castle') };
  }
  const dir = dirname(abs);
  const selected = raw.target ?? registry.defaultTarget;
  const ctx: Ctx = { src, registry, selected, used: new Map(), defaults: raw.defaults ?? {}, castleDir: dir, diags: [] };
  checkTargetName(raw.target, ['target'], ctx);
  raw.layers.forEach((l, i) => checkTargetName(l.target, ['layers', i, 'target'], ctx));
  checkDurations(raw as unknown as Record<string, unknown>, ['budget'], [], ctx);
  checkDurations(raw.defaults as Record<string, unknown> | undefined, ['timeout', 'backoff', 'killGrace'], ['defaults'], ctx);
  checkLayers(raw, ctx);
  const layers: LayerSpec[] = raw.layers.map((l, i) => {
    const lctx: Ctx = { ...ctx, selected: l.target ?? selected };
    return {
      name: l.name,
      description: l.description ?? undefined,
      dependsOn: [...new Set(l.dependsOn ?? [])],
      target: lctx.selected,
      apply: resolveSteps(l.apply, ['layers', i, 'apply'], lctx),
      destroy: resolveSteps(l.destroy, ['layers', i, 'destroy'], lctx),
      location: locate(src, ['layers', i, 'name']),
    };
  });
  const gate = resolveSteps(raw.rebirth?.gate, ['rebirth', 'gate'], ctx);
  const proof = resolveSteps(raw.rebirth?.proof, ['rebirth', 'proof'], ctx);
  const targets: Record<string, unknown> = {};
  const blockOf = raw as unknown as Record<string, unknown>;
  for (const t of registry.targets()) {
    const block = blockOf[t.name];
    if (t.block === undefined) continue;
    if (block === undefined || block === null) {
      const usedAt = ctx.used.get(t);
      if (t.block.required && usedAt)
        ctx.diags.push({
          severity: 'error',
          rule: 'spec/missing-target-block',
          message: `this step is a kind of target '${t.name}', whose steps need a \`${t.name}:\` block, and the castle has none`,
          location: locate(src, usedAt, { key: true }),
          hint: `add a \`${t.name}:\` block at the top level of castle.yaml (see \`castle init\` and the README)`,
        });
      continue;
    }
    const v = targetValidator(t);
    if (!v(block)) ctx.diags.push(...ajvToDiagnostics(v.errors ?? [], src, [t.name], `the ${t.name} block`));
    else {
      ctx.diags.push(...(t.block.check?.(block, { locate: (p) => locate(src, [t.name, ...p]), castleDir: dir }) ?? []));
      targets[t.name] = block;
    }
  }
  if (ctx.diags.some((d) => d.severity === 'error')) return { ok: false, diagnostics: ctx.diags };
  const uses = registry.targets().filter((t) => ctx.used.has(t) || targets[t.name] !== undefined);
  const spec: CastleSpec = Object.freeze({
    name: raw.name,
    description: raw.description ?? undefined,
    file: abs,
    dir,
    stateDir: resolve(dir, opts.stateDir ?? raw.stateDir ?? '.castle'),
    budgetMs: durationOf(raw.budget ?? undefined, null),
    concurrency: raw.concurrency ?? 4,
    killGraceMs: durationOf(raw.defaults?.killGrace ?? undefined, DEFAULT_KILL_GRACE_MS) ?? DEFAULT_KILL_GRACE_MS,
    target: selected,
    targets,
    uses,
    layers,
    gate,
    proof,
    source: src,
  });
  return { ok: true, value: spec, warnings: ctx.diags };
}
