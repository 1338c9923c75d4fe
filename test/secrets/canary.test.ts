import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { copyLocalExample } from '../helpers/local-castle.js';

// Canary secrets planted everywhere a secret comes from (the S3 endpoint's keys, the database passwords, an
// Infisical token and a Proxmox API token in the environment), then a full rebirth, a failed one, `castle
// report` and `castle logs`: no canary in anything Castle prints or writes outside the files meant to hold it
// (mode 0600), and none in any process's command line, nor in an environment another user can read,
// sampled from /proc while the commands run.

const hex = (n: number) => randomBytes(n).toString('hex');
const CANARIES = {
  s3KeyId: `CANARYKEY${hex(6).toUpperCase()}`,
  s3Secret: `canary-s3-secret-${hex(12)}`,
  dbBlog: `canary-db-blog-${hex(10)}`,
  dbAdmin: `canary-db-admin-${hex(10)}`,
  infisical: `canary-infisical-st.${hex(16)}`,
  infisicalSecret: `canary-infisical-client-secret-${hex(12)}`,
  proxmox: `canary-pve-${hex(4)}-${hex(2)}-${hex(2)}-${hex(6)}`,
  wrongS3: `canary-wrong-s3-secret-${hex(10)}`,
  /** planted on purpose in a process of another user, so the sampler is seen to catch what it looks for */
  control: `canary-control-${hex(10)}`,
};
type Canary = keyof typeof CANARIES;
const found = (text: string | Buffer): Canary[] => (Object.keys(CANARIES) as Canary[]).filter((k) => text.includes(CANARIES[k]));

/** The files that hold secrets by design, each with why; every one must be mode 0600 (or stricter). */
const SECRET_FILES: readonly [RegExp, string][] = [
  [/^castle\/secrets\.env$/, "the castle's secret source (dotenv)"],
  [/^s3\/credentials\.json$/, "the S3 endpoint's own key pair"],
  [/^data\/postgres\/[^/]+\/pgbackrest\/pgbackrest\.conf$/, "pgBackRest's S3 key (PGO renders the same s3.conf Secret)"],
  [/^data\/pgbouncer\/[^/]+\/userlist\.txt$/, "pgBouncer's auth file"],
  [/^data\/app\/blog-\d+\/db-password$/, "the blog's database password (read by the app, never in its environment)"],
];

interface Hit {
  readonly where: string;
  readonly canaries: Canary[];
}

/** /proc while commands run: every command line, and the environment of every process of another user. */
function sampler(): { hits: Hit[]; samples: number; stop: () => void } {
  const me = process.getuid?.() ?? 0;
  const hits = new Map<string, Hit>();
  const state = { hits: [] as Hit[], samples: 0, stop: () => {} };
  const timer = setInterval(() => {
    state.samples++;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`);
        const c1 = found(cmd);
        const comm = cmd.toString().split('\0').slice(0, 3).join(' ').slice(0, 120);
        if (c1.length) hits.set(`cmdline ${comm}`, { where: `/proc/${d}/cmdline (${comm})`, canaries: c1 });
        const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]);
        // A child between setuid and exec still shows its parent's environment, but it is not dumpable then, so
        // the kernel hands its /proc files to root and no process of that uid may read them: only an environment
        // whose file that uid owns is one another user can read.
        if (uid !== me && statSync(`/proc/${d}/environ`).uid === uid) {
          const c2 = found(readFileSync(`/proc/${d}/environ`));
          if (c2.length) hits.set(`environ ${comm}`, { where: `/proc/${d}/environ of uid ${uid} (${comm})`, canaries: c2 });
        }
      } catch {
        // the process ended meanwhile
      }
    }
  }, 100);
  state.stop = () => {
    clearInterval(timer);
    state.hits = [...hits.values()];
  };
  return state;
}

function run(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

test('secret canaries never reach what Castle writes, prints, or puts where other users can read it', async (t) => {
  const ex = await copyLocalExample('castle-canary-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CASTLE_PLAIN: '1',
    NO_COLOR: '1',
    INFISICAL_TOKEN: CANARIES.infisical,
    INFISICAL_CLIENT_SECRET: CANARIES.infisicalSecret,
    PROXMOX_VE_API_TOKEN: `castle@pve!ci=${CANARIES.proxmox}`,
    PM_API_TOKEN_SECRET: CANARIES.proxmox,
  };
  delete env['NODE_TEST_CONTEXT'];
  const castle = (args: readonly string[]) => run(ex.dir, args, env);
  t.after(async () => {
    await castle(['down', '--no-backup', '--i-accept-data-loss']);
    const pidFile = join(ex.s3Dir, 's3.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      if (existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(ex.s3Dir)) process.kill(pid);
    }
    rmSync(ex.base, { recursive: true, force: true });
  });
  // the planted secrets: the endpoint's key pair and both database users' passwords
  mkdirSync(ex.s3Dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(ex.s3Dir, 'credentials.json'), JSON.stringify({ accessKeyId: CANARIES.s3KeyId, secretAccessKey: CANARIES.s3Secret }), { mode: 0o600 });
  const secretsEnv = join(ex.dir, 'secrets.env');
  writeFileSync(secretsEnv, `BLOG_DB_PGUSER_BLOG_PASSWORD=${CANARIES.dbBlog}\nBLOG_DB_PGUSER_BLOG_ADMIN_PASSWORD=${CANARIES.dbAdmin}\n`, { mode: 0o600 });
  chmodSync(secretsEnv, 0o600);

  const s = sampler();
  const control = spawn('sleep', ['2'], { uid: 65534, gid: 65534, env: { PATH: '/usr/bin:/bin', CONTROL: CANARIES.control }, stdio: 'ignore' });
  const controlDone = new Promise((resolve) => control.on('close', resolve));
  const outputs: { what: string; out: string }[] = [];
  const step = async (what: string, args: readonly string[], expect: number): Promise<string> => {
    const r = await castle(args);
    outputs.push({ what, out: r.out });
    assert.equal(r.code, expect, `${what}: ${r.out.slice(-3000)}`);
    return r.out;
  };
  try {
    await step('castle up --json', ['up', '--json'], 0);
    // the daemons it left running (S3 endpoint, PostgreSQL, pgBouncer, the blog) run as root or as the castle user:
    // none keeps the operator's tokens in its environment
    const cmdline = (d: string): string => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8');
      } catch {
        return ''; // ended meanwhile
      }
    };
    const daemons = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && cmdline(d).includes(ex.base));
    assert.ok(daemons.length >= 3, `the castle's daemons run: ${daemons.length}`);
    for (const d of daemons) {
      const hit = found(readFileSync(`/proc/${d}/environ`));
      assert.deepEqual(hit, [], `environment of ${cmdline(d).replaceAll('\0', ' ').slice(0, 120)}`);
    }
    await step('castle rebirth --json', ['rebirth', '--json'], 0);
    await step('castle rebirth (plain)', ['rebirth'], 0);
    // a failed rebirth: a wrong S3 secret (itself a canary) makes the gate refuse
    const good = readFileSync(secretsEnv, 'utf8');
    writeFileSync(secretsEnv, good.replace(/^S3_SECRET_ACCESS_KEY=.*$/m, `S3_SECRET_ACCESS_KEY=${CANARIES.wrongS3}`), { mode: 0o600 });
    await step('castle rebirth, failing', ['rebirth', '--json'], 1);
    await step('castle rebirth, failing (plain)', ['rebirth'], 1);
    writeFileSync(secretsEnv, good, { mode: 0o600 });
    await step('castle report', ['report'], 0);
    await step('castle logs', ['logs'], 0);
    const runs = readdirSync(join(ex.dir, '.castle', 'runs')).sort();
    for (const id of runs) {
      await step(`castle report ${id}`, ['report', id], 0);
      await step(`castle logs ${id}`, ['logs', id], 0);
    }
    // every step's full output, of the first rebirth and of the last (failed) one
    for (const id of [runs[1]!, runs[runs.length - 1]!]) {
      const stepsDir = join(ex.dir, '.castle', 'runs', id, 'steps');
      for (const f of existsSync(stepsDir) ? readdirSync(stepsDir) : []) {
        const stepId = f.replace(/\.log$/, '').replaceAll('__', '/');
        await step(`castle logs ${id} --step ${stepId}`, ['logs', id, '--step', stepId], 0);
      }
    }
    await step('castle runs', ['runs'], 0);
    await step('castle status', ['status'], 0);
  } finally {
    s.stop();
  }

  await controlDone;
  assert.ok(
    s.hits.some((h) => h.canaries.includes('control') && h.where.includes('uid 65534')),
    `the sampler saw the control canary in the environment of uid 65534: ${JSON.stringify(s.hits)}`,
  );
  const problems: string[] = [];
  for (const h of s.hits.filter((x) => !x.where.includes('uid 65534'))) problems.push(`${h.where}: ${h.canaries.join(', ')}`);
  for (const o of outputs) {
    const c = found(o.out);
    if (c.length) problems.push(`the output of ${o.what}: ${c.join(', ')}`);
  }
  const holders: string[] = [];
  for (const f of walk(ex.base)) {
    const rel = relative(ex.base, f);
    // the backups in the object store are pgBackRest's compressed copies of the data directory
    if (rel.startsWith('s3/data/')) continue;
    const c = found(readFileSync(f));
    if (c.length === 0) continue;
    const mode = lstatSync(f).mode & 0o777;
    const allowed = SECRET_FILES.find(([re]) => re.test(rel));
    if (!allowed) problems.push(`${rel} (mode ${mode.toString(8)}): ${c.join(', ')}`);
    else if ((mode & 0o077) !== 0) problems.push(`${rel} holds ${c.join(', ')} with mode ${mode.toString(8)}, not 0600`);
    else holders.push(`${rel} (${mode.toString(8)}): ${allowed[1]}`);
  }
  process.stdout.write(`# ${s.samples} samples of /proc; files holding secrets by design:\n${holders.map((h) => `#   ${h}`).join('\n')}\n`);
  assert.ok(s.samples > 20, `sampled /proc ${s.samples} times`);
  assert.ok(
    holders.some((h) => h.startsWith('castle/secrets.env')),
    'the scan saw the secret source',
  );
  assert.deepEqual(problems, []);

  // once the castle is down, only the secret source and the endpoint's own keys hold secrets
  const down = await castle(['down', '--no-backup', '--i-accept-data-loss']);
  assert.equal(down.code, 0, down.out);
  const left = walk(ex.base)
    .filter((f) => !relative(ex.base, f).startsWith('s3/data/') && found(readFileSync(f)).length > 0)
    .map((f) => relative(ex.base, f))
    .sort();
  assert.deepEqual(left, ['castle/secrets.env', 's3/credentials.json']);
});
