// A local castle's identity: its `name:` and the machine user running it. Every checkout of a castle of the same
// name is the same castle (one data folder, one object store, the same ports and repo path); it lives in one
// folder at a time, recorded in an owner file in its data folder and its object store.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fail, ok, type Result } from '../../core/result.js';
import type { LockInfo } from '../../events.js';
import { isInside, pathsIn, processesUsing } from '../../os/processes.js';

export const OWNER_FILE = 'castle-owner.json';

/** What the owner file holds: who the castle is and the folder it runs from. */
export interface CastleOwner {
  readonly name: string;
  /** the folder of castle.yaml */
  readonly castleDir: string;
  readonly stateDir: string;
  /** the castle's data folder (deleted by the wipe) and its object store (kept across wipes) */
  readonly dataDir: string;
  readonly objectStoreDir: string;
  /** the CLI that last ran it, for the stop command */
  readonly cli: string;
  readonly since: string;
}

/** Default folders of the castle `name`: /var/lib/castle/NAME as root (the unprivileged user must reach it), XDG folders otherwise. */
export function defaultDirs(name: string): { dataDir: string; objectStoreDir: string } {
  const xdgState = process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state');
  const xdgData = process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share');
  return {
    dataDir: process.getuid?.() === 0 ? join('/var/lib/castle', name) : join(xdgState, 'castle', name),
    objectStoreDir: join(xdgData, 'castle', name, 'objectstore'),
  };
}

export function readOwner(dir: string): CastleOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as CastleOwner;
    return typeof o.name === 'string' && typeof o.castleDir === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Records `owner` in its data folder and its object store (made when missing, mode 0755: the unprivileged user traverses the data folder). */
export function writeOwner(owner: CastleOwner): Result {
  for (const dir of [owner.dataDir, owner.objectStoreDir]) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner, null, 2) + '\n', { mode: 0o644 });
    } catch (e) {
      return fail(
        `cannot record castle '${owner.name}' in ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; it must be a folder this user can write`,
        { retryable: false },
      );
    }
  }
  return ok(undefined);
}

/** The castle whose data folder or object store holds `path`, from the nearest owner file above it. */
export function ownerOfPath(path: string): CastleOwner | undefined {
  for (let d = resolve(path); ; d = dirname(d)) {
    if (existsSync(join(d, OWNER_FILE))) {
      const o = readOwner(d);
      if (o && (isInside(path, o.dataDir) || isInside(path, o.objectStoreDir))) return o;
    }
    if (dirname(d) === d) return undefined;
  }
}

/** The castle a process belongs to, from the paths on its command line. */
export function ownerOfProcess(cmdline: string): CastleOwner | undefined {
  for (const p of pathsIn(cmdline)) {
    const o = ownerOfPath(p);
    if (o) return o;
  }
  return undefined;
}

const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command that stops `owner` from its own folder (`castle down`: a backup, then everything stopped and its data deleted). */
export function stopCommand(owner: CastleOwner): string {
  return `cd ${quote(owner.castleDir)} && ${owner.cli.endsWith('.js') ? `node ${quote(owner.cli)}` : quote(owner.cli)} down`;
}

/** Whether the folder the castle was recorded in still holds a castle.yaml. */
export function ownerFolderExists(owner: CastleOwner): boolean {
  return existsSync(join(owner.castleDir, 'castle.yaml'));
}

/** Whose the castle's folders are, as seen from the folder about to run it. */
export type Ownership =
  | { readonly state: 'unclaimed' }
  | { readonly state: 'own' }
  /** recorded in a folder that is gone: this folder takes it over (its data, and its processes still running) */
  | { readonly state: 'abandoned'; readonly previous: CastleOwner; readonly running: readonly { pid: number; cmdline: string }[] }
  /** recorded in another folder, with nothing running: this folder takes it over */
  | { readonly state: 'idle'; readonly previous: CastleOwner }
  /** another folder runs it now: refused */
  | {
      readonly state: 'busy';
      readonly previous: CastleOwner;
      readonly lock: LockInfo | undefined;
      readonly running: readonly { pid: number; cmdline: string }[];
    };

/** `lockHolder` reads a castle's lock by the engine's rules (PreflightContext.lockHolder). */
export function judgeOwnership(dataDir: string, objectStoreDir: string, castleDir: string, lockHolder: (stateDir: string) => LockInfo | undefined): Ownership {
  const previous = readOwner(dataDir) ?? readOwner(objectStoreDir);
  if (!previous) return { state: 'unclaimed' };
  if (resolve(previous.castleDir) === resolve(castleDir)) return { state: 'own' };
  const running = processesUsing([dataDir]);
  if (!ownerFolderExists(previous)) return { state: 'abandoned', previous, running };
  const lock = lockHolder(previous.stateDir);
  if (lock || running.length > 0) return { state: 'busy', previous, lock, running };
  return { state: 'idle', previous };
}

/**
 * Records this folder as the castle's home in its data folder and object store, when the run starts (the
 * preflight passed): the next run from another folder sees it, and a port holder is traced back to it.
 */
export function claimCastle(
  input: { readonly dataDir: string; readonly objectStoreDir: string; readonly cli?: string },
  ctx: { readonly castleDir: string; readonly stateDir: string; readonly castleName: string },
): Result {
  const castleDir = resolve(ctx.castleDir);
  const cli = input.cli ?? process.argv[1] ?? 'castle';
  const current = readOwner(input.dataDir);
  if (current && current.castleDir === castleDir && current.cli === cli && readOwner(input.objectStoreDir)?.castleDir === castleDir) return ok(undefined);
  const owner: CastleOwner = {
    name: ctx.castleName,
    castleDir,
    stateDir: resolve(ctx.stateDir),
    dataDir: input.dataDir,
    objectStoreDir: input.objectStoreDir,
    cli,
    since: new Date().toISOString(),
  };
  return writeOwner(owner);
}
