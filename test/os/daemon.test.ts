import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDaemon, stopDaemon } from '../../src/os/daemon.js';
import { isOurProcess, readPidFile } from '../../src/os/pid.js';
import { chownTree, runAsUser } from '../../src/os/user.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { requirement } from '../helpers/requires.js';

const ROOT = requirement(process.getuid?.() === 0, 'needs root to run as another user');

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'castle-daemon-'));
  const who = await runAsUser('castle');
  assert.ok(who.ok);
  assert.ok((await chownTree(who.value, dir)).ok);
});
after(async () => {
  await stopDaemon({ name: 'sleeper', pidFile: path.join(dir, 'sleeper.pid'), match: 'castle-sleeper-marker', graceMs: 500 });
  await stopDaemon({ name: 'stubborn', pidFile: path.join(dir, 'stubborn.pid'), match: 'castle-stubborn-marker', graceMs: 500 });
  await rm(dir, { recursive: true, force: true });
});

const sh = (name: string, script: string, extra: Partial<Parameters<typeof startDaemon>[0]> = {}) =>
  startDaemon({
    name,
    command: '/bin/sh',
    args: ['-c', script, `castle-${name}-marker`],
    pidFile: path.join(dir, `${name}.pid`),
    logFile: path.join(dir, `${name}.log`),
    match: `castle-${name}-marker`,
    user: 'castle',
    readyTimeoutMs: 3000,
    ...extra,
  });

test('a daemon that exits during startup is a failure carrying its (redacted) log tail', async () => {
  const redactor = new Redactor();
  redactor.add('hunter2-secret');
  const r = await sh('crasher', 'echo "config error near hunter2-secret"; exit 3', { redact: (t) => redactor.redact(t), ready: async () => false });
  assert.ok(!r.ok);
  assert.match(r.reason, /crasher exited during startup \(exit code 3\)/);
  assert.match(r.reason, /config error near \*\*\*/);
  assert.equal(readPidFile(path.join(dir, 'crasher.pid')), undefined, 'no stale pid file');
});

test('a daemon never ready is stopped after the timeout', async () => {
  const r = await sh('lazy', 'exec sleep 30', { readyTimeoutMs: 400, ready: async () => false });
  assert.ok(!r.ok && /not ready within 400 ms and was stopped/.test(r.reason));
});

test('start, readiness, own process group, stop by pid with SIGTERM', async () => {
  const marker = path.join(dir, 'ready-flag');
  const r = await sh('sleeper', `touch ${marker}; sleep 30 & wait`, {
    ready: async () =>
      readFile(marker).then(
        () => true,
        () => false,
      ),
  });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const stat = await readFile(`/proc/${r.value.pid}/stat`, 'utf8');
  const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  assert.equal(pgid, r.value.pid, 'the daemon leads its own process group');
  const again = await sh('sleeper', 'sleep 30');
  assert.ok(!again.ok && /already running/.test(again.reason));
  const s = await stopDaemon({ name: 'sleeper', pidFile: r.value.pidFile, match: 'castle-sleeper-marker', graceMs: 3000 });
  assert.ok(s.ok && s.value.stopped && !s.value.killed);
  assert.equal(isOurProcess(r.value.pid, 'castle-sleeper-marker'), false);
});

test('SIGKILL after the grace period when SIGTERM is ignored', async () => {
  // Ready only once the trap is armed, or SIGTERM could win the race.
  const r = await sh('stubborn', "trap '' TERM; echo armed; while :; do sleep 0.1; done", {
    ready: async () => (await readFile(path.join(dir, 'stubborn.log'), 'utf8')).includes('armed'),
  });
  assert.ok(r.ok);
  const s = await stopDaemon({ name: 'stubborn', pidFile: r.value.pidFile, match: 'castle-stubborn-marker', graceMs: 300 });
  assert.ok(s.ok && s.value.stopped && s.value.killed === true);
});

test("a pid file naming someone else's process is never signalled", async () => {
  const pidFile = path.join(dir, 'foreign.pid');
  await writeFile(pidFile, `${process.pid}\n`);
  const s = await stopDaemon({ name: 'foreign', pidFile, match: 'castle-not-this-process', graceMs: 100 });
  assert.ok(s.ok && !s.value.stopped);
  assert.equal(isOurProcess(process.pid, 'node'), true, 'we are still alive');
});

test('an aborted start stops the daemon', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const r = await sh('aborted', 'exec sleep 30', { signal: ac.signal, ready: async () => false });
  assert.ok(!r.ok && /cancelled/.test(r.reason));
  assert.equal(readPidFile(path.join(dir, 'aborted.pid')), undefined);
});

test('a daemon whose directory the unprivileged user cannot reach is refused with the chmod to run', async (t) => {
  if (ROOT.skip) return t.skip(ROOT.skip);
  ROOT.check();
  const { mkdir, chmod } = await import('node:fs/promises');
  const locked = path.join(dir, 'locked');
  await mkdir(path.join(locked, 'inner'), { recursive: true });
  await chmod(locked, 0o700); // root-owned: castle cannot traverse it
  const r = await sh('unreachable', 'exit 0', { cwd: path.join(locked, 'inner') });
  assert.ok(!r.ok);
  assert.match(r.reason, new RegExp(`cannot reach .*${locked} is mode 700.*chmod o\\+x ${locked}`));
});
