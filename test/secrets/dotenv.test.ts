import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DotenvSource, parseDotenv } from '../../src/secrets/dotenv.js';
import { ensureSecret, generatePassword } from '../../src/secrets/generate.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'castle-secrets-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('parseDotenv: export prefix, comments, quotes, escapes, inline comments', () => {
  const p = parseDotenv(
    ['# comment', 'export A=1', 'B = two words # note', "C='lit $x \\n'", 'D="line1\\nline2 \\"q\\""', 'E="multi', 'line"', 'bad line', ''].join('\n'),
  );
  const m = Object.fromEntries(p.entries.map((e) => [e.key, e.value]));
  assert.deepEqual(m, { A: '1', B: 'two words', C: 'lit $x \\n', D: 'line1\nline2 "q"', E: 'multi\nline' });
  assert.deepEqual(p.problems, [{ line: 8, message: 'expected KEY=value' }]);
});

test('a group/world-readable dotenv file is refused with the chmod to run', async () => {
  const f = path.join(dir, 'open.env');
  await writeFile(f, 'S3_ACCESS_KEY_ID=AKIAOPEN\n');
  await chmod(f, 0o644);
  const r = await DotenvSource.open(f);
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.match(r.reason, /mode 644/);
  assert.ok(r.reason.includes(`chmod 600 ${f}`), r.reason);
  assert.ok(!r.reason.includes('AKIAOPEN'), 'no value in the message');
  await chmod(f, 0o640);
  const r2 = await DotenvSource.open(f);
  assert.equal(r2.ok, false, 'group-readable is refused too');
});

test('a missing file is a clear failure, or created 0600 on request', async () => {
  const f = path.join(dir, 'missing.env');
  const r = await DotenvSource.open(f);
  assert.ok(!r.ok && /does not exist/.test(r.reason));
  const c = await DotenvSource.open(f, { create: true });
  assert.ok(c.ok);
  assert.equal((await stat(f)).mode & 0o777, 0o600);
});

test('get/list read a 0600 file; set updates in place, appends, keeps comments and mode 0600', async () => {
  const f = path.join(dir, 'ok.env');
  await writeFile(f, '# castle secrets\nS3_ACCESS_KEY_ID=AKIA1\nS3_SECRET_ACCESS_KEY=old\nS3_SECRET_ACCESS_KEY=older\n', { mode: 0o600 });
  const r = await DotenvSource.open(f);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const src = r.value;
  assert.equal(await src.get('S3_ACCESS_KEY_ID'), 'AKIA1');
  assert.equal(await src.get('S3_SECRET_ACCESS_KEY'), 'older', 'the last assignment wins, as in shells');
  assert.equal(await src.get('NOPE'), undefined);
  assert.deepEqual((await src.list()).sort(), ['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']);
  await src.set('S3_SECRET_ACCESS_KEY', 'new/secret+val');
  await src.set('BLOG_PASSWORD', 'has space "and" $dollar');
  assert.equal(await src.get('S3_SECRET_ACCESS_KEY'), 'new/secret+val');
  assert.equal(await src.get('BLOG_PASSWORD'), 'has space "and" $dollar');
  const text = await readFile(f, 'utf8');
  assert.equal(text.split('\n')[0], '# castle secrets');
  assert.equal(text.match(/S3_SECRET_ACCESS_KEY=/g)?.length, 1, 'duplicates collapse into one assignment');
  assert.equal((await stat(f)).mode & 0o777, 0o600);
});

test('set replaces a multi-line value whole, and every line of an earlier duplicate', async () => {
  const f = path.join(dir, 'multi.env');
  const original = [
    '# keys',
    'TLS_KEY="-----BEGIN KEY-----',
    'line two',
    '-----END KEY-----"',
    'AFTER=kept',
    'CA="a',
    'b"',
    'CA="c',
    'd',
    'e"',
    'LAST=1',
    '',
  ].join('\n');
  await writeFile(f, original, { mode: 0o600 });
  const r = await DotenvSource.open(f);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  await r.value.set('TLS_KEY', 'short');
  await r.value.set('CA', 'x\ny');
  assert.equal(await readFile(f, 'utf8'), ['# keys', 'TLS_KEY=short', 'AFTER=kept', 'CA="x\\ny"', 'LAST=1', ''].join('\n'));
  const p = parseDotenv(await readFile(f, 'utf8'));
  assert.deepEqual(p.problems, []);
  assert.deepEqual(Object.fromEntries(p.entries.map((e) => [e.key, e.value])), { TLS_KEY: 'short', AFTER: 'kept', CA: 'x\ny', LAST: '1' });
});

test('ensureSecret generates once and then returns the stored value', async () => {
  const f = path.join(dir, 'gen.env');
  const r = await DotenvSource.open(f, { create: true });
  assert.ok(r.ok);
  const a = await ensureSecret(r.value, 'TAZLAB_DB_PGUSER_BLOG_PASSWORD');
  assert.ok(a.ok && a.value.generated && /^[A-Za-z0-9]{32}$/.test(a.value.value));
  const b = await ensureSecret(r.value, 'TAZLAB_DB_PGUSER_BLOG_PASSWORD');
  assert.ok(b.ok && !b.value.generated && a.ok && b.value.value === a.value.value);
  assert.equal(generatePassword(20, 'ASCII').length, 20);
  assert.notEqual(generatePassword(), generatePassword());
});

test('EnvSource reads the environment, optionally under a prefix', async () => {
  const { EnvSource } = await import('../../src/secrets/env.js');
  const src = new EnvSource({ prefix: 'CASTLE_', env: { CASTLE_S3_ACCESS_KEY_ID: 'k', OTHER: 'x' } });
  assert.equal(await src.get('S3_ACCESS_KEY_ID'), 'k');
  assert.equal(await src.get('OTHER'), undefined);
  assert.deepEqual(await src.list(), ['S3_ACCESS_KEY_ID']);
  assert.equal((src as { set?: unknown }).set, undefined, 'read-only');
});
