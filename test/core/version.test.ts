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

test('the castle command runs as its first line says, as the kernel runs it', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const first = readFileSync(cli, 'utf8').split('\n', 1)[0]!;
  // `#!/usr/bin/env -S node --v8-pool-size=0 ...`: the kernel passes everything after the interpreter as one argument
  const m = /^#!(\S+) (.+)$/.exec(first);
  assert.ok(m, first);
  assert.match(m[2]!, /^-S node --v8-pool-size=0 --max-semi-space-size=8$/);
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = spawnSync(m[1]!, [m[2]!, cli, '--version'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});
