import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { castle, castleDir, events, runIds, summary } from '../helpers/cli.js';

const count = (dir: string, name: string): number => (existsSync(join(dir, `${name}.count`)) ? readFileSync(join(dir, `${name}.count`), 'utf8').length / 2 : 0);
const step = (name: string, extra = ''): string => `{run: "${extra}echo x >> ${name}.count"}`;

function warnings(dir: string): string[] {
  return events(dir).flatMap((e) => (e.type === 'warning' ? [e.message] : []));
}

test('--resume after a step was inserted before the failed one runs the new step, and says which steps run again', () => {
  const before = (apply: string[]): string => `name: edited
layers:
  - name: one
    apply: [${apply.join(', ')}]
  - name: two
    dependsOn: [one]
    apply: [${step('d')}]
`;
  const dir = castleDir(before([step('a'), step('b'), step('c', 'test -f fixed && ')]));
  assert.equal(castle(dir, ['up']).code, 1);
  const first = runIds(dir)[0]!;
  assert.deepEqual(summary(dir, first).succeeded, ['up/one/0', 'up/one/1']);

  // a step inserted between a and b: b and c move one place down
  writeFileSync(join(dir, 'castle.yaml'), before([step('a'), step('inserted'), step('b'), step('c', 'test -f fixed && ')]));
  writeFileSync(join(dir, 'fixed'), '');
  const r = castle(dir, ['up', '--resume']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(count(dir, 'a'), 1, 'a is unchanged at its place: skipped');
  assert.equal(count(dir, 'inserted'), 1, 'the inserted step took the place of a step done before: it runs');
  assert.equal(count(dir, 'b'), 2, 'b moved: it runs again');
  assert.equal(count(dir, 'c'), 1);
  assert.equal(count(dir, 'd'), 1);
  const done = new Map(events(dir).flatMap((e) => (e.type === 'step-finished' ? [[e.stepId, e.status] as const] : [])));
  assert.deepEqual(Object.fromEntries(done), {
    'up/one/0': 'skipped',
    'up/one/1': 'succeeded',
    'up/one/2': 'succeeded',
    'up/one/3': 'succeeded',
    'up/two/0': 'succeeded',
  });
  const w = warnings(dir);
  assert.equal(w.length, 1, w.join('\n'));
  assert.match(w[0]!, new RegExp(`^step up/one/1 runs again although run ${first} did it: castle.yaml changed it, or a step before it`));
  assert.match(r.stdout, /step up\/one\/1 runs again/);
  assert.equal(Object.keys(summary(dir, first).hashes).length, 4, 'a hash per step, beside succeeded');
});

test("--resume after a done step's config changed runs it again and everything after it, not the unchanged steps before it", () => {
  const yaml = (b: string): string => `name: edited-config
layers:
  - name: one
    apply: [${step('a')}, ${b}, ${step('c', 'test -f fixed && ')}]
`;
  const dir = castleDir(yaml(step('b')));
  assert.equal(castle(dir, ['up']).code, 1);
  writeFileSync(join(dir, 'castle.yaml'), yaml(`{run: "echo x >> b.count", timeout: 5m}`).replace('echo x >> b.count', 'echo x >> b.count; true'));
  writeFileSync(join(dir, 'fixed'), '');
  const r = castle(dir, ['up', '--resume']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual([count(dir, 'a'), count(dir, 'b'), count(dir, 'c')], [1, 2, 1]);
  assert.deepEqual(
    warnings(dir).map((m) => m.split(' ')[1]),
    ['up/one/1'],
  );
  // the resumed run records the hashes of what it ran: a further resume compares with them
  const [then, now] = runIds(dir).map((id) => summary(dir, id));
  assert.deepEqual(now!.succeeded, ['up/one/0', 'up/one/1', 'up/one/2']);
  assert.equal(now!.hashes['up/one/0'], then!.hashes['up/one/0']);
  assert.notEqual(now!.hashes['up/one/1'], then!.hashes['up/one/1']);
});

test('--resume with castle.yaml unchanged warns of nothing; a timeout or retries change is not a change', () => {
  const yaml = (extra: string): string => `name: same
layers:
  - name: one
    apply: [${step('a')}, {run: "test -f fixed && echo x >> b.count"${extra}}]
`;
  const dir = castleDir(yaml(''));
  assert.equal(castle(dir, ['up']).code, 1);
  writeFileSync(join(dir, 'castle.yaml'), yaml(', retries: 2, timeout: 1m').replace(`${step('a')}`, `{run: "echo x >> a.count", timeout: 30s}`));
  writeFileSync(join(dir, 'fixed'), '');
  const r = castle(dir, ['up', '--resume']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual([count(dir, 'a'), count(dir, 'b')], [1, 1]);
  assert.deepEqual(warnings(dir), []);
});
