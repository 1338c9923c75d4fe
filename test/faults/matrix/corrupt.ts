import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openSync, readdirSync, readSync, statSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { assertRecovered, faultCastle, finished, record, startUntil, type FaultCastle } from '../harness.js';

// A flipped byte in the backup the restore is about to use: pgBackRest's checksums must catch it, and Castle
// must fall back to the previous backup plus WAL or stop; never bring back a silently different database.
let c: FaultCastle;
before(async () => {
  c = await faultCastle();
});
after(() => c?.destroy());

function backupDir(): string {
  return join(c.s3Dir, 'data', 'castle-backups', 'pgbackrest', 'blog-db', 'repo1', 'backup', 'db');
}

/**
 * Flips one byte in the middle of pg_control in the newest backup of the S3 store (it is in every backup); with repo
 * bundling (the local target's default) pg_control sits in one of the backup's bundles: the byte is flipped in the
 * largest bundle, whose files are all part of the restore.
 */
function corruptNewest(): { label: string; file: string } {
  const label = readdirSync(backupDir())
    .filter((d) => /^\d{8}-\d{6}F/.test(d))
    .sort()
    .pop()!;
  const global = join(backupDir(), label, 'pg_data', 'global');
  const alone = existsSync(global) ? readdirSync(global).find((f) => /^pg_control\.[a-z0-9]+\._S3rver_object$/.test(f)) : undefined;
  const bundles = join(backupDir(), label, 'bundle');
  const file = alone
    ? join(global, alone)
    : join(
        bundles,
        readdirSync(bundles)
          .filter((f) => f.endsWith('._S3rver_object'))
          .sort((a, b) => statSync(join(bundles, b)).size - statSync(join(bundles, a)).size)[0]!,
      );
  assert.ok(existsSync(file), file);
  const fd = openSync(file, 'r+');
  try {
    const at = Math.floor(statSync(file).size / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
  return { label, file };
}

test('a corrupt backup in S3: the restore fails loudly and falls back to the previous backup plus WAL, proven identical', async () => {
  await c.write(100);
  // a gate's backup is the newest when the gate finishes; corrupted then, before the restore reads it
  const run = await startUntil(c, ['rebirth'], finished('gate/0'));
  const bad = corruptNewest();
  const r = await run.done;
  const evs = c.lastEvents();
  const db = evs.find((e) => e.type === 'step-finished' && e.stepId === 'up/database/0');
  if (r.code === 0) {
    const lost = await assertRecovered(c, r);
    assert.ok(db?.type === 'step-finished');
    assert.match(db.summary ?? '', new RegExp(`${bad.label}.*(corrupt|checksum|fell back|previous)`, 'i'));
    record({
      fault: 'a corrupt backup in S3 (one flipped byte in the newest backup)',
      printed: (db.summary ?? '').slice(0, 220),
      dataLost: lost,
      manual: 'none (fell back within the same run)',
      recoverMs: 0,
    });
    return;
  }
  assert.ok(db?.type === 'step-finished' && db.status === 'failed');
  assert.match(db.reason ?? '', /checksum|corrupt|decompress|invalid/i);
  record({
    fault: 'a corrupt backup in S3 (one flipped byte in the newest backup)',
    printed: (db.reason ?? '').slice(0, 220),
    dataLost: 'castle down, data only in the repo',
    manual: 'stopped with a clear message',
    recoverMs: 0,
  });
  assert.fail(`stopped: ${db.reason}`);
});
