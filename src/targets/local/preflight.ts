// The local target's checks before a run touches anything: whose castle this is (one folder at a time),
// and whether its ports are free; and the record of the folder a run starts from.
import { resolve } from 'node:path';
import type { Diagnostic } from '../../diag/diagnostic.js';
import type { PreflightContext } from '../../core/target.js';
import { judgeOwnership, readOwner, stopCommand, writeOwner, type CastleOwner, type Ownership } from './identity.js';
import { checkPorts, type PortClaim } from './preflight-ports.js';

export interface LocalPreflightInput {
  readonly dataDir: string;
  readonly objectStoreDir: string;
  /** the ports this castle listens on (postgres, pgBouncer, apps, a configured object store port) */
  readonly ports: readonly PortClaim[];
  /** the CLI running now, named in the stop command other folders are shown */
  readonly cli?: string;
}

function ownershipDiagnostics(o: Ownership, name: string): Diagnostic[] {
  switch (o.state) {
    case 'unclaimed':
    case 'own':
      return [];
    case 'abandoned':
      return [
        {
          severity: 'warning',
          rule: 'local/castle-taken-over',
          message:
            `castle '${name}' was run from ${o.previous.castleDir}, which is gone: this folder takes it over (its data in ${o.previous.dataDir}` +
            (o.running.length ? `, its running processes ${o.running.map((p) => p.pid).join(', ')})` : ')'),
        },
      ];
    case 'idle':
      return [
        {
          severity: 'warning',
          rule: 'local/castle-taken-over',
          message: `castle '${name}' was last run from ${o.previous.castleDir}; a castle is one per name on this machine, so this folder takes it over (its data in ${o.previous.dataDir})`,
          hint: `to keep both, give this one another \`name:\` in castle.yaml`,
        },
      ];
    case 'busy': {
      const what = [
        ...(o.lock ? [`its run ${o.lock.runId} (${o.lock.operation}, pid ${o.lock.pid}, since ${o.lock.since}) holds the lock`] : []),
        ...(o.running.length ? [`its processes run: ${o.running.map((p) => `pid ${p.pid} (${p.cmdline})`).join('; ')}`] : []),
      ];
      return [
        {
          severity: 'error',
          rule: 'local/castle-elsewhere',
          message: `castle '${name}' runs from another folder, ${o.previous.castleDir} (data ${o.previous.dataDir}): ${what.join('; ')}`,
          hint: `a castle is one per name on this machine: use it from ${o.previous.castleDir}, or stop it there first (\`${stopCommand(o.previous)}\`), or give this one another \`name:\` in castle.yaml`,
        },
      ];
    }
    default: {
      const never: never = o;
      return never;
    }
  }
}

/** Identity first (a castle another folder runs is refused, naming its lock and processes), then ports. Reads only. */
export function localPreflight(input: LocalPreflightInput, ctx: Pick<PreflightContext, 'castleDir' | 'castleName'>): Diagnostic[] {
  const ownership = judgeOwnership(input.dataDir, input.objectStoreDir, resolve(ctx.castleDir));
  const out = ownershipDiagnostics(ownership, ctx.castleName);
  if (ownership.state === 'busy') return out;
  return [...out, ...checkPorts(input.ports, { name: ctx.castleName, dataDir: input.dataDir, objectStoreDir: input.objectStoreDir })];
}

/**
 * Records this folder as the castle's home in its data folder and object store, when the run starts (the
 * preflight passed): the next run from another folder sees it, and a port holder is traced back to it.
 */
export function claimCastle(input: Pick<LocalPreflightInput, 'dataDir' | 'objectStoreDir' | 'cli'>, ctx: Pick<PreflightContext, 'castleDir' | 'stateDir' | 'castleName'>): void {
  const castleDir = resolve(ctx.castleDir);
  const cli = input.cli ?? process.argv[1] ?? 'castle';
  const current = readOwner(input.dataDir);
  if (current && current.castleDir === castleDir && current.cli === cli && readOwner(input.objectStoreDir)?.castleDir === castleDir) return;
  const owner: CastleOwner = {
    name: ctx.castleName,
    castleDir,
    stateDir: resolve(ctx.stateDir),
    dataDir: input.dataDir,
    objectStoreDir: input.objectStoreDir,
    cli,
    since: new Date().toISOString(),
  };
  writeOwner(owner);
}
