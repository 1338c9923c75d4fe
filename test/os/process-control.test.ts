// The OS helpers on real processes: liveness (zombies count as gone), pid files, stop-wait-kill with
// process groups, an abortable sleep, log tails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tailLines } from '../../src/os/log-tail.js';
import { isOurProcess, pidAlive, pidCmdline, processGone, procStat, readPidFile, waitPidGone } from '../../src/os/pid.js';
import { sleep } from '../../src/os/sleep.js';
import { stopProcess } from '../../src/os/stop.js';

/** A detached shell (its own process group) that prints `ready` once its traps are set. */
async function shell(script: string, marker: string): Promise<number> {
  const child = spawn('/bin/sh', ['-c', `${script}`, marker], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  child.unref();
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`shell exited early (${code})`)));
  });
  child.stdout.destroy();
  return child.pid!;
}

test('liveness: a live process and one that has exited', async () => {
  assert.equal(pidAlive(process.pid), true);
  assert.equal(processGone(process.pid), false);
  // the runner may name the file relative or absolute (Node 24 passes it as given): its name is what stays
  assert.ok(
    pidCmdline(process.pid)?.some((a) => a.endsWith('process-control.test.js')),
    'our own command line names this test file',
  );
  assert.match(procStat(process.pid)?.state ?? '', /^[RS]$/);
  assert.match(procStat(process.pid)?.startTicks ?? '', /^\d+$/);
  assert.equal(pidAlive(0), false);
  assert.equal(pidAlive(-5), false);
  // a child that has exited
  const child = spawn('/bin/true', [], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((r) => child.once('exit', r));
  assert.equal(processGone(pid), true);
  assert.equal(pidCmdline(pid), null);
  assert.equal(isOurProcess(pid, 'true'), false);
});

test('liveness: a zombie (exited, never reaped) reads as gone though signal 0 still finds it', async () => {
  // `true` runs in the background and the shell at once becomes `sleep` (no builtin in between that could
  // reap it), which never reaps it
  const sh = spawn('/bin/sh', ['-c', 'true & exec sleep 30'], { detached: true, stdio: 'ignore' });
  sh.unref();
  const parent = sh.pid!;
  try {
    let zombie: number | undefined;
    for (let i = 0; i < 100 && zombie === undefined; i++) {
      let kids: string[] = [];
      try {
        kids = execFileSync('ps', ['-o', 'pid=,stat=', '--ppid', String(parent)], { encoding: 'utf8' })
          .trim()
          .split('\n');
      } catch {
        // ps exits 1 while the shell has no child (yet)
      }
      zombie = kids
        .map((l) => l.trim().split(/\s+/))
        .find(([, stat]) => stat?.startsWith('Z'))
        ?.map(Number)[0];
      if (zombie === undefined) await sleep(20);
    }
    assert.ok(zombie, 'the shell left a zombie child');
    assert.equal(pidAlive(zombie), true);
    assert.equal(processGone(zombie), true);
    assert.equal(pidCmdline(zombie), null);
  } finally {
    await stopProcess(parent, { name: 'zombie parent', graceMs: 2000, group: true });
  }
});

test('pid files: the first line, or undefined for missing, empty and garbage files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'castle-pid-'));
  try {
    const f = join(dir, 'x.pid');
    assert.equal(readPidFile(f), undefined);
    writeFileSync(f, '');
    assert.equal(readPidFile(f), undefined);
    writeFileSync(f, 'not a pid\n');
    assert.equal(readPidFile(f), undefined);
    writeFileSync(f, '1\n');
    assert.equal(readPidFile(f), undefined, 'pid 1 is never ours');
    writeFileSync(f, `${process.pid}\n/var/lib/postgresql\n`);
    assert.equal(readPidFile(f), process.pid);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop-wait-kill: SIGTERM is enough for a polite process; the group goes with it', async () => {
  const marker = `castle-polite-${process.pid}`;
  const pid = await shell(`sleep 300 & echo ready; wait`, marker);
  assert.equal(procStat(pid)?.pgrp, pid, 'the shell leads its own group');
  const r = await stopProcess(pid, { name: 'polite shell', graceMs: 5000, group: true });
  assert.ok(r.ok && r.value.killed === false, r.ok ? '' : r.reason);
  assert.equal(processGone(pid), true);
  // the background sleep was in the group: gone too (waited for, it may take a moment to be reaped)
  const sleeper = () => execFileSync('pgrep', ['-g', String(pid)], { encoding: 'utf8' }).trim();
  let left = '';
  for (let i = 0; i < 50; i++) {
    try {
      left = sleeper();
    } catch {
      left = '';
      break;
    }
    await sleep(50);
  }
  assert.equal(left, '', 'no process of the group is left');
});

test('stop-wait-kill: SIGKILL after the grace period when SIGTERM is ignored', async () => {
  const marker = `castle-stubborn-${process.pid}`;
  const pid = await shell(`trap '' TERM; echo ready; while :; do sleep 0.05; done`, marker);
  assert.equal(isOurProcess(pid, marker), true);
  const r = await stopProcess(pid, { name: 'stubborn shell', graceMs: 300, group: true, gone: (p) => !isOurProcess(p, marker) });
  assert.ok(r.ok && r.value.killed === true, r.ok ? '' : r.reason);
  assert.equal(await waitPidGone(pid, 2000), true);
});

test('stop-wait-kill: a process already gone is stopped without a signal', async () => {
  const r = await stopProcess(2 ** 22 + 17, { name: 'nobody', graceMs: 100 });
  assert.deepEqual(r, { ok: true, value: { killed: false } });
});

test('sleep ends early when its signal aborts, and at once when it is already aborted', { timeout: 10_000 }, async () => {
  const ac = new AbortController();
  let done = false;
  const slept = sleep(60_000, ac.signal).then(() => (done = true));
  await sleep(20);
  assert.equal(done, false, 'still sleeping before the abort');
  ac.abort();
  await slept;
  assert.equal(done, true);
  await sleep(60_000, ac.signal); // already aborted: returns at once (a 60 s wait would trip the 10 s timeout)
});

test('log tail: the last lines, filtered, and nothing for a missing file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'castle-tail-'));
  try {
    const f = join(dir, 'x.log');
    writeFileSync(f, 'one\nERROR two\nthree\nERROR four\n\n');
    assert.deepEqual(tailLines(f, 2), ['three', 'ERROR four']);
    assert.deepEqual(tailLines(f, 5, /ERROR/), ['ERROR two', 'ERROR four']);
    assert.deepEqual(tailLines(join(dir, 'none.log'), 3), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
