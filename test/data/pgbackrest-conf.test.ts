import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ok } from '../../src/core/result.js';
import { pgbackrestFor, writePgbackrestConf, type PgbackrestSpec, type RepoBucket } from '../../src/data/pgbackrest.js';
import { pgCluster } from '../../src/data/postgres.js';
import { rmDir, tempDir } from './helpers.js';

const bucket: RepoBucket = {
  endpoint: 'https://localhost:9443',
  probe: () => Promise.resolve(ok(undefined)),
  readText: () => Promise.resolve(ok('')),
  exists: () => Promise.resolve(ok(false)),
};

const repo1 = { host: 'localhost', port: 9443, bucket: 'b', region: 'us-east-1', accessKeyId: 'KEY', secretAccessKey: 'SECRET' };

async function confFor(spec: PgbackrestSpec): Promise<string> {
  const root = tempDir('pgbr-conf');
  try {
    const c = pgCluster({ root, port: 5432 });
    assert.ok(c.ok, c.ok ? '' : c.reason);
    const b = pgbackrestFor(c.value, spec, bucket);
    const w = await writePgbackrestConf(b);
    assert.ok(w.ok, w.ok ? '' : w.reason);
    return readFileSync(b.confPath, 'utf8');
  } finally {
    rmDir(root);
  }
}

/** The options of one ini section, in order. */
function section(text: string, name: string): string[] {
  const out: string[] = [];
  let inside = false;
  for (const line of text.split('\n')) {
    if (/^\[.*\]$/.test(line)) inside = line === `[${name}]`;
    else if (inside && line && !line.startsWith('#')) out.push(line);
  }
  return out;
}

test("the local target's pgBackRest defaults: zst level 1, 4 MiB bundles in both repos, 2 processes for backup and 4 for restore", async () => {
  const text = await confFor({ stanza: 'db', repo1, repo2: true });
  const g = section(text, 'global');
  for (const line of [
    'compress-type=zst',
    'compress-level=1',
    'process-max=2',
    'repo1-bundle=y',
    'repo1-bundle-size=4MiB',
    'repo2-bundle=y',
    'repo2-bundle-size=4MiB',
  ])
    assert.ok(g.includes(line), `${line} in [global]`);
  assert.ok(!g.some((l) => l.startsWith('repo1-block') || l.startsWith('beta')), 'block incremental (beta in 2.45) stays off');
  assert.deepEqual(section(text, 'global:restore'), ['process-max=4']);
});

test('choices in the spec (from spec.backups.pgbackrest.global) win over the defaults', async () => {
  const text = await confFor({ stanza: 'db', repo1, repo2: true, compressType: 'lz4', processMax: 3, restoreProcessMax: 6, repoBundle: false });
  const g = section(text, 'global');
  for (const line of ['compress-type=lz4', 'process-max=3', 'repo1-bundle=n', 'repo2-bundle=n']) assert.ok(g.includes(line), `${line} in [global]`);
  assert.ok(!g.some((l) => /^repo\d-bundle-size=/.test(l)), 'no bundle size without bundles');
  assert.ok(!g.some((l) => l.startsWith('compress-level=')), "a type given keeps pgBackRest's own level for it");
  assert.deepEqual(section(text, 'global:restore'), ['process-max=6']);
  const level = section(await confFor({ stanza: 'db', repo1, compressType: 'zst', compressLevel: 3, repoBundleSize: '16MiB' }), 'global');
  assert.ok(level.includes('compress-level=3') && !level.some((l) => l.startsWith('repo2-')));
  assert.ok(level.includes('repo1-bundle-size=16MiB'));
});
