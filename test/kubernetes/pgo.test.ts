// The PGO data layer on the Kubernetes test server with real parts behind it: PostgreSQL and pgBackRest
// (src/data) as the cluster's primary, s3rver as the S3 repo. Backup gate, failing backup Job, a fingerprint failing while the Job runs, rebirth
// with restore check and proof, a proof that fails on different data, a repo of another system refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { KubeTestServer, tempDir, rmDir, type Obj } from './index.js';
import { stepContext } from './context.js';
import { installPgo, newPrimary, PASSWORD, s3CredsSecret, seedCluster, startS3, stopAll } from './pgo-fixture.js';
import type { S3ServerInfo } from '../../src/s3/server.js';
import type { DataCastle, GateRecord } from '../../src/data/rebirth.js';
import { postmasterPid, sql } from '../../src/data/postgres.js';
import { s3Bucket } from '../../src/s3/client.js';
import { readRepoBackupInfo } from '../../src/data/gate-core.js';
import { KubeTargetSession } from '../../src/targets/kubernetes/session.js';
import { openKube } from '../../src/targets/kubernetes/client.js';
import { run as applyRun } from '../../src/targets/kubernetes/kinds/apply.js';
import { run as backupRun } from '../../src/targets/kubernetes/kinds/pgo-backup.js';
import { run as repoCheckRun } from '../../src/targets/kubernetes/kinds/pgo-repo-check.js';
import { run as proofRun } from '../../src/targets/kubernetes/kinds/pgo-proof.js';

let srv: KubeTestServer;
let dir: string;
let s3: S3ServerInfo;
let s3dir: string;
let app: Server;
let appUrl: string;
const castles: DataCastle[] = [];
const lines: string[] = [];
const log = (t: string) => void lines.push(t);
const world: {
  primary: DataCastle;
  outcome: 'Complete' | 'Failed';
  gate?: () => GateRecord | null;
  backupRuns: { start: number; end: number }[];
  afterBackup?: () => Promise<void>;
} = {
  primary: undefined as unknown as DataCastle,
  outcome: 'Complete',
  backupRuns: [],
};
let pgoHandle: { stop(): void };
let castleDir: string;
let session: KubeTargetSession;

const pgoConf = () => ({ cluster: 'tazlab-db', namespace: 'tazlab-db', s3: { caFile: s3.caFile }, sslmode: 'disable' as const, within: '60s' });

before(async () => {
  dir = tempDir('kube-pgo');
  ({ s3, dir: s3dir } = await startS3(log));
  world.primary = await newPrimary(s3, log);
  castles.push(world.primary);
  srv = await KubeTestServer.start({ dir: join(dir, 'server') });
  pgoHandle = installPgo(srv, world, log);
  // the app: serves the newest post title, read from the primary
  app = createServer((_req, res) => {
    const c = new pg.Client({ host: '127.0.0.1', port: world.primary.cluster.port, user: 'postgres', password: PASSWORD, database: 'blog' });
    c.connect()
      .then(() => c.query('SELECT title FROM posts ORDER BY id DESC LIMIT 1'))
      .then(
        (r) => res.end(`<h1>${String(r.rows[0]?.title)}</h1>`),
        (e: Error) => ((res.statusCode = 500), res.end(e.message)),
      )
      .finally(() => void c.end().catch(() => {}));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}/`;
  castleDir = join(dir, 'castle');
  mkdirSync(join(castleDir, 'data'), { recursive: true });
  writeFileSync(join(castleDir, 'data', 'cluster.yaml'), stringify(seedCluster(s3)));
  writeFileSync(join(castleDir, 'data', 'restore.yaml'), stringify(seedCluster(s3, { dataSource: true })));
  writeFileSync(join(castleDir, 'data', 'foreign.yaml'), stringify(seedCluster(s3, { dataSource: true, repoPath: '/pgbackrest/other' })));
  writeFileSync(
    join(castleDir, 'data', 'ns.yaml'),
    stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tazlab-db' } }) + '---\n' + stringify(s3CredsSecret(s3)),
  );
  session = new KubeTargetSession({ kubeconfig: srv.kubeconfigPath }, castleDir, join(castleDir, '.castle'), openKube);
  const r = await applyRun(
    { manifests: ['data/ns.yaml', 'data/cluster.yaml'], within: '30s' },
    stepContext({ castleDir, stateDir: join(castleDir, '.castle') }),
    session,
  );
  assert.ok(r.ok, r.ok ? '' : r.reason);
});

after(async () => {
  pgoHandle?.stop();
  await new Promise<void>((r) => app?.close(() => r()));
  await srv?.close();
  await stopAll(castles, s3dir);
  rmDir(dir);
  assert.ok(!lines.some((l) => l.includes(s3.target.secretAccessKey)), 'the S3 secret leaked into a log');
});

const ctxFor = (runId: string, section: 'gate' | 'up' | 'proof' | 'down') => stepContext({ castleDir, stateDir: join(castleDir, '.castle'), runId, section });

test('backup gate: manual backup by PGO, confirmed in S3 through the S3 API, fingerprinted', async () => {
  const ctx = ctxFor('gate1', 'gate');
  const r = await backupRun(pgoConf(), ctx, session);
  assert.ok(r.ok, r.ok ? '' : `${r.reason}\n${lines.slice(-20).join('')}`);
  const pc = srv.get('postgres-operator.crunchydata.com/v1beta1', 'PostgresCluster', 'tazlab-db', 'tazlab-db')!;
  const id = ((pc['metadata'] as Obj)['annotations'] as Obj)['postgres-operator.crunchydata.com/pgbackrest-backup'];
  assert.match(String(id), /^castle-gate1-/);
  assert.deepEqual((pc['spec'] as any).backups.pgbackrest.manual, { repoName: 'repo1', options: ['--type=incr'] });
  assert.ok(((pc['metadata'] as Obj)['managedFields'] as Obj[]).some((m) => m['manager'] === 'castle-backup'));
  assert.equal((pc['status'] as any).pgbackrest.manualBackup.id, id);
  // what the gate recorded is what the repo lists
  const gate = session.gates.get('tazlab-db/tazlab-db')!.gate;
  const info = await readRepoBackupInfo(s3Bucket(s3.target), '/pgbackrest/repo1', 'db');
  assert.ok(info.ok);
  assert.equal(info.value.backups[info.value.backups.length - 1]!.label, gate.backup.label);
  assert.equal(info.value.current.systemId, gate.systemId);
  assert.ok(gate.fingerprint && gate.fingerprint.tables.some((t) => t.table === 'posts' && t.rows === 501));
  // the fingerprint read the primary while PGO's Job was still backing it up, not after
  const job = world.backupRuns.at(-1)!;
  assert.ok(Date.parse(gate.fingerprint.takenAt) < job.end, `fingerprint at ${gate.fingerprint.takenAt}, backup Job ended ${new Date(job.end).toISOString()}`);
  assert.ok(gate.timings['fingerprintBeside']! >= 0 && gate.timings['fingerprint'] === undefined);
  assert.ok(existsSync(join(castleDir, '.castle', 'kubernetes', 'gates', 'tazlab-db_tazlab-db.json')));
  assert.deepEqual(
    ctx.rec.checks.map((c) => [c.name, c.ok]),
    [
      ['backup in S3', true],
      ['fingerprint recorded', true],
      ['WAL flushed', true],
    ],
  );
  // the password and the S3 keys were registered for masking
  assert.ok(ctx.rec.secrets.includes(PASSWORD) && ctx.rec.secrets.includes(s3.target.secretAccessKey));
});

test("a failing backup Job fails the gate with the Job's state; the cluster keeps running", async () => {
  world.outcome = 'Failed';
  try {
    const ctx = ctxFor('gate-fail', 'gate');
    const r = await backupRun(pgoConf(), ctx, session);
    assert.ok(!r.ok);
    assert.match(
      r.reason,
      /^backup gate failed, nothing may be wiped: PostgresCluster tazlab-db\/tazlab-db: manual backup castle-gate-fail-\w+ failed \(2 failed pods; PGBackRestManualBackupSuccessful=False \(ManualBackupFailed\)/,
    );
    assert.match(r.reason, /Job tazlab-db-backup-\w{4}: .*Failed=True \(BackoffLimitExceeded\)/);
    assert.match(r.reason, /events: Warning BackoffLimitExceeded/);
    assert.deepEqual(
      ctx.rec.checks.map((c) => [c.name, c.ok]),
      [['backup gate', false]],
    );
    assert.ok(postmasterPid(world.primary.cluster), 'the primary is still running');
    assert.equal(session.gates.get('tazlab-db/tazlab-db')?.runId, 'gate1', 'no gate recorded for the failed run');
    // the fingerprint started beside the backup was stopped with the gate: none of its connections stays (a backend
    // leaves pg_stat_activity a moment after its client closes)
    let left = -1;
    for (let i = 0; i < 40 && left !== 0; i++) {
      if (i) await new Promise((r) => setTimeout(r, 50));
      const q = await sql(world.primary.cluster, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'castle-fingerprint'");
      assert.ok(q.ok, q.ok ? '' : q.reason);
      left = Number(q.value[0]!['n']);
    }
    assert.equal(left, 0, 'fingerprint connections left after the gate refused');
  } finally {
    world.outcome = 'Complete';
  }
});

test("a fingerprint that fails beside PGO's backup refuses the gate at once, while the Job still runs", async () => {
  // the Job is held running until the test lets it end
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let jobEnded = false;
  let jobDone!: () => void;
  const ended = new Promise<void>((r) => (jobDone = r));
  world.afterBackup = async () => {
    await held;
    jobEnded = true;
    jobDone();
  };
  // a lock makes the fingerprint wait on the posts table; its connections are then ended as an administrator would
  const locker = new pg.Client({ host: '127.0.0.1', port: world.primary.cluster.port, user: 'postgres', password: PASSWORD, database: 'blog' });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE posts IN ACCESS EXCLUSIVE MODE');
    const ctx = ctxFor('gate-fp', 'gate');
    const running = backupRun(pgoConf(), ctx, session);
    // asked outside the locker's transaction, whose view of pg_stat_activity is taken once
    let killed = 0;
    for (let i = 0; i < 200 && killed === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const q = await sql(
        world.primary.cluster,
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'castle-fingerprint' AND wait_event_type = 'Lock'",
      );
      assert.ok(q.ok, q.ok ? '' : q.reason);
      killed = Number(q.value[0]!['n']);
    }
    assert.ok(killed > 0, 'no fingerprint connection waited on the lock');
    // a gate that waits for the Job sees it end after 15 s
    const letGo = setTimeout(release, 15_000);
    const r = await running;
    clearTimeout(letGo);
    assert.equal(jobEnded, false, 'the gate waited for the backup Job to end');
    assert.ok(!r.ok);
    assert.match(r.reason, /^backup gate failed, nothing may be wiped: fingerprint failed: terminating connection due to administrator command /);
    assert.match(r.reason, /read beside PGO's manual backup castle-gate-fp-\w+, which goes on in the cluster and ends on its own\)$/);
    assert.deepEqual(
      ctx.rec.checks.map((c) => [c.name, c.ok]),
      [['backup gate', false]],
    );
    assert.equal(session.gates.get('tazlab-db/tazlab-db')?.runId, 'gate1', 'no gate recorded for the refused run');
  } finally {
    release();
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
    // the tests after this one start from a finished Job (if it ran at all)
    await Promise.race([ended, new Promise((r) => setTimeout(r, 30_000))]);
    world.afterBackup = undefined;
  }
});

test('rebirth: the repo is checked against the gate, PGO restores from S3, the proof finds the same data and the app serves it', async () => {
  const gateCtx = ctxFor('rebirth1', 'gate');
  const g = await backupRun(pgoConf(), gateCtx, session);
  assert.ok(g.ok, g.ok ? '' : g.reason);
  const gate = session.gates.get('tazlab-db/tazlab-db')!;
  world.gate = () => gate.gate;
  // destroy: the cluster goes (its data with it, once PGO restores into a fresh PGDATA)
  srv.remove('postgres-operator.crunchydata.com/v1beta1', 'PostgresCluster', 'tazlab-db', 'tazlab-db');
  const up = ctxFor('rebirth1', 'up');
  const chk = await repoCheckRun({ ...pgoConf(), manifest: 'data/restore.yaml' }, up, session);
  assert.ok(chk.ok, chk.ok ? '' : chk.reason);
  assert.ok(up.rec.checks.some((c) => c.name === 'repo belongs to the castle' && c.ok));
  const a = await applyRun({ manifests: 'data/restore.yaml', within: '120s' }, up, session);
  assert.ok(a.ok, a.ok ? '' : `${a.reason}\n${lines.slice(-30).join('')}`);
  const restoreJob = srv.get('batch/v1', 'Job', 'tazlab-db', 'tazlab-db-pgbackrest-restore');
  assert.ok(restoreJob, 'PGO ran its restore Job');
  const proof = ctxFor('rebirth1', 'proof');
  const p = await proofRun({ ...pgoConf(), app: { url: appUrl, database: 'blog', query: 'SELECT title FROM posts ORDER BY id DESC LIMIT 1' } }, proof, session);
  assert.ok(p.ok, p.ok ? '' : p.reason);
  assert.deepEqual(
    proof.rec.checks.map((c) => [c.name, c.ok]),
    [
      ['system identifier', true],
      ['data identical', true],
      ['app serves the data', true],
    ],
  );
  assert.match(proof.rec.checks[2]!.detail, /shows "Il Castello Effimero" from the database/);
});

test('a rebirth whose restored data differ fails the proof, naming the table', async () => {
  const g = await backupRun(pgoConf(), ctxFor('rebirth2', 'gate'), session);
  assert.ok(g.ok, g.ok ? '' : g.reason);
  // the restored cluster is not what was backed up: a row that was never in the backup
  const w = await sql(world.primary.cluster, `INSERT INTO posts(title) VALUES ('written behind the castle''s back')`, [], 'blog');
  assert.ok(w.ok);
  const proof = ctxFor('rebirth2', 'proof');
  const p = await proofRun(pgoConf(), proof, session);
  assert.ok(!p.ok);
  assert.match(p.reason, /^proof failed: data differs from the gate's fingerprint: blog: public\.posts had 501 rows, now 502/);
  assert.deepEqual(
    proof.rec.checks.map((c) => [c.name, c.ok]),
    [['data identical', false]],
  );
});

test('a restore from a repo that belongs to another system id is refused before anything is applied', async () => {
  // another cluster (another initdb, another system id) writes its stanza where the manifest restores from
  const other = await newPrimary(s3, log, '/pgbackrest/other');
  castles.push(other);
  const g = await backupRun(pgoConf(), ctxFor('rebirth3', 'gate'), session);
  assert.ok(g.ok, g.ok ? '' : g.reason);
  const gate = session.gates.get('tazlab-db/tazlab-db')!.gate;
  const patchesBefore = srv.requests.filter((q) => q.method === 'PATCH' && /postgresclusters/.test(q.path)).length;
  const up = ctxFor('rebirth3', 'up');
  const r = await repoCheckRun({ ...pgoConf(), manifest: 'data/foreign.yaml' }, up, session);
  assert.ok(!r.ok);
  const otherInfo = await readRepoBackupInfo(s3Bucket(s3.target), '/pgbackrest/other', 'db');
  assert.ok(otherInfo.ok);
  assert.notEqual(otherInfo.value.current.systemId, gate.systemId);
  assert.equal(
    r.reason,
    `${join(castleDir, 'data', 'foreign.yaml')}:1: the repo s3://tazlab-backups/pgbackrest/other (stanza db) belongs to database system ${otherInfo.value.current.systemId}, the castle's gate backed up system ${gate.systemId}: refusing to restore from it (another cluster wrote to this repo, or it is the wrong bucket/path); nothing was applied`,
  );
  assert.equal(r.retryable, false);
  assert.equal(srv.requests.filter((q) => q.method === 'PATCH' && /postgresclusters/.test(q.path)).length, patchesBefore);
});
