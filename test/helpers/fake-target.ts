// A target whose one step kind does what the test says, in process: for the planner's and the
// executor's unit tests (no processes, no files beyond the step logs).
import type { Analysis } from '../../src/diag/diagnostic.js';
import type { Result } from '../../src/core/result.js';
import { lazyKind, type StepContext, type StepKind, type StepResult } from '../../src/core/step.js';
import type { Target } from '../../src/core/target.js';
import { TargetRegistry } from '../../src/core/registry.js';
import { analyzeCastle } from '../../src/spec/load.js';
import type { CastleSpec } from '../../src/spec/types.js';
import { genericTarget } from '../../src/targets/generic/index.js';

/** What a `fake.step: <name>` step does on each attempt (1-based); without a script it succeeds. */
export type Script = (ctx: StepContext, attempt: number, session: FakeSession) => Promise<StepResult>;

export interface FakeSession {
  readonly id: number;
  closed: boolean;
}

export class FakeWorld {
  readonly scripts = new Map<string, Script>();
  /** `start <name>` / `end <name>` in the order they happened */
  readonly trace: string[] = [];
  readonly attempts = new Map<string, number>();
  readonly sessions: FakeSession[] = [];
  /** fails the next opening of the session with this reason */
  failNextOpen: string | undefined;
  running = 0;
  maxRunning = 0;
  /** resolved when the `lazy` kind's module is loaded */
  readonly lazyLoaded = deferred();

  readonly target: Target<undefined, FakeSession>;

  constructor() {
    const world = this;
    const step: StepKind<string, FakeSession> = {
      name: 'step',
      description: 'does what the test scripts',
      schema: { type: 'string' },
      label: (name) => `fake ${name}`,
      async run(name, ctx, session) {
        const attempt = (world.attempts.get(name) ?? 0) + 1;
        world.attempts.set(name, attempt);
        world.trace.push(`start ${name}`);
        world.running++;
        world.maxRunning = Math.max(world.maxRunning, world.running);
        try {
          return await (world.scripts.get(name) ?? (async () => ({ ok: true })))(ctx, attempt, session);
        } finally {
          world.running--;
          world.trace.push(`end ${name}`);
        }
      },
    };
    const keeper: StepKind<string, FakeSession> = { ...step, name: 'keeper', description: 'a step that holds data', holdsData: true };
    // a kind whose `run` is loaded on demand, as the real targets' kinds are
    const lazy = lazyKind<string, FakeSession>({ name: 'lazy', description: 'loaded on its first use', schema: { type: 'string' } }, async () => {
      world.trace.push('load lazy');
      world.lazyLoaded.resolve();
      return { run: step.run };
    });
    const gate: StepKind<string, FakeSession> = { ...step, name: 'gate', description: 'a backup gate', backupGate: true };
    this.target = {
      name: 'fake',
      description: 'test target',
      kinds: [step, keeper, gate, lazy],
      session: {
        open: async (): Promise<Result<FakeSession>> => {
          if (world.failNextOpen !== undefined) {
            const reason = world.failNextOpen;
            world.failNextOpen = undefined;
            return { ok: false, reason };
          }
          const s = { id: world.sessions.length + 1, closed: false };
          world.sessions.push(s);
          return { ok: true, value: s };
        },
        close: async (s) => {
          s.closed = true;
        },
      },
    };
  }

  registry(): TargetRegistry {
    return new TargetRegistry().register(genericTarget).register(this.target, { asDefault: true });
  }

  /** whether the step named `name` has started */
  started(name: string): boolean {
    return this.trace.includes(`start ${name}`);
  }
}

export function castleOf(yaml: string, world: FakeWorld, stateDir = '/nonexistent/state'): Analysis<CastleSpec> {
  return analyzeCastle('/virtual/castle.yaml', yaml, world.registry(), { stateDir });
}

export function mustCastle(yaml: string, world: FakeWorld, stateDir?: string): CastleSpec {
  const r = castleOf(yaml, world, stateDir);
  if (!r.ok) throw new Error(`castle.yaml: ${r.diagnostics.map((d) => `${d.location?.line ?? '?'}:${d.location?.col ?? '?'} ${d.message}`).join('; ')}`);
  return r.value;
}

/** A promise and the function that settles it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
