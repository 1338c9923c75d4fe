// The target contract at library level: kind names resolved per target, blocks checked against their
// target's schema, and the per-run session a target's kinds share (opened once, closed at the end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetRegistry } from '../../src/core/registry.js';
import { fail, ok } from '../../src/core/result.js';
import type { StepKind } from '../../src/core/step.js';
import type { Target } from '../../src/core/target.js';
import type { CastleEvent } from '../../src/events.js';
import { executePlan } from '../../src/engine/execute.js';
import { castleRunState } from '../../src/engine/run-state.js';
import { Redactor } from '../../src/engine/redact.js';
import { StepLogs } from '../../src/engine/step-log.js';
import { buildPlan } from '../../src/plan/plan.js';
import { analyzeCastle } from '../../src/spec/load.js';
import { castleJsonSchema } from '../../src/spec/json-schema.js';
import { genericTarget } from '../../src/targets/generic/index.js';

interface Box {
  readonly id: number;
  readonly seen: string[];
}

/** Two fake targets with a kind of the same name, one of them with a session and a required block. */
function fixture(opts: { failOpens?: number } = {}) {
  const log: string[] = [];
  let opened = 0;
  let failOpens = opts.failOpens ?? 0;
  const vault: StepKind<{ item: string }, Box> = {
    name: 'store',
    description: 'put an item in the box',
    schema: { type: 'object', required: ['item'], additionalProperties: false, properties: { item: { type: 'string' } } },
    run: async (c, ctx, box) => {
      box.seen.push(c.item);
      log.push(`vault.store ${c.item} in box ${box.id} (${ctx.section}, resumes ${ctx.resumes.join(',') || '-'}, backupSkipped ${ctx.backupSkipped})`);
      return { ok: true };
    },
  };
  const vaultTarget: Target<{ size: number }, Box> = {
    name: 'vault',
    description: 'a fake target with a session',
    block: {
      schema: { type: 'object', required: ['size'], additionalProperties: false, properties: { size: { type: 'integer', minimum: 1 } } },
      required: true,
    },
    kinds: [vault],
    describe: (c) => [`a box of size ${c?.size ?? '?'}`],
    session: {
      open: async (config) => {
        if (failOpens-- > 0) return fail('the vault is sealed', { retryable: true });
        opened++;
        log.push(`open size ${config?.size}`);
        return ok({ id: opened, seen: [] });
      },
      close: async (box) => {
        log.push(`close box ${box.id} with ${box.seen.join(',')}`);
      },
    },
  };
  const shed: StepKind<{ item: string }, undefined> = {
    name: 'store',
    description: 'put an item in the shed',
    schema: { type: 'object', required: ['item'], properties: { item: { type: 'string' } } },
    run: async (c) => {
      log.push(`shed.store ${c.item}`);
      return { ok: true };
    },
  };
  const shedTarget: Target<undefined, undefined> = { name: 'shed', description: 'a fake target without a session', kinds: [shed] };
  const registry = new TargetRegistry().register(genericTarget).register(vaultTarget, { asDefault: true }).register(shedTarget);
  return { registry, log, opens: () => opened };
}

function analyze(registry: TargetRegistry, yaml: string) {
  return analyzeCastle('/tmp/castle-targets-test/castle.yaml', yaml, registry);
}

async function run(registry: TargetRegistry, yaml: string, retries = 0): Promise<{ events: CastleEvent[]; status: string }> {
  const spec = analyze(registry, yaml);
  assert.ok(spec.ok, spec.ok ? '' : JSON.stringify(spec.diagnostics));
  const plan = buildPlan(spec.value, { operation: 'up' });
  assert.ok(plan.ok);
  const dir = mkdtempSync(join(tmpdir(), 'castle-targets-'));
  const events: CastleEvent[] = [];
  try {
    const redactor = new Redactor();
    const r = await executePlan(plan.value, {
      runId: 'r1',
      runDir: join(dir, 'run'),
      concurrency: 4,
      failFast: false,
      signal: new AbortController().signal,
      redactor,
      logs: new StepLogs(join(dir, 'run'), redactor),
      resumes: ['r0'],
      runs: castleRunState(dir),
      emit: (ev) => events.push(ev),
    });
    void retries;
    return { events, status: r.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a bare kind name is the selected target's; `target.kind` names any target's; a layer can select its own", async () => {
  const { registry, log } = fixture();
  const yaml = `name: t
vault: {size: 3}
layers:
  - {name: a, apply: [{store: {item: one}}, {shed.store: {item: two}}]}
  - {name: b, dependsOn: [a], target: shed, apply: [{store: {item: three}}, {vault.store: {item: four}}]}
`;
  const spec = analyze(registry, yaml);
  assert.ok(spec.ok);
  assert.deepEqual(
    spec.value.layers.flatMap((l) => l.apply.map((s) => s.qualified)),
    ['vault.store', 'shed.store', 'shed.store', 'vault.store'],
  );
  assert.deepEqual(
    spec.value.uses.map((t) => t.name),
    ['vault', 'shed'],
  );
  const r = await run(registry, yaml);
  assert.equal(r.status, 'succeeded');
  assert.deepEqual(log, [
    'open size 3',
    'vault.store one in box 1 (up, resumes r0, backupSkipped false)',
    'shed.store two',
    'shed.store three',
    'vault.store four in box 1 (up, resumes r0, backupSkipped false)',
    'close box 1 with one,four',
  ]);
});

test('steps of one target running in parallel share one session, opened once', async () => {
  const { registry, log, opens } = fixture();
  const layers = Array.from({ length: 6 }, (_, i) => `  - {name: l${i}, apply: [{store: {item: i${i}}}]}`).join('\n');
  const r = await run(registry, `name: t\nvault: {size: 1}\nlayers:\n${layers}\n`);
  assert.equal(r.status, 'succeeded');
  assert.equal(opens(), 1);
  assert.equal(log.filter((l) => l.startsWith('close')).length, 1);
  assert.match(log.at(-1)!, /^close box 1 with (i\d,){5}i\d$/);
});

test("a session that cannot open fails the step that needed it, with the target's reason", async () => {
  const { registry, log } = fixture({ failOpens: 1 });
  const r = await run(registry, 'name: t\nvault: {size: 1}\nlayers: [{name: a, apply: [{store: {item: x}}]}]\n');
  assert.equal(r.status, 'failed');
  const fin = r.events.find((e) => e.type === 'step-finished');
  assert.ok(fin && fin.type === 'step-finished');
  assert.equal(fin.status, 'failed');
  assert.equal(fin.reason, 'the vault is sealed');
  assert.deepEqual(log, []);
});

test('a failed opening is tried again by the next attempt', async () => {
  const { registry, log } = fixture({ failOpens: 1 });
  const r = await run(registry, 'name: t\nvault: {size: 1}\nlayers: [{name: a, apply: [{store: {item: x}, retries: 1, backoff: 1ms}]}]\n');
  assert.equal(r.status, 'succeeded');
  assert.deepEqual(log, ['open size 1', 'vault.store x in box 1 (up, resumes r0, backupSkipped false)', 'close box 1 with x']);
});

test('names, blocks and targets are checked at load with their location and what to do', () => {
  const { registry } = fixture();
  const cases: [string, RegExp][] = [
    ['name: t\ntarget: shed\nlayers: [{name: a, apply: [{bogus: {}}]}]\n', /unknown step kind 'bogus'/],
    ['name: t\ntarget: shedd\nlayers: [{name: a, apply: [{noop: {}}]}]\n', /unknown target 'shedd'.*did you mean 'shed'/s],
    ['name: t\nlayers: [{name: a, target: valt, apply: [{noop: {}}]}]\n', /unknown target 'valt'.*did you mean 'vault'/s],
    ['name: t\nlayers: [{name: a, apply: [{store: {item: x}}]}]\n', /target 'vault', whose steps need a `vault:` block/],
    ['name: t\nvault: {size: 0}\nlayers: [{name: a, apply: [{store: {item: x}}]}]\n', /vault\.size/],
    ['name: t\nvault: {size: 1}\nlayers: [{name: a, apply: [{shed.store: {}}]}]\n', /shed\.store/],
  ];
  for (const [yaml, re] of cases) {
    const r = analyze(registry, yaml);
    assert.equal(r.ok, false, yaml);
    if (r.ok) continue;
    const text = r.diagnostics.map((d) => `${d.location?.line}:${d.location?.col} ${d.message} ${d.hint ?? ''}`).join('\n');
    assert.match(text, re, yaml);
    assert.ok(
      r.diagnostics.every((d) => d.location && d.location.line > 0),
      `located: ${text}`,
    );
  }
});

test('a kind of another target written bare says which target has it and how to write it', () => {
  const { registry } = fixture();
  const r = analyze(registry, 'name: t\ntarget: shed\nlayers: [{name: a, apply: [{nope: {}}]}, {name: b, target: generic, apply: [{store: {item: x}}]}]\n');
  assert.equal(r.ok, false);
  if (r.ok) return;
  const d = r.diagnostics.find((x) => x.message.includes("'store'"));
  assert.ok(d, JSON.stringify(r.diagnostics));
  assert.match(d.message, /'store' is a step kind of target 'vault'/);
  assert.match(d.hint ?? '', /write 'vault\.store', or set `target: vault` on the layer/);
});

test("the editor schema has each target's block and its kinds, qualified and bare for the default target", () => {
  const { registry } = fixture();
  const schema = castleJsonSchema(registry) as { properties: Record<string, any> };
  assert.equal(schema.properties['vault'].properties.size.minimum, 1);
  const titles = schema.properties['layers'].items.properties.apply.items.anyOf.map((s: { title: string }) => s.title).sort();
  assert.deepEqual(titles, ['noop', 'run', 'shed.store', 'store', 'vault.store', 'waitFor']);
});

test('registering a target twice, or a kind twice in a target, is a bug found at once', () => {
  const { registry } = fixture();
  assert.throws(() => registry.register(genericTarget), /registered twice/);
  const k: StepKind<unknown, undefined> = { name: 'x', description: '', schema: {}, run: async () => ({ ok: true }) };
  assert.throws(() => new TargetRegistry().register({ name: 'dup', description: '', kinds: [k, k] }), /registered twice/);
});
