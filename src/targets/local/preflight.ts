// The local target's checks before a run touches anything: whose castle this is (one folder at a time),
// whether its unprivileged user reaches its data folder, and whether its ports are free.
import { resolve } from 'node:path';
import type { Diagnostic } from '../../diag/diagnostic.js';
import type { PreflightContext } from '../../core/target.js';
import { judgeOwnership, stopCommand, type Ownership } from './identity.js';
import { checkPorts, type PortClaim } from './preflight-ports.js';
import { resolveLocal, type LocalConfig } from './config.js';
import { DEFAULT_PG_PORT, DEFAULT_PGBOUNCER_PORT } from './env.js';
import type { BlogConfig } from './kind-specs.js';
import { lookupUser } from '../../os/passwd.js';
import { checkReachable } from '../../os/user.js';

export interface LocalPreflightInput {
  readonly dataDir: string;
  readonly objectStoreDir: string;
  /** the ports this castle listens on (postgres, pgBouncer, apps, a configured object store port) */
  readonly ports: readonly PortClaim[];
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
export function localPreflight(input: LocalPreflightInput, ctx: Pick<PreflightContext, 'castleDir' | 'castleName' | 'lockHolder'>): Diagnostic[] {
  const ownership = judgeOwnership(input.dataDir, input.objectStoreDir, resolve(ctx.castleDir), (d) => ctx.lockHolder(d));
  const out = ownershipDiagnostics(ownership, ctx.castleName);
  if (ownership.state === 'busy') return out;
  return [...out, ...checkPorts(input.ports, { name: ctx.castleName, dataDir: input.dataDir, objectStoreDir: input.objectStoreDir })];
}

/** The ports a local castle listens on: the `local:` block's, and every blog step's. */
export function localPorts(config: LocalConfig, steps: PreflightContext['steps']): PortClaim[] {
  const claims: PortClaim[] = [
    { port: config.ports?.postgres ?? DEFAULT_PG_PORT, what: 'postgres', setting: 'local.ports.postgres' },
    { port: config.ports?.pgbouncer ?? DEFAULT_PGBOUNCER_PORT, what: 'pgbouncer', setting: 'local.ports.pgbouncer' },
  ];
  // an unset object store port is chosen free when the store starts
  if (config.objectStore?.port) claims.push({ port: config.objectStore.port, what: 'the object store', setting: 'local.objectStore.port' });
  for (const s of steps) {
    if (s.kind === 'blog') claims.push({ port: (s.config as BlogConfig).port, what: 'blog', setting: "the blog step's `port`", location: s.location });
  }
  return claims;
}

/**
 * As root, the castle's daemons run as `runAs`, which must reach the data folder: one under a mode-0700 folder (a
 * checkout under /root) would fail half-way, at initdb. A user not created yet counts as any other user.
 */
export async function reachDiagnostics(runAs: string, dataDir: string): Promise<Diagnostic[]> {
  if (process.getuid?.() !== 0) return [];
  const user = (await lookupUser(runAs)) ?? { name: runAs, uid: -1, gid: -1, home: '/' };
  const r = await checkReachable(user, dataDir);
  if (r.ok) return [];
  return [
    {
      severity: 'error',
      rule: 'local/data-dir-unreachable',
      message: r.reason,
      hint: 'or set `local.dataDir` to a folder every user can traverse (the default is /var/lib/castle/NAME)',
    },
  ];
}

/** The local target's preflight: identity for every operation; the data folder's reach and the ports for those that start daemons. */
export async function localTargetPreflight(config: LocalConfig | undefined, ctx: PreflightContext): Promise<Diagnostic[]> {
  if (!config) return []; // the block is required: the loader has said so already
  const local = resolveLocal(config, ctx.castleDir, ctx.castleName);
  const starts = ctx.operation !== 'down';
  const ports = starts ? localPorts(config, ctx.steps) : [];
  const reach = starts ? await reachDiagnostics(local.runAs, local.dataDir) : [];
  return [...reach, ...localPreflight({ dataDir: local.dataDir, objectStoreDir: local.objectStoreDir, ports }, ctx)];
}
