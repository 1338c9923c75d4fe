import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { castleJsonSchema } from '../../src/spec/json-schema.js';
import { defaultRegistry } from '../../src/targets/registry.js';
import { castle, castleDir, runIds } from '../helpers/cli.js';

test('--json streams every event as one JSON object per line, the same as the log', () => {
  const dir = castleDir('name: json\nlayers: [{name: a, apply: [{run: "echo hi"}]}]\n');
  const r = castle(dir, ['up', '--json']);
  assert.equal(r.code, 0);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.type),
    ['run-started', 'step-started', 'step-finished', 'run-finished'],
  );
  const log = readFileSync(join(dir, '.castle', 'runs', runIds(dir)[0]!, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(lines, log);
});

test('report writes a self-contained HTML timeline of a run', () => {
  const dir = castleDir('name: rep\nbudget: 1m\nlayers: [{name: a, apply: [{run: "true"}]}, {name: b, apply: [{run: "true"}]}]\n');
  castle(dir, ['up']);
  castle(dir, ['up']);
  const r = castle(dir, ['report', '-o', 'r.html']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), join(dir, 'r.html'));
  const html = readFileSync(join(dir, 'r.html'), 'utf8');
  assert.match(html, /^<!doctype html>/i);
  assert.match(html, /<svg/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no scripts, no external resources');
  assert.ok(html.includes('up/a/0') && html.includes('up/b/0'));
});

test('the committed JSON Schema for editors matches the schema in code and accepts the examples', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const committed = JSON.parse(readFileSync(join(root, 'schema', 'castle.schema.json'), 'utf8'));
  const generated = castleJsonSchema(defaultRegistry());
  assert.deepEqual(committed, generated, 'run `npm run schema` and commit schema/castle.schema.json');
  const validate = new Ajv({ strict: false, allErrors: true }).compile(generated);
  for (const ex of ['examples/engine/castle.yaml']) {
    const doc = parse(readFileSync(join(root, ex), 'utf8'));
    assert.ok(validate(doc), `${ex}: ${JSON.stringify(validate.errors)}`);
  }
  assert.equal(validate({ name: 'x', layers: [{ name: 'a', apply: [{ rnu: 'true' }] }] }), false);
});
