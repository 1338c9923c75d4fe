import { fail, ok, type Result } from '../../core/result.js';
import type { SessionFactory } from '../../core/target.js';
import { resolveLocal, type LocalConfig, type ResolvedLocal } from './config.js';
import type { LocalEnv } from './env.js';
import type { GateFact } from './gate-record.js';
import { claimCastle } from './identity.js';

/**
 * What the local target's steps share during one run: the resolved `local:` block, the castle as
 * its manifests and secrets describe it (built by the first step that needs it), and the gates taken.
 */
export class LocalSession {
  readonly envs = new Map<'backup' | 'restore', LocalEnv>();
  /** the backup gates of this run (and of the runs it resumes, once read back from the state dir), by cluster */
  readonly gates = new Map<string, GateFact>();
  /** wiped roots whose files are deleted beside the restore: the run ends when they are gone */
  readonly deletions: Promise<Result>[] = [];
  constructor(readonly local: ResolvedLocal) {}
}

export const localSession: SessionFactory<LocalConfig, LocalSession> = {
  open: async (config, ctx) => {
    if (!config) return fail('this step belongs to the local target: add a `local:` block to castle.yaml (at least `manifests:`)', { retryable: false });
    const local = resolveLocal(config, ctx.castleDir, ctx.castleName);
    // the preflight passed: this folder is the castle's home from now on
    const claimed = claimCastle(local, ctx);
    return claimed.ok ? ok(new LocalSession(local)) : claimed;
  },
  close: async (session) => {
    const failed = (await Promise.all(session.deletions)).filter((r) => !r.ok);
    if (failed.length)
      throw new Error(`the wiped data was not all deleted (the next wipe tries again): ${failed.map((r) => (r.ok ? '' : r.reason)).join('; ')}`);
  },
};
