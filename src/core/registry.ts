import type { StepKind } from './step.js';
import { GENERIC_TARGET, type Target } from './target.js';

/** A step kind with the target it belongs to and its qualified name (`local.postgres`). */
export interface ResolvedKind {
  readonly target: Target;
  readonly kind: StepKind;
  readonly qualified: string;
}

/**
 * The targets Castle knows. A step key resolves as `target.kind`, or as a bare kind name looked up in
 * the generic kinds and then in the selected target (the layer's `target:`, else the castle's):
 * adding a target never changes what an existing castle.yaml means.
 */
export class TargetRegistry {
  readonly #targets = new Map<string, Target>();
  #default: string | undefined;

  /** `asDefault`: bare step names refer to this target's kinds when castle.yaml selects none */
  register(t: Target, opts: { asDefault?: boolean } = {}): this {
    if (this.#targets.has(t.name)) throw new Error(`target '${t.name}' registered twice`);
    if (t.name.includes('.')) throw new Error(`target name '${t.name}' contains a dot`);
    const seen = new Set<string>();
    for (const k of t.kinds) {
      if (seen.has(k.name)) throw new Error(`step kind '${k.name}' registered twice in target '${t.name}'`);
      if (k.name.includes('.')) throw new Error(`step kind name '${k.name}' contains a dot`);
      seen.add(k.name);
    }
    this.#targets.set(t.name, t);
    if (opts.asDefault) this.#default = t.name;
    return this;
  }

  /** the target a castle selects when it names none */
  get defaultTarget(): string {
    return this.#default ?? GENERIC_TARGET;
  }

  targets(): Target[] {
    return [...this.#targets.values()];
  }

  target(name: string): Target | undefined {
    return this.#targets.get(name);
  }

  /** `key` as written in castle.yaml; `selected` is the target a bare name falls back to */
  resolve(key: string, selected: string | undefined): ResolvedKind | undefined {
    const dot = key.indexOf('.');
    if (dot > 0) {
      const target = this.#targets.get(key.slice(0, dot));
      const kind = target?.kinds.find((k) => k.name === key.slice(dot + 1));
      return target && kind ? { target, kind, qualified: key } : undefined;
    }
    for (const name of [GENERIC_TARGET, selected]) {
      const target = name === undefined ? undefined : this.#targets.get(name);
      const kind = target?.kinds.find((k) => k.name === key);
      if (target && kind) return { target, kind, qualified: target.name === GENERIC_TARGET ? key : `${target.name}.${key}` };
    }
    return undefined;
  }

  /** every kind, with its qualified name (generic kinds are unqualified) */
  kinds(): ResolvedKind[] {
    return this.targets().flatMap((target) =>
      target.kinds.map((kind) => ({ target, kind, qualified: target.name === GENERIC_TARGET ? kind.name : `${target.name}.${kind.name}` })),
    );
  }

  /** the shortest name of every kind when `selected` is the step's target (bare for its own and the generic kinds), sorted */
  keysFor(selected: string | undefined): string[] {
    const near = new Set([GENERIC_TARGET, selected]);
    return [...new Set(this.kinds().map((k) => (near.has(k.target.name) ? k.kind.name : k.qualified)))].sort();
  }
}
