import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const RACER = fileURLToPath(new URL('./fixtures/lock-racer.js', import.meta.url));
const RACERS = 20;
const ROUNDS_PER_START = 15;

interface Racer {
  readonly child: ChildProcess;
  readonly name: string;
  next(): Promise<Record<string, unknown>>;
}

function startRacer(name: string): Racer {
  const child = spawn(process.execPath, [RACER, name], { stdio: ['pipe', 'pipe', 'inherit'] });
  const queue: Record<string, unknown>[] = [];
  const waiting: ((v: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const msg = JSON.parse(l) as Record<string, unknown>;
    const w = waiting.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  return {
    child,
    name,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r))),
  };
}

/** A pid that was running a moment ago and is gone now (reaped), as a crashed holder leaves behind. */
function deadPid(): number {
  const r = spawnSync('true');
  assert.ok(r.pid && r.pid > 0);
  return r.pid;
}

type Start = 'free' | 'stale' | 'empty';

function prepare(stateDir: string, start: Start): void {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, 'lock.json');
  if (start === 'stale')
    writeFileSync(file, JSON.stringify({ pid: deadPid(), host: hostname(), runId: 'dead-run', since: new Date().toISOString(), operation: 'up' }));
  // what a holder killed between creating and writing the file leaves behind
  if (start === 'empty') writeFileSync(file, '');
}

test(`${RACERS} processes racing for the lock: exactly one holds it, each round, from a free, a stale and an empty lock`, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'castle-lock-race-'));
  const racers = Array.from({ length: RACERS }, (_, i) => startRacer(`racer-${i}`));
  t.after(() => {
    for (const r of racers) r.child.kill();
    rmSync(base, { recursive: true, force: true });
  });
  for (const r of racers) assert.deepEqual(await r.next(), { name: r.name, ready: true });

  const starts: Start[] = ['free', 'stale', 'empty'];
  const failures: string[] = [];
  for (let round = 0; round < ROUNDS_PER_START * starts.length; round++) {
    const start = starts[round % starts.length]!;
    const stateDir = join(base, `round-${round}`);
    prepare(stateDir, start);
    for (const r of racers) r.child.stdin!.write(`go ${stateDir}\n`);
    const outcomes = await Promise.all(racers.map((r) => r.next()));
    for (const o of outcomes)
      if ('error' in o) failures.push(`round ${round} (${start} lock): ${String(o['name'])} threw ${String(o['error']).split('\n')[0]}`);
    const winners = outcomes.filter((o) => o['won'] === true);
    if (winners.length !== 1) {
      failures.push(`round ${round} (${start} lock): ${winners.length} holders (${winners.map((w) => w['name']).join(', ')})`);
    } else {
      const w = winners[0]!;
      const onDisk = JSON.parse(readFileSync(join(stateDir, 'lock.json'), 'utf8')) as { runId: string; pid: number };
      assert.equal(onDisk.runId, w['name'], `round ${round}: the lock file names the process that holds it`);
      // the takeover replaces the stale lock in one step: no other process can slip in between
      const took = w['tookOverFrom'];
      if (start === 'stale' ? took !== 'dead-run' : took !== undefined)
        failures.push(`round ${round} (${start} lock): the holder says it took over ${String(took)}`);
    }
    for (const r of racers) r.child.stdin!.write('release\n');
    for (const o of await Promise.all(racers.map((r) => r.next()))) assert.equal(o['released'], true);
    if (winners.length === 1) {
      assert.ok(!existsSync(join(stateDir, 'lock.json')), `round ${round}: the holder released the lock`);
      // no temp or takeover files left beside it (a set-aside unreadable lock is kept to look at)
      assert.deepEqual(
        readdirSync(stateDir).filter((f) => !f.startsWith('lock.json.corrupt-')),
        [],
        `round ${round}: files left`,
      );
    }
  }
  assert.deepEqual(failures, [], 'rounds where the lock was held by other than exactly one process');
  for (const r of racers) r.child.stdin!.end('quit\n');
});

test('a stale lock whose first taker died mid-takeover is still taken over, by the next claim', async () => {
  const { createHash } = await import('node:crypto');
  const { acquireLock } = await import('../../src/engine/lock.js');
  const stateDir = mkdtempSync(join(tmpdir(), 'castle-lock-claim-'));
  try {
    const stale = JSON.stringify({ pid: deadPid(), host: hostname(), runId: 'dead-run', since: '2026-01-01T00:00:00.000Z', operation: 'up' });
    writeFileSync(join(stateDir, 'lock.json'), stale);
    // the claim a taker leaves when killed between claiming the stale lock and replacing it
    const generation = createHash('sha256').update(stale).digest('hex').slice(0, 16);
    const deadClaimer = { pid: deadPid(), host: hostname(), runId: 'dead-taker', since: '2026-01-01T00:00:01.000Z', operation: 'up' };
    writeFileSync(join(stateDir, `lock.json.takeover-${generation}-0`), JSON.stringify(deadClaimer));
    const out = acquireLock(stateDir, { runId: 'next', operation: 'up' });
    assert.equal(out.state, 'acquired');
    assert.ok(out.state === 'acquired' && out.takenOver?.previous.runId === 'dead-run');
    assert.equal(JSON.parse(readFileSync(join(stateDir, 'lock.json'), 'utf8')).runId, 'next');
    out.release();
    assert.deepEqual(readdirSync(stateDir), [], 'the lock and every claim are gone');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
