// Child processes: abort kills the whole process group (also as another user), output is redacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exec } from '../../src/os/exec.js';
import { pidAlive } from '../../src/os/pid.js';
import { ensureUser } from '../../src/os/user.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { requirement } from '../helpers/requires.js';

const ROOT = requirement(process.getuid?.() === 0, 'needs root: only root runs a command as another user');

async function childrenGone(marker: string): Promise<boolean> {
  const { execFileSync } = await import('node:child_process');
  for (let i = 0; i < 40; i++) {
    const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
    if (!out.split('\n').some((l) => l.includes(marker) && !l.includes('ps -eo'))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test('abort kills the process group of a command, grandchildren included', async () => {
  const ac = new AbortController();
  const marker = `castle-abort-${process.pid}-${Date.now()}`;
  const p = exec('bash', ['-c', `sleep 31 & sleep 32; echo ${marker}`], { signal: ac.signal, env: { MARK: marker } });
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  const r = await p;
  assert.equal(r.aborted, true);
  assert.ok(await childrenGone('sleep 31'), 'the background grandchild was killed too');
});

test('abort of a command run as the unprivileged user kills it', { skip: ROOT.skip }, async () => {
  ROOT.check();
  assert.ok((await ensureUser('castle')).ok);
  const ac = new AbortController();
  const p = exec('sleep', ['33.5'], { signal: ac.signal, asUser: 'castle' });
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  const r = await p;
  assert.equal(r.aborted, true);
  assert.ok(await childrenGone('sleep 33.5'));
});

test('timeouts are values; secrets are redacted from logs and results', async () => {
  const lines: string[] = [];
  const redactor = new Redactor();
  redactor.add('s3cr3t-value');
  const redact = (t: string): string => redactor.redact(t);
  const r = await exec('bash', ['-c', 'echo key=s3cr3t-value; echo err s3cr3t-value >&2; sleep 5'], { timeoutMs: 300, log: (t) => lines.push(t), redact });
  assert.equal(r.timedOut, true);
  assert.ok(lines.length >= 2);
  assert.ok(lines.every((l) => !l.includes('s3cr3t-value')));
  assert.ok(!r.stdout.includes('s3cr3t-value') && r.stdout.includes('key=***'));
  const missing = await exec('/nonexistent/binary', []);
  assert.match(missing.spawnError ?? '', /command not found/);
  assert.equal(pidAlive(-1), false);
});

test('a command run as another user gets its uid and HOME; an unknown user is a spawn error', { skip: ROOT.skip }, async () => {
  ROOT.check();
  const u = await ensureUser('castle');
  assert.ok(u.ok, !u.ok ? u.reason : '');
  const r = await exec('sh', ['-c', 'id -un; echo "$HOME"; cat /proc/$PPID/cmdline | tr "\\0" " "'], { asUser: 'castle' });
  assert.equal(r.code, 0, r.stderr);
  const [name, home, parent] = r.stdout.split('\n');
  assert.equal(name, 'castle');
  assert.equal(home, u.value.home);
  assert.doesNotMatch(parent ?? '', /runuser|su /, 'no wrapper process between us and the command');
  const none = await exec('true', [], { asUser: 'no-such-user-castle' });
  assert.match(none.spawnError ?? '', /user 'no-such-user-castle' does not exist/);
});
