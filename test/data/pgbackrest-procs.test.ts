// Which pgBackRest processes a run stops before it needs the stanza: only a Castle command (backup, restore, expire,
// stanza-create) on this castle's configuration, leading its own process group, whose Castle process is gone. The
// processes here are stand-ins (node named `pgbackrest`, argv0), so that each case is built on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pidCmdline, procStat } from '../../src/os/pid.js';
import { groupMembers } from '../../src/os/processes.js';
import { STARTER_VAR, starterMark } from '../../src/os/starter.js';
import { describeHolders, isCastleCommand, stanzaProcesses, stopAbandoned } from '../../src/data/pgbackrest-procs.js';
import { waitFor } from '../helpers/cli.js';

const conf = `/tmp/castle-procs-${process.pid}/pgbackrest/pgbackrest.conf`;

/** The mark of a Castle process that has ended. */
async function goneMark(): Promise<{ mark: string; pid: number }> {
  const r = spawnSync('sh', ['-c', 'echo $$; cat /proc/$$/stat'], { encoding: 'utf8' });
  const [pid, stat] = r.stdout.split('\n');
  const ticks = stat!.slice(stat!.lastIndexOf(')') + 2).split(' ')[19];
  await waitFor(() => procStat(Number(pid)) === undefined, 5000, 'the shell gone');
  return { mark: `${pid}:${ticks}:${starterMark().split(':')[2]}`, pid: Number(pid) };
}

interface Fake {
  readonly child: ChildProcess;
  readonly pid: number;
}

/**
 * A process whose command line reads `pgbackrest --config=<config> --stanza=db <command>`; `worker` adds a child in
 * its group that ignores SIGTERM; `onTerm` is a file it writes when SIGTERM reaches it.
 */
async function fake(command: string, o: { mark?: string; config?: string; leader?: boolean; worker?: boolean; onTerm?: string } = {}): Promise<Fake> {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  if (o.mark !== undefined) env[STARTER_VAR] = o.mark;
  const code = o.worker
    ? `require('child_process').spawn('sh', ['-c', 'trap "" TERM; exec sleep 60'], { stdio: 'ignore' }); setInterval(() => {}, 1000)`
    : o.onTerm
      ? `const fs = require('fs'); process.on('SIGTERM', () => { fs.writeFileSync(${JSON.stringify(o.onTerm)}, 'TERM'); process.exit(0); }); fs.writeFileSync(${JSON.stringify(o.onTerm)}, 'ready'); setInterval(() => {}, 1000)`
      : 'setInterval(() => {}, 1000)';
  const child = spawn(process.execPath, [`--eval=${code}`, '--', `--config=${o.config ?? conf}`, '--stanza=db', command], {
    argv0: 'pgbackrest',
    env,
    detached: o.leader !== false,
    stdio: 'ignore',
  });
  child.unref();
  const pid = child.pid!;
  const ready = (): boolean => {
    if (o.worker) return groupMembers(pid).length === 2;
    if (o.onTerm) return existsSync(o.onTerm);
    return pidCmdline(pid)?.[0] === 'pgbackrest';
  };
  try {
    await waitFor(ready, 5000, `stand-in ${command}`);
  } catch (err) {
    // not yet in the caller's list: ended here, its group with it
    process.kill(o.leader === false ? pid : -pid, 'SIGKILL');
    throw err;
  }
  return { child, pid };
}

test("the commands Castle runs on a stanza, and not the server's nor the workers'", () => {
  for (const c of ['backup', 'restore', 'expire', 'stanza-create']) assert.ok(isCastleCommand([`--config=${conf}`, '--stanza=db', c, '--type=incr']), c);
  for (const c of ['archive-push', 'archive-get', 'backup:local', 'restore:local', 'info', 'version']) assert.ok(!isCastleCommand([`--config=${conf}`, c]), c);
  assert.ok(!isCastleCommand(['--stanza=db']), 'no command');
});

test('stops only what a gone Castle started on this stanza, with its whole group, stopped (SIGSTOP) or not', async () => {
  const gone = await goneMark();
  const fakes: Record<string, Fake> = {};
  try {
    fakes['abandoned'] = await fake('backup', { mark: gone.mark, worker: true });
    const termed = join(mkdtempSync(join(tmpdir(), 'castle-procs-')), 'termed');
    fakes['abandoned, stopped'] = await fake('restore', { mark: gone.mark, onTerm: termed });
    process.kill(-fakes['abandoned, stopped'].pid, 'SIGSTOP');
    fakes["a live Castle's"] = await fake('backup', { mark: starterMark() });
    fakes['by hand'] = await fake('expire');
    fakes["another castle's configuration"] = await fake('backup', { mark: gone.mark, config: '/tmp/other/pgbackrest.conf' });
    fakes["the server's archive-push"] = await fake('archive-push', { mark: gone.mark });
    fakes['a worker'] = await fake('backup:local', { mark: gone.mark });
    fakes['leading no group'] = await fake('backup', { mark: gone.mark, leader: false });

    assert.deepEqual(
      stanzaProcesses(conf).map((p) => [p.pid, p.command, p.starter.state]),
      [
        [fakes['abandoned'].pid, 'backup', 'gone'],
        [fakes['abandoned, stopped'].pid, 'restore', 'gone'],
        [fakes["a live Castle's"].pid, 'backup', 'alive'],
        [fakes['by hand'].pid, 'expire', 'none'],
      ].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    const said: string[] = [];
    const t0 = Date.now();
    const r = await stopAbandoned(conf, { note: (t) => said.push(t) });
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.deepEqual(r.value.sort(), [fakes['abandoned'].pid, fakes['abandoned, stopped'].pid].sort());
    assert.deepEqual(
      said.sort(),
      [
        `stopping pgBackRest backup (pid ${fakes['abandoned'].pid}): the Castle process that started it (pid ${gone.pid}) is gone`,
        `stopping pgBackRest restore (pid ${fakes['abandoned, stopped'].pid}): the Castle process that started it (pid ${gone.pid}) is gone`,
      ].sort(),
    );
    // the worker ignores SIGTERM: the group is SIGKILLed after the grace, and only then is the stop done
    assert.ok(Date.now() - t0 >= 4900, `waited for the whole group (${Date.now() - t0} ms)`);
    assert.deepEqual(groupMembers(fakes['abandoned'].pid), []);
    assert.deepEqual(groupMembers(fakes['abandoned, stopped'].pid), []);
    // continued after SIGTERM, the stopped one got to handle it (pgBackRest releases its lock then) before any SIGKILL
    assert.equal(readFileSync(termed, 'utf8'), 'TERM');
    rmSync(dirname(termed), { recursive: true, force: true });
    for (const [what, f] of Object.entries(fakes)) {
      if (what.startsWith('abandoned')) continue;
      assert.ok(procStat(f.pid) !== undefined && procStat(f.pid)!.state !== 'Z', `${what} left alone`);
    }
    assert.equal(
      describeHolders(conf),
      [
        [fakes["a live Castle's"].pid, `pgBackRest backup (pid ${fakes["a live Castle's"].pid}, started by process ${process.pid}, still running)`],
        [fakes['by hand'].pid, `pgBackRest expire (pid ${fakes['by hand'].pid}, not started by Castle)`],
      ]
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map((x) => x[1])
        .join(', '),
    );
  } finally {
    for (const f of Object.values(fakes)) {
      try {
        process.kill(procStat(f.pid)?.pgrp === f.pid ? -f.pid : f.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});
