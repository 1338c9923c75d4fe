// A command's starter: each command Castle runs carries this process's identity, and a later process tells a
// command whose starter is gone (a killed run's) from one a live process started or one started without the mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { exec } from '../../src/os/exec.js';
import { pidCmdline, procStat } from '../../src/os/pid.js';
import { STARTER_VAR, starterMark, starterOf, type Starter } from '../../src/os/starter.js';
import { waitFor } from '../helpers/cli.js';

const sleeper = (env: NodeJS.ProcessEnv): ChildProcess => {
  const child = spawn('sleep', ['30'], { env, stdio: 'ignore' });
  child.unref();
  return child;
};

test('a command run to completion carries its starter: this process, alive', async () => {
  const r = await exec('sh', ['-c', `echo "$${STARTER_VAR}"; sleep 30 & echo $!`]);
  const [mark, bg] = r.stdout.trim().split('\n');
  const ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1];
  assert.equal(mark, `${process.pid}:${procStat(process.pid)!.startTicks}:${ns}`);
  assert.equal(mark, starterMark());
  // the command's own child inherits it, and outlives the command
  const pid = Number(bg);
  try {
    assert.deepEqual(starterOf(pid), { state: 'alive', starter: process.pid });
  } finally {
    process.kill(pid, 'SIGKILL');
  }
});

test('a starter that ended, or a pid reused by another process, is gone; no mark or a garbled one is nobody', async () => {
  // a process that has ended: its pid names nothing now
  const ended = spawnSync('sh', ['-c', 'echo $$; cat /proc/$$/stat'], { encoding: 'utf8' });
  const [pidLine, stat] = ended.stdout.split('\n');
  const ticks = stat!.slice(stat!.lastIndexOf(')') + 2).split(' ')[19];
  await waitFor(() => procStat(Number(pidLine)) === undefined, 5000, 'the shell gone');
  const ns = starterMark().split(':')[2];
  const cases: [string | undefined, Starter][] = [
    [`${pidLine}:${ticks}:${ns}`, { state: 'gone', starter: Number(pidLine) }],
    // this process's pid with another start time: the pid was given again, the starter is not this process
    [`${process.pid}:1:${ns}`, { state: 'gone', starter: process.pid }],
    [starterMark(), { state: 'alive', starter: process.pid }],
    // a pid of another pid namespace (a castle in a container, seen from its host) says nothing here
    [`${pidLine}:${ticks}:1`, { state: 'none' }],
    [undefined, { state: 'none' }],
    ['castle', { state: 'none' }],
    [`${process.pid}:${ticks}`, { state: 'none' }],
  ];
  for (const [mark, want] of cases) {
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    if (mark !== undefined) env[STARTER_VAR] = mark;
    const child = sleeper(env);
    try {
      // until the exec, the child's environment is still a copy of this process's
      await waitFor(() => pidCmdline(child.pid!)?.[0] === 'sleep', 5000, 'sleep started');
      assert.deepEqual(starterOf(child.pid!), want, `mark ${mark}`);
    } finally {
      child.kill('SIGKILL');
    }
  }
  assert.deepEqual(starterOf(2 ** 22 + 7), { state: 'none' }, 'no such process');
});
