// The unprivileged account Castle runs PostgreSQL, pgBouncer and the blog as when it runs as root
// (initdb refuses root): created when missing, handed the directories it needs.

import { chown, stat } from 'node:fs/promises';
import path from 'node:path';
import { fail, ok, type Result } from '../core/result.js';
import { describeFailure, exec, type OpOptions } from './exec.js';
import { isRoot, lookupUser, type UserIds } from './passwd.js';

/**
 * The account `name`, created with `useradd --system` when missing (as root; otherwise a failure that
 * says the command to run). Another step may be creating it at the same moment: "already exists" is success.
 */
export async function ensureUser(name: string, o: OpOptions = {}): Promise<Result<UserIds>> {
  const have = await lookupUser(name);
  if (have) return ok(have);
  const useradd = ['--system', '--user-group', '--create-home', '--home-dir', `/var/lib/${name}`, '--shell', '/bin/sh', name];
  if (!isRoot()) return fail(`user '${name}' does not exist and only root can create it: run \`useradd ${useradd.join(' ')}\` as root`, { retryable: false });
  const r = await exec('useradd', useradd, { ...o, logPrefix: '[useradd] ' });
  const made = await lookupUser(name);
  return made ? ok(made) : fail(describeFailure(`creating the unprivileged OS user '${name}'`, r));
}

/** Who runs child processes: as root, the named account (made when missing); otherwise ourselves (undefined). */
export async function runAsUser(name: string | null | undefined, o: OpOptions = {}): Promise<Result<UserIds | undefined>> {
  if (!isRoot() || !name || name === 'root') return ok(undefined);
  return ensureUser(name, o);
}

/** Gives `paths` (each the whole tree below it) to `user`; nothing to do when we run as ourselves. */
export async function chownTree(user: UserIds | undefined, ...paths: string[]): Promise<Result> {
  if (!user) return ok(undefined);
  for (const p of paths) {
    const r = await exec('chown', ['-R', `${user.uid}:${user.gid}`, p]);
    if (r.code !== 0) return fail(describeFailure(`giving ${p} to '${user.name}'`, r));
  }
  return ok(undefined);
}

/** Gives one file or directory (not what is below it) to `user`. */
export async function chownTo(user: UserIds | undefined, p: string): Promise<void> {
  if (user) await chown(p, user.uid, user.gid);
}

/**
 * Whether `user` can traverse every directory down to `dir` (a daemon running as that user cannot
 * chdir into a castle kept under, say, a root-only 0700 temp dir). Failure names the blocking one.
 */
export async function checkReachable(user: UserIds, dir: string): Promise<Result> {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  let cur: string = path.sep;
  for (const part of ['', ...parts]) {
    cur = path.join(cur, part);
    let st;
    try {
      st = await stat(cur);
    } catch {
      return ok(undefined); // not created yet: whoever creates it sets its owner
    }
    const m = st.mode;
    const can = st.uid === user.uid ? (m & 0o100) !== 0 : st.gid === user.gid ? (m & 0o010) !== 0 : (m & 0o001) !== 0;
    if (!can) {
      return fail(
        `user '${user.name}' cannot reach ${dir}: ${cur} is mode ${(m & 0o777).toString(8)} owned by uid ${st.uid}; run \`chmod o+x ${cur}\` or keep the castle elsewhere`,
        { retryable: false },
      );
    }
  }
  return ok(undefined);
}
