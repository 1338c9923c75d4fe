import { test } from 'node:test';
import assert from 'node:assert/strict';
import { castle, castleDir } from '../helpers/cli.js';

function check(yaml: string, args: string[] = ['plan']): { code: number | null; err: string } {
  const dir = castleDir(yaml);
  const r = castle(dir, args);
  return { code: r.code, err: r.stderr.replaceAll(dir + '/', '') };
}

test('a cycle is a diagnostic that names every edge with its location', () => {
  const { code, err } = check(`name: cyclic
layers:
  - name: a
    dependsOn: [c]
  - name: b
    dependsOn: [a]
  - name: c
    dependsOn: [b]
`);
  assert.equal(code, 2);
  assert.equal(
    err,
    `castle.yaml:4:17: error dag/cycle: dependency cycle: a -> c -> b -> a
  4 |     dependsOn: [c]
    |                 ^
  castle.yaml:4:17: note: 'a' depends on 'c'
    4 |     dependsOn: [c]
      |                 ^
  castle.yaml:8:17: note: 'c' depends on 'b'
    8 |     dependsOn: [b]
      |                 ^
  castle.yaml:6:17: note: 'b' depends on 'a'
    6 |     dependsOn: [a]
      |                 ^
  hint: remove one of these dependsOn entries
1 error, 0 warnings
`,
  );
});

test('self-dependency, unknown dependency and duplicate layer names are located', () => {
  const { code, err } = check(`name: bad
layers:
  - name: app
    dependsOn: [app, platfrom]
  - name: platform
  - name: app
`);
  assert.equal(code, 2);
  assert.match(err, /^castle\.yaml:6:11: error spec\/duplicate-layer: layer 'app' is defined twice$/m);
  assert.match(err, /^  castle\.yaml:3:11: note: first defined here$/m);
  assert.match(err, /^castle\.yaml:4:17: error dag\/self-dependency: layer 'app' depends on itself$/m);
  assert.match(err, /^castle\.yaml:4:22: error dag\/unknown-layer: layer 'app' depends on 'platfrom', which is not a layer of this castle$/m);
  assert.match(err, /hint: did you mean 'platform'\?/);
  assert.match(err, /^3 errors, 0 warnings$/m);
});

test('malformed YAML points at the syntax error', () => {
  const { code, err } = check('name: broken\nlayers:\n  - name: a\n    apply: [{run: "x"\n');
  assert.equal(code, 2);
  assert.match(err, /^castle\.yaml:\d+:\d+: error yaml\/syntax: /m);
});

test('duplicate keys are an error, as in strict decoding', () => {
  const { code, err } = check('name: a\nname: b\nlayers: [{name: x}]\n');
  assert.equal(code, 2);
  assert.match(err, /^castle\.yaml:2:1: error yaml\/duplicate-key: /m);
});

test('unknown fields get a did-you-mean, wrong types say what was expected', () => {
  const { code, err } = check(`name: typo
budgett: 12m
layers:
  - name: a
    dependsOn: platform
    apply:
      - run: "true"
        retries: many
`);
  assert.equal(code, 2);
  assert.match(err, /^castle\.yaml:2:1: error spec\/unknown-field: unknown field 'budgett' in the castle$/m);
  assert.match(err, /hint: did you mean 'budget'\?/);
  assert.match(err, /^castle\.yaml:5:16: error spec\/wrong-type: layers\[0\]\.dependsOn must be an array$/m);
});

test('step fields are checked against the step kind', () => {
  const { code, err } = check(`name: steps
layers:
  - name: a
    apply:
      - run: "true"
        retries: many
      - rnu: "true"
      - {run: "true", noop: {}}
      - {waitFor: {tcp: "localhost"}}
`);
  assert.equal(code, 2);
  assert.match(err, /^castle\.yaml:6:18: error spec\/wrong-type: layers\[0\]\.apply\[0\]\.retries must be a whole number$/m);
  assert.match(err, /^castle\.yaml:7:9: error spec\/unknown-step-kind: unknown step kind 'rnu'$/m);
  // the default target's and the generic kinds bare, every other target's qualified (`proxmox.machines`), sorted
  const known = /hint: did you mean 'run'\? known kinds: (.*)$/m.exec(err)?.[1]?.split(', ') ?? [];
  assert.deepEqual(known, [...known].sort());
  assert.deepEqual(
    known.filter((k) => !k.includes('.')),
    ['backup', 'blog', 'noop', 'objectStore', 'pgbouncer', 'postgres', 'proof', 'run', 'sql', 'waitFor'],
  );
  assert.ok(
    known.some((k) => k.includes('.')),
    'other targets are listed qualified',
  );
  assert.match(err, /^castle\.yaml:8:23: error spec\/ambiguous-step: a step has exactly one kind, this one has 2: run, noop$/m);
  assert.match(err, /^castle\.yaml:9:25: error spec\/invalid: layers\[0\]\.apply\[3\]\.waitFor\.tcp must match pattern/m);
});

test('names must be DNS-1123 labels and durations must parse', () => {
  const steps = check('name: ok\nlayers: [{name: a, apply: [{run: "true", timeout: 30s1m}]}]\n');
  assert.equal(steps.code, 2);
  assert.match(steps.err, /^castle\.yaml:2:51: error spec\/bad-duration: layers\[0\]\.apply\[0\]\.timeout: not a duration$/m);
  const { code, err } = check('name: Tazlab_Castle\nbudget: soon\nlayers: [{name: a}]\n');
  assert.equal(code, 2);
  assert.match(err, /^castle\.yaml:1:7: error spec\/bad-name: name: invalid name$/m);
  assert.match(err, /^castle\.yaml:2:9: error spec\/bad-duration: budget: not a duration$/m);
});

test('a missing castle file says how to create one', () => {
  const dir = castleDir('name: x\nlayers: [{name: a}]\n');
  const r = castle(dir, ['plan', '-f', 'nope.yaml']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error spec\/unreadable: nope\.yaml: no such file\n  hint: run `castle init` to create one, or pass -f PATH/);
});

test('plan shows waves and the critical path', () => {
  const dir = castleDir(`name: waves
budget: 12m
layers:
  - {name: secrets}
  - {name: platform, dependsOn: [secrets], apply: [{run: "true"}]}
  - {name: networking, dependsOn: [platform], apply: [{run: "true"}]}
  - {name: storage, dependsOn: [platform], apply: [{run: "true"}, {run: "true"}]}
`);
  const r = castle(dir, ['plan']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^  1\. secrets ~0ms$/m);
  assert.match(r.stdout, /^  2\. platform ~\?$/m);
  assert.match(r.stdout, /^  3\. networking ~\? \| storage ~\?$/m);
  assert.match(r.stdout, /^critical path: up\/platform\/0 -> up\/storage\/0 -> up\/storage\/1 \(no earlier runs: expected times unknown\)$/m);
  assert.equal(castle(dir, ['up']).code, 0);
  const again = castle(dir, ['plan']);
  assert.match(again.stdout, /^  2\. platform ~\d+ms$/m, 'expected times come from history');
});
