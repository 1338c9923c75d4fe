import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOG_BUNDLE, installBlog } from '../../src/targets/local/blog/launch.js';
import { ensureUser } from '../../src/os/user.js';
import { requirement } from '../helpers/requires.js';

const ROOT = requirement(process.getuid?.() === 0, 'needs root: the blog runs as the unprivileged user only then');

test('the blog is installed where its user can read it: the bundle always, Node.js when that user cannot run ours', { skip: ROOT.skip }, async (t) => {
  ROOT.check();
  const user = await ensureUser('castle');
  assert.ok(user.ok, user.ok ? '' : user.reason);
  const base = mkdtempSync(join(tmpdir(), 'castle-blog-install-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  chmodSync(base, 0o755);
  // a Node.js the castle user cannot reach, as under /root (mode 0700)
  const hidden = join(base, 'root-only');
  mkdirSync(hidden, { mode: 0o700 });
  const privateNode = join(hidden, 'node');
  copyFileSync(BLOG_BUNDLE, privateNode); // any file: only its reachability matters here
  chmodSync(privateNode, 0o755);
  const dir = join(base, 'app', 'blog-80');
  mkdirSync(dir, { recursive: true });

  const copied = await installBlog(dir, user.value, privateNode);
  assert.ok(copied.ok, copied.ok ? '' : copied.reason);
  assert.deepEqual(copied.value, { node: join(dir, 'node'), script: join(dir, 'blog.cjs') });
  assert.equal(statSync(join(dir, 'node')).mode & 0o777, 0o555);
  assert.equal(statSync(join(dir, 'blog.cjs')).mode & 0o777, 0o444);
  assert.equal(readFileSync(join(dir, 'blog.cjs'), 'utf8'), readFileSync(BLOG_BUNDLE, 'utf8'));

  // a newer build replaces the read-only copy
  const { utimesSync, writeFileSync } = await import('node:fs');
  writeFileSync(privateNode, 'a newer build');
  utimesSync(privateNode, new Date(), new Date(Date.now() + 60_000));
  const again = await installBlog(dir, user.value, privateNode);
  assert.ok(again.ok, again.ok ? '' : again.reason);
  assert.equal(readFileSync(join(dir, 'node'), 'utf8'), 'a newer build');
  assert.equal(statSync(join(dir, 'node')).mode & 0o777, 0o555);

  // a Node.js it can run is used where it is
  const shared = await installBlog(dir, user.value, '/usr/bin/env');
  assert.ok(shared.ok, shared.ok ? '' : shared.reason);
  assert.equal(shared.value.node, '/usr/bin/env');
});
