import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCastle } from '../../helpers/local-castle.js';
import { assertRecovered, clusterRoot, faultCastle, record, said, sh, started, startUntil, type FaultCastle } from '../harness.js';

// The castle's disk full: its dataDir is a 128 MB ext4 filesystem of its own (an image on a loop device),
// filled with a ballast file at the chosen moment, freed afterwards.
let c: FaultCastle;
let loop = '';
let mounted = '';

function mountDisk(lc: LocalCastle): void {
  const img = join(lc.dataDir, '..', 'disk.img');
  sh('truncate', ['-s', '128M', img]);
  sh('mkfs.ext4', ['-q', '-F', img]);
  loop = sh('losetup', ['--find', '--show', img]).trim();
  sh('mkdir', ['-p', lc.dataDir]);
  sh('mount', [loop, lc.dataDir]);
  mounted = lc.dataDir;
  sh('chmod', ['755', lc.dataDir]);
}

function unmountDisk(): void {
  if (mounted) spawnSync('umount', [mounted]);
  if (loop) spawnSync('losetup', ['-d', loop]);
  mounted = loop = '';
}

const ballast = () => join(c.dataDir, 'ballast');
function fill(): void {
  // dd stops at ENOSPC: that is the point
  spawnSync('dd', ['if=/dev/zero', `of=${ballast()}`, 'bs=1M'], { stdio: 'ignore' });
  spawnSync('sync');
}
const free = () => rmSync(ballast(), { force: true });

before(async () => {
  c = await faultCastle(undefined, mountDisk);
});
after(() => {
  if (!c) return unmountDisk();
  c.castle(['down', '--no-backup', '--i-accept-data-loss']);
  unmountDisk();
  c.destroy();
});

const pgdata = () => join(clusterRoot(c), 'pgdata');

test('disk full during the backup: the gate refuses or the rebirth completes; nothing is lost either way', async () => {
  await c.write(50);
  fill();
  const first = await c.run(['rebirth']);
  const t = Date.now();
  free();
  if (first.code === 0) {
    const lost = await assertRecovered(c, first);
    record({
      fault: 'disk full during the backup (dataDir on a full 128 MB filesystem)',
      printed: 'rebirth completed: the backup goes to S3, the wipe freed the disk',
      dataLost: lost,
      manual: 'none',
      recoverMs: 0,
    });
    return;
  }
  assert.ok(existsSync(join(pgdata(), 'PG_VERSION')), 'nothing wiped');
  const r = await c.run(['rebirth']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'disk full during the backup (dataDir on a full 128 MB filesystem)',
    printed: said(first),
    dataLost: `${lost}; nothing was wiped`,
    manual: `by design: free space on the castle's disk, then \`castle rebirth\``,
    recoverMs: Date.now() - t,
  });
});

test('disk full during the restore: a clear failure; once space is freed, resume completes', async () => {
  await c.write(50);
  const run = await startUntil(c, ['rebirth'], started('up/database/0'));
  fill();
  const failed = await run.done;
  assert.equal(failed.code, 1, failed.stdout);
  const fin = c.lastEvents().find((e) => e.type === 'step-finished' && e.stepId === 'up/database/0');
  assert.ok(fin?.type === 'step-finished' && fin.status === 'failed');
  assert.match(fin.reason ?? '', /space|ENOSPC|full/i);
  const t = Date.now();
  free();
  const r = await c.run(['rebirth', '--resume']);
  const lost = await assertRecovered(c, r);
  record({
    fault: 'disk full during the restore',
    printed: (fin.reason ?? '').slice(0, 200),
    dataLost: lost,
    manual: "by design: free space on the castle's disk, then `castle rebirth --resume`",
    recoverMs: Date.now() - t,
  });
});
