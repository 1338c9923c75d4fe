// `npm run demo -- --clean`: stops and removes everything the demo started: the castle (`castle down`
// without a backup: blog, pgBouncer, PostgreSQL and their data), its object store (the S3 endpoint and its
// backups), its folders and the example's run state and secrets. Checked afterwards by pid and path.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { defaultDirs, readOwner } from '../dist/src/targets/local/identity.js';
import { processesUsing, processCmdline } from '../dist/src/os/processes.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The castle's folders, as castle.yaml sets them or by default. */
function foldersOf(castleDir) {
  const spec = parse(readFileSync(join(castleDir, 'castle.yaml'), 'utf8'));
  const local = spec.local ?? {};
  const abs = (p) => (isAbsolute(p) ? p : resolve(castleDir, p));
  const defaults = defaultDirs(spec.name);
  return {
    name: spec.name,
    dataDir: local.dataDir ? abs(local.dataDir) : defaults.dataDir,
    objectStoreDir: local.objectStore?.dir ? abs(local.objectStore.dir) : defaults.objectStoreDir,
    stateDir: abs(spec.stateDir ?? '.castle'),
    secrets: abs(local.secrets?.dotenv ?? 'secrets.env'),
  };
}

/** SIGTERM to each process (its group when it leads one), SIGKILL to what is left after 10 s. */
async function stop(procs) {
  const send = (pid, sig) => {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, sig);
        return;
      } catch {
        /* not a group leader, or gone */
      }
    }
  };
  for (const p of procs) send(p.pid, 'SIGTERM');
  for (let i = 0; i < 100 && procs.some((p) => processCmdline(p.pid) === p.cmdline); i++) await sleep(100);
  for (const p of procs) if (processCmdline(p.pid) === p.cmdline) send(p.pid, 'SIGKILL');
  for (let i = 0; i < 50 && procs.some((p) => processCmdline(p.pid) === p.cmdline); i++) await sleep(100);
}

export async function clean(castleDir, cli) {
  const f = foldersOf(castleDir);
  const owner = readOwner(f.dataDir) ?? readOwner(f.objectStoreDir);
  console.log(`\n$ castle down --no-backup --i-accept-data-loss   (castle '${f.name}')`);
  const down = spawnSync(process.execPath, [cli, 'down', '--no-backup', '--i-accept-data-loss'], { cwd: castleDir, stdio: 'inherit' });
  if (down.status === 2 && owner && resolve(owner.castleDir) !== resolve(castleDir) && existsSync(join(owner.castleDir, 'castle.yaml'))) {
    console.error(`\ncastle '${f.name}' belongs to ${owner.castleDir}: clean it from there (cd ${owner.castleDir}/../.. && npm run demo -- --clean).`);
    return 2;
  }
  if (down.status !== 0) console.error(`castle down exited with ${down.status}: stopping what is left by pid`);
  // the object store is outside the castle (down leaves it running): stopped here with whatever still names the castle's folders
  const left = processesUsing([f.dataDir, f.objectStoreDir]);
  for (const p of left) console.log(`stopping pid ${p.pid}: ${p.cmdline}`);
  await stop(left);
  const folders = [f.dataDir, f.objectStoreDir, f.stateDir, f.secrets];
  for (const p of folders) {
    if (existsSync(p)) console.log(`removing ${p}`);
    rmSync(p, { recursive: true, force: true });
  }
  // the per-castle parent of the default object store (~/.local/share/castle/NAME), when nothing else is in it
  const parent = dirname(f.objectStoreDir);
  if (parent.endsWith(join('castle', f.name)) && existsSync(parent) && readdirSync(parent).length === 0) rmdirSync(parent);
  const stillRunning = processesUsing([f.dataDir, f.objectStoreDir]);
  const stillThere = folders.filter((p) => existsSync(p));
  if (stillRunning.length || stillThere.length) {
    for (const p of stillRunning) console.error(`still running: pid ${p.pid} (${p.cmdline})`);
    for (const p of stillThere) console.error(`still there: ${p}`);
    return 1;
  }
  console.log(`\nnothing of castle '${f.name}' is left: no process names ${f.dataDir} or ${f.objectStoreDir}, and they are gone.`);
  return 0;
}
