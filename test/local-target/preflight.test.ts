import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localCastle } from '../helpers/local-castle.js';

test('up and rebirth validate the manifests first: a castle with errors is never touched', async (t) => {
  const c = await localCastle();
  t.after(() => c.destroy());
  const file = join(c.dir, 'db', 'cluster.yaml');
  const cluster = readFileSync(file, 'utf8');
  writeFileSync(
    file,
    cluster
      .replace('    - name: blog-admin', '    - name: blog_admin')
      .replace('        s3:\n          bucket: castle-backups', '        s3Credentials: {secret: x}\n        s3:\n          bucket: castle-backups'),
  );
  for (const op of ['up', 'rebirth']) {
    const r = c.castle([op]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /db\/cluster\.yaml:\d+:\d+: error schema\/unknown-field: \.spec\.backups\.pgbackrest\.repos\[name="repo1"\]\.s3Credentials: field not declared in schema/,
    );
    assert.match(
      r.stderr,
      /db\/cluster\.yaml:\d+:\d+: error schema\/pattern: spec\.users\[1\]\.name: Invalid value: "blog_admin": should match '\^\[a-z0-9\]\(\[-a-z0-9\]\*\[a-z0-9\]\)\?\$'/,
    );
    assert.match(r.stderr, new RegExp(`castle: ${op} not started: the manifests have \\d+ errors; nothing was touched`));
  }
  assert.ok(!existsSync(join(c.dir, '.castle', 'runs')), 'no run was started');
  assert.ok(!existsSync(c.dataDir), 'nothing was created');
  assert.ok(!existsSync(c.s3Dir), 'not even the object store');
});

test('rebirth refuses a PostgresCluster that would come back empty (no dataSource), before anything runs', async (t) => {
  const c = await localCastle();
  t.after(() => c.destroy());
  const file = join(c.dir, 'db', 'cluster.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\n  # On rebirth[\s\S]*?(?=\n  proxy:)/, ''));
  const r = c.castle(['rebirth']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /error rebirth\/no-restore-source: /);
  assert.ok(!existsSync(join(c.dir, '.castle', 'runs')));
});
