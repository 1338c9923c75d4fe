#!/usr/bin/env node
// postinstall: applies patches/s3rver-3.7.1-fixes.diff to s3rver's lib/stores/filesystem.js, idempotently,
// and verifies it applied. Fixes (see the diff): listings with a delimiter omitted common prefixes holding
// only deep objects (pgBackRest `expire` left expired backups), and multi-object delete raced on
// empty-folder cleanup. No external `patch` tool needed.
// Usage: node scripts/s3rver-patch.mjs [--check]   (--check: only verify, exit 1 when not applied)

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const diffFile = join(here, '..', 'patches', 's3rver-3.7.1-fixes.diff');
const checkOnly = process.argv.includes('--check');

function fail(msg) {
  console.error(`s3rver-patch: ${msg}`);
  process.exit(1);
}

let pkgJson;
try {
  pkgJson = createRequire(join(here, '..', 'package.json')).resolve('s3rver/package.json');
} catch {
  console.log('s3rver-patch: s3rver is not installed: nothing to patch');
  process.exit(0);
}
const pkgDir = dirname(pkgJson);
const version = JSON.parse(readFileSync(pkgJson, 'utf8')).version;
if (version !== '3.7.1') fail(`the patch is for s3rver 3.7.1, found ${version}: update patches/ and this script`);
const target = join(pkgDir, 'lib', 'stores', 'filesystem.js');
if (!existsSync(diffFile)) fail(`missing ${diffFile}`);

// parse the unified diff into hunks of [old lines, new lines]
const hunks = [];
let cur = null;
for (const line of readFileSync(diffFile, 'utf8').split('\n')) {
  if (line.startsWith('@@')) {
    cur = { old: [], new: [] };
    hunks.push(cur);
  } else if (cur && line.startsWith('-') && !line.startsWith('---')) cur.old.push(line.slice(1));
  else if (cur && line.startsWith('+') && !line.startsWith('+++')) cur.new.push(line.slice(1));
  else if (cur && line.startsWith(' ')) {
    cur.old.push(line.slice(1));
    cur.new.push(line.slice(1));
  } else if (cur && line === '') {
    /* trailing blank */
  }
}
if (hunks.length === 0) fail('no hunks in the diff');

let text = readFileSync(target, 'utf8');
const applied = (t) => hunks.every((h) => t.includes(h.new.join('\n')));
if (applied(text)) {
  console.log(`s3rver-patch: ${target} already patched (${hunks.length} hunks)`);
  process.exit(0);
}
if (checkOnly) fail(`${target} is NOT patched`);
for (const [i, h] of hunks.entries()) {
  const from = h.old.join('\n');
  const to = h.new.join('\n');
  if (text.includes(to)) continue;
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) fail(`hunk ${i + 1} does not apply cleanly to ${target}`);
  text = text.slice(0, at) + to + text.slice(at + from.length);
}
if (!applied(text)) fail('verification failed after applying');
writeFileSync(target, text);
if (!applied(readFileSync(target, 'utf8'))) fail('verification failed after writing');
console.log(`s3rver-patch: patched ${target} (${hunks.length} hunks)`);
