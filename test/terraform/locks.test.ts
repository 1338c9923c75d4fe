import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, castle, castleAsync, events, waitFor } from '../helpers/cli.js';
import { DOUBLE, setModule, tfCastle, tfState } from './helpers.js';

const LAYERS = `  - name: platform
    apply: [{terraform.apply: {cwd: platform}}]
    destroy: [{terraform.destroy: {cwd: platform}}]
`;
const PLATFORM = { resources: [{ type: 'proxmox_vm_qemu', name: 'cp', id: '421' }] };
const lockFile = (dir: string): string => join(dir, 'platform', 'terraform.tfstate.tflock');
const notes = (dir: string): string[] => events(dir).flatMap((e) => (e.type === 'step-note' ? [e.message] : []));

test('a stale lock left by a killed Castle run: refused outside a wipe, released during the wipe, and the run completes', async () => {
  const dir = tfCastle(LAYERS, { platform: { ...PLATFORM, holdLockMs: 120_000 } });
  // an apply that hangs while it holds the lock, then Castle and its terraform die (SIGKILL: no cleanup)
  const run = castleAsync(dir, ['up']);
  await waitFor(() => existsSync(lockFile(dir)), 20_000, 'the apply to take the state lock');
  const ledger = join(dir, '.castle', 'terraform', 'ledger', 'platform');
  await waitFor(() => readdirSync(ledger).some((f) => f.endsWith('.pid')), 5000, 'the pid file');
  const toolPid = Number(
    readFileSync(
      join(
        ledger,
        readdirSync(ledger).find((f) => f.endsWith('.pid'))!,
      ),
      'utf8',
    ),
  );
  run.child.kill('SIGKILL');
  await run.done;
  assert.ok(alive(toolPid), 'terraform outlives Castle: a lock is not stale while it runs');
  const early = castle(dir, ['down']);
  assert.equal(early.code, 1);
  assert.match(
    early.stdout,
    new RegExp(`not released by Castle: the terraform process ${toolPid} of run \\S+ is still running: it releases the lock when it ends`),
  );
  process.kill(toolPid, 'SIGKILL');
  await waitFor(() => !alive(toolPid), 5000, 'terraform to die');
  assert.ok(existsSync(lockFile(dir)), 'the lock stays behind, as with a remote backend');
  const lockId = (JSON.parse(readFileSync(lockFile(dir), 'utf8')) as { ID: string }).ID;
  setModule(dir, 'platform', PLATFORM);

  // not a wipe: Castle reports the lock and the exact command, and releases nothing
  const up = castle(dir, ['up']);
  assert.equal(up.code, 1);
  assert.match(
    up.stdout,
    new RegExp(
      `apply refused: state lock ${lockId} held by ${userInfo().username}@${hostname()} \\(OperationTypeApply, Terraform 1\\.9\\.8, since \\d{4}-\\d\\d-\\d\\d [\\d:.]+ \\+0000 UTC\\)`,
    ),
  );
  assert.match(up.stdout, /Castle releases a stale lock only while it wipes \(down\)/);
  assert.ok(up.stdout.includes(`release it with: cd ${join(dir, 'platform')} && ${DOUBLE} force-unlock -force ${lockId}`));
  assert.ok(existsSync(lockFile(dir)));

  // the wipe proves the holder gone (its run is dead, its terraform process too) and force-unlocks
  const down = castle(dir, ['down']);
  assert.equal(down.code, 0, down.stdout + down.stderr);
  const n = notes(dir);
  assert.ok(
    n.some(
      (m) =>
        m.startsWith(`released stale lock ${lockId} of a dead Castle run: taken by \`${DOUBLE} apply`) &&
        m.includes(`its terraform process ${toolPid} is gone`),
    ),
    n.join('\n'),
  );
  assert.ok(!existsSync(lockFile(dir)));
  assert.deepEqual(tfState(dir, 'platform').resources, []);
  const log = readFileSync(
    join(
      dir,
      '.castle',
      'runs',
      readdirSync(join(dir, '.castle', 'runs'))
        .sort()
        .pop()!,
      'steps',
      'down__platform__0.log',
    ),
    'utf8',
  );
  assert.ok(log.includes(`force-unlock -force ${lockId}`));
  assert.match(log, /Terraform state has been successfully unlocked!/);
});

test("a lock held by a live process is refused during a wipe too, with the holder's details and the command", async () => {
  const dir = tfCastle(LAYERS, { platform: PLATFORM });
  assert.equal(castle(dir, ['up']).code, 0);
  // someone else's apply, running now in the same module
  setModule(dir, 'platform', { ...PLATFORM, holdLockMs: 120_000 });
  const other = spawn(process.execPath, [DOUBLE, 'apply', '-input=false', '-json', '-auto-approve'], {
    cwd: join(dir, 'platform'),
    env: { ...process.env, TF_DOUBLE_CLOUD: 'cloud' },
    stdio: 'ignore',
  });
  try {
    await waitFor(() => existsSync(lockFile(dir)), 20_000, 'the other apply to take the lock');
    setModule(dir, 'platform', PLATFORM);
    const lock = JSON.parse(readFileSync(lockFile(dir), 'utf8')) as { ID: string; Created: string };
    const down = castle(dir, ['down']);
    assert.equal(down.code, 1);
    assert.ok(
      down.stdout.includes(
        `destroy refused: state lock ${lock.ID} held by ${userInfo().username}@${hostname()} (OperationTypeApply, Terraform 1.9.8, since ${lock.Created}) on ${join(dir, 'platform', 'terraform.tfstate')}`,
      ),
      down.stdout,
    );
    assert.match(down.stdout, /not released by Castle: no terraform command started by a run of this castle was running when it was taken/);
    assert.ok(down.stdout.includes(`release it with: cd ${join(dir, 'platform')} && ${DOUBLE} force-unlock -force ${lock.ID}`));
    assert.ok(existsSync(lockFile(dir)), 'the lock is left alone');
    assert.ok(alive(other.pid!));
  } finally {
    other.kill('SIGKILL');
  }
});
