import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { castle, castleDir } from '../helpers/cli.js';

test('castle --version prints the version of package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = castle(castleDir('name: v\nlayers: []\n'), ['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('the castle command runs as its first lines say, as the kernel runs it: sh, which runs Node with its options', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const [first, second] = readFileSync(cli, 'utf8').split('\n', 2);
  assert.equal(first, '#!/bin/sh');
  assert.equal(second, '//usr/bin/env true; exec node --v8-pool-size=0 --max-semi-space-size=8 "$0" "$@"');
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` };
  const r = spawnSync('/bin/sh', [cli, '--version'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
  assert.equal(r.stderr, '');
  // the options reach Node: the same line, with Node printing its own options instead of running castle
  const own = spawnSync('/bin/sh', ['-c', second!.replace('"$0" "$@"', `-p "process.execArgv.slice(0, -2).join(' ')"`)], { encoding: 'utf8', env });
  assert.equal(own.stdout.trim(), '--v8-pool-size=0 --max-semi-space-size=8', own.stderr);
});
