// The data layer's rebirth on real processes: PostgreSQL (as the unprivileged user when root), pgBackRest,
// s3rver over TLS on loopback. Gate -> wipe -> restore -> start -> proof, and the refusals.
import { test, before, after } from 'node:test';
import pg from 'pg';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startS3Server, stopS3Server, type S3ServerInfo } from '../../src/s3/server.js';
import {
  dataCastle,
  createCluster,
  ensureCluster,
  backupGate,
  wipeCastle,
  restoreCastle,
  startCastle,
  proveCastle,
  type DataCastle,
  type DataCastleSpec,
  type GateRecord,
} from '../../src/data/rebirth.js';
import { connConfig, postmasterPid, sql, stopPostgres, controlSystemId, syncfsReportsErrors } from '../../src/data/postgres.js';
import { archiveCommand, archiveGetCache, flushWal, pgbackrest, pgbackrestInfo, runBackup, writePgbackrestConf } from '../../src/data/pgbackrest.js';
import { fingerprintCluster, compareFingerprints } from '../../src/data/fingerprint.js';
import type { Result } from '../../src/core/result.js';
import { pidAlive, processGone } from '../../src/os/pid.js';
import { repo1Bucket } from '../../src/targets/local/repo-bucket.js';
import { freePort, tempDir, rmDir, collector } from './helpers.js';

let s3dir: string;
let s3: S3ServerInfo;
const roots: string[] = [];
const castles: DataCastle[] = [];
const logs = collector();

function spec(root: string, port: number, stanza: string, extra: Partial<DataCastleSpec> = {}): DataCastleSpec {
  return {
    root,
    port,
    stanza,
    repo1: {
      host: 'localhost',
      port: s3.port,
      bucket: 'pgbackrest',
      region: 'us-east-1',
      path: '/repo',
      accessKeyId: s3.target.accessKeyId,
      secretAccessKey: s3.target.secretAccessKey,
      ...(s3.target.caPem ? { caPem: s3.target.caPem } : {}),
    },
    processMax: 2,
    ...extra,
  };
}

async function newCastle(stanza: string, extra: Partial<DataCastleSpec> = {}): Promise<DataCastle> {
  const root = join(tempDir('data'), 'castle');
  roots.push(root);
  const r = castleOf(spec(root, await freePort(), stanza, extra));
  assert.ok(r.ok, !r.ok ? r.reason : '');
  castles.push(r.value);
  return r.value;
}

/** The data layer with repo1 read through the S3 API (as the local target wires it). */
function castleOf(sp: DataCastleSpec): Result<DataCastle> {
  return dataCastle(sp, repo1Bucket(sp.repo1));
}

function must<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`${r.reason}\n--- log tail ---\n${logs.lines.slice(-25).join('\n')}`);
  return r.value;
}

async function seed(dc: DataCastle): Promise<void> {
  must(await sql(dc.cluster, 'CREATE DATABASE app'));
  must(
    await sql(
      dc.cluster,
      `CREATE TABLE items(id bigint PRIMARY KEY, name text, price numeric(10,2), tags text[], doc jsonb, at timestamptz);
       INSERT INTO items SELECT g, 'item ' || g, g * 1.5, ARRAY['a', g::text], jsonb_build_object('g', g), '2026-01-01'::timestamptz + g * interval '1 minute'
         FROM generate_series(1, 20000) g;
       CREATE TABLE log_nopk(msg text, n int);
       INSERT INTO log_nopk SELECT 'line ' || (g % 100), g % 7 FROM generate_series(1, 3000) g;
       CREATE SCHEMA billing;
       CREATE TABLE billing.invoices(customer int, number int, total numeric, PRIMARY KEY (customer, number));
       INSERT INTO billing.invoices SELECT g % 50, g, g * 3 FROM generate_series(1, 5000) g;
       CREATE UNLOGGED TABLE cache(k int PRIMARY KEY, v text);
       INSERT INTO cache SELECT g, 'c' FROM generate_series(1, 100) g;`,
      [],
      'app',
    ),
  );
  must(await sql(dc.cluster, `CREATE TABLE settings(k text PRIMARY KEY, v text); INSERT INTO settings VALUES ('a', '1'), ('b', NULL)`));
}

// a killed test run leaves no postgres behind (immediate shutdown of each postmaster, by pid)
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    for (const dc of castles) {
      const pid = postmasterPid(dc.cluster);
      if (pid) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          /* gone */
        }
      }
    }
    process.exit(1);
  });
}

before(async () => {
  s3dir = tempDir('s3');
  const r = await startS3Server({ dir: s3dir, port: await freePort(), bucket: 'pgbackrest', log: logs.log, ownerPid: process.pid });
  s3 = must(r);
});

after(async () => {
  for (const dc of castles) await stopPostgres(dc.cluster).catch(() => undefined);
  await stopS3Server(s3dir);
  for (const r of roots) rmDir(join(r, '..'));
  rmDir(s3dir);
  // no secret in any log line
  assert.ok(!logs.lines.some((l) => l.includes(s3.target.secretAccessKey)), 'the S3 secret leaked into a log');
});

let main: DataCastle;
let mainGate: GateRecord;

test('full cycle: gate, nuclear wipe, restore from S3, start, proof identical incl. rows written after the backup', async () => {
  main = await newCastle('main');
  const created = must(await createCluster(main, { noSync: true, log: logs.log }));
  assert.ok(pidAlive(created.pid));
  await seed(main);
  must(await backupGate(main, { type: 'full', fingerprint: false, log: logs.log }));

  // the gate: incremental backup; rows written after it (before the fingerprint) live only in WAL
  const g = must(
    await backupGate(main, {
      log: logs.log,
      beforeFingerprint: async () => {
        must(
          await sql(
            main.cluster,
            `INSERT INTO items SELECT g, 'after backup ' || g, 1, NULL, NULL, now() FROM generate_series(20001, 30000) g; UPDATE items SET name = 'changed' WHERE id <= 100; DELETE FROM log_nopk WHERE n = 3`,
            [],
            'app',
          ),
        );
        must(await sql(main.cluster, `INSERT INTO settings VALUES ('after', 'backup')`));
      },
    }),
  );
  mainGate = g;
  assert.equal(g.backup.type, 'incr');
  assert.ok(g.backup.size > 0);
  const fp = g.fingerprint!;
  assert.deepEqual(fp.databases, ['app', 'postgres']);
  const items = fp.tables.find((t) => t.database === 'app' && t.table === 'items')!;
  assert.equal(items.rows, 30000);
  assert.equal(fp.tables.find((t) => t.table === 'cache')!.unlogged, true);

  // nuclear wipe: processes stopped, the castle root gone (data, repo, sockets, logs)
  const pid = postmasterPid(main.cluster)!;
  const w = must(await wipeCastle(main, { gate: g, log: logs.log }));
  assert.ok(w.stopped.includes(pid));
  assert.ok(processGone(pid));
  assert.equal(existsSync(main.cluster.root), false);

  // rebirth from S3 (no local repo configured)
  const r = must(await restoreCastle(main, { gate: g, log: logs.log }));
  assert.equal(r.repo, 1);
  assert.equal(r.backup, g.backup.label);
  must(await startCastle(main, { log: logs.log }));
  // the end of recovery asks again for the last segment and the parent timeline's history: served from what the
  // restore_command kept, so pgBackRest fetched each file from S3 once; what it kept is gone after the promotion
  const serverLog = readFileSync(main.cluster.logFile, 'utf8');
  const fetched = [...serverLog.matchAll(/found (\S+) in the repo1/g)].map((m) => m[1]!);
  const restored = [...serverLog.matchAll(/restored log file "(\S+)" from archive/g)].map((m) => m[1]!);
  assert.ok(
    fetched.some((f) => /^[0-9A-F]{24}$/.test(f)),
    `fetched: ${fetched.join(', ')}`,
  );
  assert.equal(new Set(fetched).size, fetched.length, `fetched from S3 more than once: ${fetched.join(', ')}`);
  assert.ok(restored.length > fetched.length, `restored ${restored.join(', ')}; fetched ${fetched.join(', ')}`);
  assert.equal(existsSync(archiveGetCache(main.pgbr)), false);
  // the restored server's start synced the data dir with one syncfs, not a file-by-file fsync (castle.conf after the restore)
  const sync = must(await sql(main.cluster, 'SHOW recovery_init_sync_method'));
  assert.equal(sync[0]!.recovery_init_sync_method, syncfsReportsErrors() ? 'syncfs' : 'fsync');
  // TOAST written with lz4 (Debian's PostgreSQL is built with it), set at initdb and kept through the restore
  const toast = must(await sql(main.cluster, 'SHOW default_toast_compression'));
  assert.equal(toast[0]!.default_toast_compression, 'lz4');

  // proof: same system, same data, post-backup rows included
  const p = must(await proveCastle(main, g, { log: logs.log }));
  assert.equal(p.systemId, g.systemId);
  assert.deepEqual(p.diffs, []);
  const after = must(await sql(main.cluster, `SELECT count(*)::int AS n, count(*) FILTER (WHERE name = 'changed')::int AS c FROM items`, [], 'app'));
  assert.deepEqual(after[0], { n: 30000, c: 100 });
  const cache = must(await sql(main.cluster, 'SELECT count(*)::int AS n FROM cache', [], 'app'));
  assert.equal(cache[0]!.n, 0, 'unlogged tables come back empty (by design)');

  // pgBackRest's own view agrees (info --output=json)
  const info = must(await pgbackrestInfo(main.pgbr));
  const st = info[0] as { status: { code: number }; backup: { label: string }[]; db: { 'system-id': string }[] };
  assert.equal(st.status.code, 0);
  assert.ok(st.backup.some((x) => x.label === g.backup.label));
  assert.equal(st.db[st.db.length - 1]!['system-id'], g.systemId);

  // the reborn cluster archives again (new timeline) and a later change is detected by the proof
  must(await flushWal(main.pgbr, { timeoutMs: 30000 }));
  must(await sql(main.cluster, `UPDATE items SET price = price + 1 WHERE id = 7`, [], 'app'));
  const bad = await proveCastle(main, g, { evidenceDir: join(main.cluster.root, '..', 'evidence') });
  assert.equal(bad.ok, false);
  assert.match(
    !bad.ok ? bad.reason : '',
    /proof failed: data differs from the gate's fingerprint: app: public\.items has 30000 rows as before but different content/,
  );
  assert.match(!bad.ok ? bad.reason : '', /evidence: .*proof-evidence-\d+\.json/);
  must(await sql(main.cluster, `UPDATE items SET price = price - 1 WHERE id = 7`, [], 'app'));
});

test('syncfs only where the kernel reports write-back errors to it (Linux >= 5.8)', () => {
  assert.equal(syncfsReportsErrors('linux', '5.7.19-generic'), false);
  assert.equal(syncfsReportsErrors('linux', '5.8.0'), true);
  assert.equal(syncfsReportsErrors('linux', '6.18.44-fc-v1045'), true);
  assert.equal(syncfsReportsErrors('linux', '4.19.0'), false);
  assert.equal(syncfsReportsErrors('darwin', '23.1.0'), false);
});

test('gate refuses and nothing is wiped: S3 down, wrong credentials, failing archiving', async (t) => {
  assert.ok(main && postmasterPid(main.cluster), 'needs the cluster of the full cycle');
  const dataFiles = () => existsSync(join(main.cluster.dataDir, 'PG_VERSION'));

  // S3 endpoint down
  must(await stopS3Server(s3dir));
  const down = await backupGate(main, { log: logs.log });
  assert.equal(down.ok, false);
  assert.match(
    !down.ok ? down.reason : '',
    /^backup gate failed, nothing may be wiped: S3 endpoint https:\/\/localhost:\d+ refused the connection: is it running\?$/,
  );
  t.diagnostic(`S3 down: ${!down.ok ? down.reason : ''}`);
  const refused = await wipeCastle(main, { gate: null, log: logs.log });
  assert.equal(refused.ok, false);
  assert.match(!refused.ok ? refused.reason : '', /no successful backup gate/);
  assert.ok(dataFiles() && postmasterPid(main.cluster));
  s3 = must(await startS3Server({ dir: s3dir, port: s3.port, bucket: 'pgbackrest', log: logs.log, ownerPid: process.pid }));

  // wrong credentials: the S3 probe and pgBackRest itself both say so
  const wrong = castleOf(
    spec(main.cluster.root, main.cluster.port, 'main', { repo1: { ...spec('', 0, '').repo1, accessKeyId: 'WRONGKEY', secretAccessKey: 'wrong-secret-value' } }),
  );
  assert.ok(wrong.ok);
  const wg = await backupGate(wrong.value, { log: logs.log });
  assert.equal(wg.ok, false);
  assert.match(!wg.ok ? wg.reason : '', /S3 endpoint https:\/\/localhost:\d+ rejected the credentials \(HTTP 403 InvalidAccessKeyId\)/);
  t.diagnostic(`wrong credentials (probe): ${!wg.ok ? wg.reason : ''}`);
  must(await writePgbackrestConf(wrong.value.pgbr));
  const wb = await runBackup(wrong.value.pgbr, { type: 'incr', log: logs.log });
  must(await writePgbackrestConf(main.pgbr));
  assert.equal(wb.ok, false);
  assert.match(!wb.ok ? wb.reason : '', /pgBackRest rejected the S3 credentials \(HTTP 403 InvalidAccessKeyId\)/);
  assert.ok(!(!wb.ok && wb.reason.includes('wrong-secret-value')));
  t.diagnostic(`wrong credentials (pgBackRest): ${!wb.ok ? wb.reason : ''}`);
  assert.ok(dataFiles());

  // archiving failing: archive_command pointed at a stanza that does not exist
  const bogus = archiveCommand(main.pgbr).replace('--stanza=main', '--stanza=nosuchstanza');
  must(await sql(main.cluster, `ALTER SYSTEM SET archive_command = '${bogus}'`));
  must(await sql(main.cluster, 'SELECT pg_reload_conf()'));
  try {
    must(await sql(main.cluster, `INSERT INTO settings VALUES ('x', 'wal')`));
    const ag = await backupGate(main, { log: logs.log, flushTimeoutMs: 30000 });
    t.diagnostic(`archiving failing: ${!ag.ok ? ag.reason : ''}`);
    assert.equal(ag.ok, false);
    assert.match(
      !ag.ok ? ag.reason : '',
      /^backup gate failed, nothing may be wiped: WAL archiving is failing: last_failed_wal [0-9A-F]{24} at .* \(failed_count \d+\)/,
    );
  } finally {
    must(await sql(main.cluster, 'ALTER SYSTEM RESET archive_command'));
    must(await sql(main.cluster, 'SELECT pg_reload_conf()'));
    must(await sql(main.cluster, `DELETE FROM settings WHERE k = 'x'`));
  }
  assert.ok(dataFiles() && postmasterPid(main.cluster));
  // and archiving recovers
  must(await flushWal(main.pgbr, { timeoutMs: 30000 }));
});

test('a fingerprint that fails beside the backup refuses the gate at once: the backup is stopped, not waited for', async (t) => {
  assert.ok(main && postmasterPid(main.cluster), 'needs the cluster of the full cycle');
  // a lock makes the fingerprint wait on a table; its connections are then ended as an administrator would
  const locker = new pg.Client(connConfig(main.cluster, 'app'));
  await locker.connect();
  let stopped = false;
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    const t0 = Date.now();
    const running = backupGate(main, { log: logs.log });
    // asked outside the locker's transaction, whose view of pg_stat_activity is taken once
    let waiting = 0;
    for (let i = 0; i < 200 && waiting === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const q = must(
        await sql(main.cluster, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'castle-fingerprint' AND wait_event_type = 'Lock'"),
      );
      waiting = Number(q[0]!['n']);
    }
    assert.ok(waiting > 0, 'no fingerprint connection waited on the lock');
    // the S3 endpoint paused: the backup cannot end on its own now (the S3 watch would stop it after 3 missed probes)
    process.kill(s3.pid, 'SIGSTOP');
    stopped = true;
    must(await sql(main.cluster, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'castle-fingerprint'"));
    const r = await running;
    const ms = Date.now() - t0;
    t.diagnostic(`refused after ${ms} ms: ${!r.ok ? r.reason : ''}`);
    assert.ok(!r.ok);
    assert.match(r.reason, /^backup gate failed, nothing may be wiped: fingerprint failed: terminating connection due to administrator command /);
    assert.match(r.reason, /\(read beside the backup, which was stopped: pgBackRest resumes or removes it at the next backup\)$/);
    assert.ok(existsSync(join(main.cluster.dataDir, 'PG_VERSION')) && postmasterPid(main.cluster));
  } finally {
    if (stopped) process.kill(s3.pid, 'SIGCONT');
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end().catch(() => undefined);
  }
  // no pgBackRest of that backup is left, and the next gate takes its backup as usual
  const next = await backupGate(main, { log: logs.log });
  assert.ok(next.ok, !next.ok ? next.reason : '');
});

test('restore from the local repo2 when it is present and current', async () => {
  const dc = await newCastle('local', { repo2: true });
  must(await createCluster(dc, { noSync: true, log: logs.log }));
  must(await sql(dc.cluster, `CREATE TABLE t(id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g`));
  const g = must(await backupGate(dc, { type: 'full', alsoRepo2: true, log: logs.log }));
  assert.ok(g.repo2Backup);
  // lose PGDATA only (the castle root with repo2 stays)
  must(await stopPostgres(dc.cluster));
  rmSync(dc.cluster.dataDir, { recursive: true, force: true });
  assert.ok(existsSync(join(dc.pgbr.repo2Path!, 'backup', 'local', 'backup.info')));
  const r = must(await restoreCastle(dc, { gate: g, log: logs.log }));
  assert.equal(r.repo, 2);
  assert.match(r.why, /local repo2 is present and current/);
  must(await startCastle(dc, { log: logs.log }));
  must(await proveCastle(dc, g, { log: logs.log }));

  // after a nuclear wipe repo2 is gone: S3, then repo2's stanza is recreated on start
  // (as in a rebirth, the wiped files are deleted beside the restore; a root left renamed by a killed wipe goes too)
  const g2 = must(await backupGate(dc, { log: logs.log, fingerprint: true }));
  assert.ok(g2.fingerprint && g2.timings.fingerprintBeside !== undefined && g2.timings.fingerprint === undefined, 'fingerprinted beside the backup');
  const parent = join(dc.cluster.root, '..');
  const killedEarlier = `${dc.cluster.root}.wiped-1-2`;
  mkdirSync(join(killedEarlier, 'pgdata'), { recursive: true });
  const keep = `${dc.cluster.root}.wiped-by-hand`;
  mkdirSync(keep);
  const w2 = must(await wipeCastle(dc, { gate: g2, deleteBeside: true, log: logs.log }));
  assert.equal(existsSync(dc.cluster.root), false, 'the root is gone from its path when the wipe returns');
  const r2 = must(await restoreCastle(dc, { gate: g2, log: logs.log }));
  assert.equal(r2.repo, 1);
  must(await startCastle(dc, { log: logs.log }));
  must(await w2.deleted);
  assert.deepEqual(
    readdirSync(parent).filter((n) => n.includes('.wiped-')),
    ['castle.wiped-by-hand'],
    'the renamed roots are deleted, a directory Castle did not name is not',
  );
  rmSync(keep, { recursive: true });
  must(await proveCastle(dc, g2));
  // without room for the restore beside the old files, they are deleted before the wipe returns
  const g3 = must(await backupGate(dc, { log: logs.log }));
  const huge = { ...g3, backup: { ...g3.backup, size: 1e18 } };
  const w3 = must(await wipeCastle(dc, { gate: huge, deleteBeside: true, log: logs.log }));
  assert.deepEqual(
    readdirSync(parent).filter((n) => n.includes('.wiped-')),
    [],
  );
  must(await w3.deleted);
  must(await restoreCastle(dc, { gate: g3, log: logs.log }));
  must(await startCastle(dc, { log: logs.log }));
  must(await proveCastle(dc, g3));
  assert.ok(existsSync(join(dc.pgbr.repo2Path!, 'backup', 'local', 'backup.info')));
  must(await flushWal(dc.pgbr, { timeoutMs: 30000 }));
  await stopPostgres(dc.cluster);
});

test('ensureCluster: created, running, started, and restored zero-touch after a wipe', async () => {
  const dc = await newCastle('ensure');
  const a = must(await ensureCluster(dc, { noSync: true, log: logs.log }));
  assert.equal(a.action, 'created');
  must(await sql(dc.cluster, `CREATE TABLE kept(id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 123)`));
  assert.equal(must(await ensureCluster(dc, { log: logs.log })).action, 'running');
  must(await stopPostgres(dc.cluster));
  assert.equal(must(await ensureCluster(dc, { log: logs.log })).action, 'started');
  const g = must(await backupGate(dc, { type: 'full', log: logs.log }));
  // a stray process of the castle (its command line names a path inside the castle) is stopped by the wipe
  const { spawn } = await import('node:child_process');
  const stray = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', join(dc.cluster.root, 'run', 'stray')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 200));
  const w = must(await wipeCastle(dc, { gate: g, log: logs.log }));
  assert.ok(w.stopped.includes(stray.pid!), 'the stray process was stopped');
  assert.ok(processGone(stray.pid!));
  const r = must(await ensureCluster(dc, { log: logs.log }));
  assert.equal(r.action, 'restored');
  assert.equal(r.systemId, a.systemId);
  must(await proveCastle(dc, g));
  await stopPostgres(dc.cluster);
});

test('another system-id: stanza-create refused, restore over a foreign cluster refused, second system-id hazard refused', async (t) => {
  assert.ok(mainGate, 'needs the full cycle');
  // a brand-new cluster pointed at the main castle's stanza
  const other = await newCastle('main');
  const c = await createCluster(other, { noSync: true, log: logs.log });
  assert.equal(c.ok, false);
  assert.match(!c.ok ? c.reason : '', /the repo's stanza 'main' belongs to another database system than .*: refusing to mix them/);
  t.diagnostic(`stanza-create on a foreign repo: ${!c.ok ? c.reason : ''}`);
  assert.equal(postmasterPid(other.cluster), null, 'a refused creation leaves no server running');
  const otherSys = must(await controlSystemId(other.cluster));
  assert.notEqual(otherSys, mainGate.systemId);

  // restoring the main repo into that foreign data dir is refused (nothing overwritten)
  const into = await restoreCastle(other, { log: logs.log });
  t.diagnostic(`foreign data dir: ${!into.ok ? into.reason : ''}`);
  assert.equal(into.ok, false);
  assert.match(
    !into.ok ? into.reason : '',
    new RegExp(`refusing to restore into .*: it holds database system ${otherSys} but repo1 stanza 'main' belongs to system ${mainGate.systemId}`),
  );
  assert.equal(must(await controlSystemId(other.cluster)), otherSys);

  // PGO's hazard: `stanza-upgrade` from the new cluster adds a second system-id to the repo
  const { startPostgres } = await import('../../src/data/postgres.js');
  must(await startPostgres(other.cluster, { log: logs.log }));
  const up = await pgbackrest(other.pgbr, ['stanza-upgrade'], { log: logs.log });
  assert.equal(up.code, 0, up.stderr);
  await stopPostgres(other.cluster);
  const hazard = await restoreCastle(main, { gate: mainGate, log: logs.log });
  t.diagnostic(`second system-id: ${!hazard.ok ? hazard.reason : ''}`);
  assert.equal(hazard.ok, false);
  assert.match(
    !hazard.ok ? hazard.reason : '',
    new RegExp(
      `refusing to restore: repo1 stanza 'main' now belongs to database system ${otherSys}, but this castle's data is system ${mainGate.systemId} .*second system-id`,
    ),
  );
  // and the proof on the running main cluster sees the repo changed hands
  const p = await proveCastle(main, mainGate);
  assert.equal(p.ok, false);
  assert.match(!p.ok ? p.reason : '', new RegExp(`the S3 repo now belongs to system ${otherSys}`));
});

test('fingerprint: identical data in another order of insertion gives the same hash; streaming counts rows', async () => {
  assert.ok(main && postmasterPid(main.cluster));
  must(await sql(main.cluster, `CREATE DATABASE fp`));
  must(
    await sql(
      main.cluster,
      `CREATE TABLE a(id int PRIMARY KEY, v text); INSERT INTO a SELECT g, 'v' || g FROM generate_series(1, 1000) g;
    CREATE TABLE b(id int PRIMARY KEY, v text); INSERT INTO b SELECT g, 'v' || g FROM generate_series(1000, 1, -1) g;`,
      [],
      'fp',
    ),
  );
  const f = must(await fingerprintCluster(connConfig(main.cluster), { databases: ['fp'], splitBytes: 1 }));
  const a = f.tables.find((t) => t.table === 'a')!;
  const b = f.tables.find((t) => t.table === 'b')!;
  assert.equal(a.rows, 1000);
  assert.equal(a.digest, b.digest);
  assert.ok(a.parts > 1, 'large tables are read in block ranges');
  const again = must(await fingerprintCluster(connConfig(main.cluster), { databases: ['fp'], reference: f, parallel: 1 }));
  assert.deepEqual(compareFingerprints(f, again), []);
  must(await sql(main.cluster, `DELETE FROM b WHERE id = 500`, [], 'fp'));
  const changed = must(await fingerprintCluster(connConfig(main.cluster), { databases: ['fp'], reference: f }));
  const d = compareFingerprints(f, changed);
  assert.deepEqual(
    d.map((x) => x.detail),
    ['fp: public.b had 1000 rows, now 999'],
  );
  // cancellation is a value
  const ac = new AbortController();
  ac.abort();
  const cancelled = await fingerprintCluster(connConfig(main.cluster), { signal: ac.signal });
  assert.equal(cancelled.ok, false);
});
