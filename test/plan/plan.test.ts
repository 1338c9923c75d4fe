import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan, criticalPath, layerWaves, type Plan } from '../../src/plan/plan.js';
import { stepHashes } from '../../src/plan/step-hash.js';
import { FakeWorld, mustCastle } from '../helpers/fake-target.js';

const world = new FakeWorld();

const CASTLE = `name: plan
layers:
  - name: store
    apply: [{step: s0}]
  - name: db
    dependsOn: [store]
    apply: [{step: d0}, {step: d1}]
    destroy: [{keeper: db-down}]
  - name: empty
    dependsOn: [db]
  - name: app
    dependsOn: [empty]
    apply: [{step: a0}]
    destroy: [{step: app-down}]
  - name: side
    dependsOn: [store]
    apply: [{step: x0}]
rebirth:
  gate: [{gate: g0}, {step: g1}]
  proof: [{step: p0}]
`;

function plan(op: 'up' | 'down' | 'rebirth', extra: Parameters<typeof buildPlan>[1] extends infer O ? Partial<O> : never = {}, yaml = CASTLE): Plan {
  const r = buildPlan(mustCastle(yaml, world), { operation: op, ...extra });
  assert.ok(r.ok, r.ok ? '' : r.diagnostics.map((d) => d.message).join('\n'));
  return r.value;
}

const deps = (p: Plan): Record<string, readonly string[]> => Object.fromEntries(p.steps.map((s) => [s.id, s.deps]));

function assertTopological(p: Plan): void {
  const seen = new Set<string>();
  for (const s of p.steps) {
    for (const d of s.deps) assert.ok(seen.has(d), `${s.id} comes after its dependency ${d}`);
    seen.add(s.id);
  }
}

test('up: each layer in sequence after the layers it depends on; an empty layer passes its dependencies through', () => {
  const p = plan('up');
  assertTopological(p);
  assert.deepEqual(deps(p), {
    'up/store/0': [],
    'up/db/0': ['up/store/0'],
    'up/db/1': ['up/db/0'],
    'up/side/0': ['up/store/0'],
    'up/app/0': ['up/db/1'],
  });
  assert.deepEqual(p.scope, ['store', 'db', 'empty', 'app', 'side']);
  assert.equal(p.byId.get('up/db/1')?.spec.qualified, 'fake.step');
  assert.equal(p.byId.get('up/db/1')?.spec.config, 'd1');
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.steps) && Object.isFrozen(p.steps[0]), 'a plan is frozen');
});

test('down: layers in reverse dependency order (dependents first); no gate when no layer in scope holds data', () => {
  const p = plan('down');
  assertTopological(p);
  // db holds data (keeper) and the castle has a gate: down runs the gate first
  assert.deepEqual(deps(p), {
    'gate/0': [],
    'gate/1': ['gate/0'],
    'down/app/0': ['gate/1'],
    'down/db/0': ['down/app/0'],
  });
  const onlyApp = plan('down', { only: ['app'] });
  assert.deepEqual(deps(onlyApp), { 'down/app/0': [] }, 'app holds no data: no gate');
});

test('rebirth: gate, then down, then up, then proof, each section after the whole previous one', () => {
  const p = plan('rebirth');
  assertTopological(p);
  assert.deepEqual(
    p.steps.map((s) => s.id),
    ['gate/0', 'gate/1', 'down/app/0', 'down/db/0', 'up/store/0', 'up/db/0', 'up/db/1', 'up/side/0', 'up/app/0', 'proof/0'],
  );
  // up starts after the last down step (and after the gate, through the layers without destroy steps)
  assert.deepEqual([...p.byId.get('up/store/0')!.deps].sort(), ['down/db/0', 'gate/1']);
  assert.deepEqual([...p.byId.get('proof/0')!.deps].sort(), ['up/app/0', 'up/side/0'], 'the proof waits for every exit of up');
  assert.equal(p.byId.get('gate/0')?.section, 'gate');
  assert.equal(p.backupSkipped, false);
  assert.equal(p.proofSkipped, false);
  const cp = criticalPath(p, () => 1);
  assert.deepEqual(cp.path, ['gate/0', 'gate/1', 'down/app/0', 'down/db/0', 'up/store/0', 'up/db/0', 'up/db/1', 'up/app/0', 'proof/0']);
  assert.equal(cp.totalMs, 9);
});

test('rebirth --no-backup drops the gate and says so; --no-proof drops the proof', () => {
  const p = plan('rebirth', { noBackup: true, noProof: true });
  assert.ok(!p.steps.some((s) => s.section === 'gate' || s.section === 'proof'));
  assert.equal(p.backupSkipped, true);
  assert.equal(p.proofSkipped, true);
  assert.deepEqual(p.byId.get('down/app/0')?.deps, []);
});

test('a layer that holds data and a castle without a backup gate: rebirth and down are refused, at the layer', () => {
  const noGate = CASTLE.replace(/rebirth:[\s\S]*$/, '');
  const castle = mustCastle(noGate, world);
  for (const operation of ['rebirth', 'down'] as const) {
    const r = buildPlan(castle, { operation });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.diagnostics.map((d) => [d.rule, d.location?.line]),
      [['rebirth/no-backup-gate', 5]],
    );
    assert.match(r.diagnostics[0]!.message, new RegExp(`layer 'db' holds data, and the castle has no backup gate: ${operation} would wipe it`));
    assert.equal(r.diagnostics[0]!.hint, 'add a backup step under rebirth.gate, or pass --no-backup --i-accept-data-loss');
  }
  assert.ok(buildPlan(castle, { operation: 'up' }).ok, 'up wipes nothing');
  assert.ok(buildPlan(castle, { operation: 'rebirth', noBackup: true }).ok);
});

test('--only restricts to the named layers and assumes their dependencies in place; an unknown layer is an error naming the known ones', () => {
  const p = plan('up', { only: ['db', 'app'] });
  assert.deepEqual(deps(p), { 'up/db/0': [], 'up/db/1': ['up/db/0'], 'up/app/0': [] });
  const bad = buildPlan(mustCastle(CASTLE, world), { operation: 'up', only: ['nope'] });
  assert.ok(!bad.ok);
  assert.equal(bad.diagnostics[0]!.message, '--only nope: no such layer');
  assert.equal(bad.diagnostics[0]!.hint, 'layers: store, db, empty, app, side');
});

test('layerWaves groups layers whose dependencies are all in earlier waves', () => {
  const castle = mustCastle(CASTLE, world);
  assert.deepEqual(layerWaves(castle.layers), [['store'], ['db', 'side'], ['empty'], ['app']]);
});

test('step hashes: stable for the same castle and key order; a change of config or of a step before changes the hash from there on', () => {
  const a = stepHashes(plan('up'));
  assert.deepEqual(stepHashes(plan('up')), a);
  assert.equal(a.size, 5);
  assert.equal(new Set(a.values()).size, 5, 'steps of the same kind and place differ');
  const edited = stepHashes(plan('up', {}, CASTLE.replace('{step: d0}', '{step: d0-changed}')));
  assert.equal(edited.get('up/store/0'), a.get('up/store/0'));
  assert.equal(edited.get('up/side/0'), a.get('up/side/0'), 'a step that does not wait for the change keeps its hash');
  for (const id of ['up/db/0', 'up/db/1', 'up/app/0']) assert.notEqual(edited.get(id), a.get(id), id);
  const retimed = stepHashes(plan('up', {}, CASTLE.replace('{step: d0}', '{step: d0, timeout: 1m, retries: 3}')));
  assert.deepEqual(retimed, a, 'timeouts and retries change how a step is tried, not what it does');
  const qualified = stepHashes(plan('up', {}, CASTLE.replaceAll('{step:', '{fake.step:')));
  assert.deepEqual(qualified, a, '`step` and `fake.step` are the same kind');
});
