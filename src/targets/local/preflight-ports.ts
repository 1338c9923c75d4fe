// Ports a local castle listens on, checked before anything starts: a port another process holds is named
// with its holder (pid, command line, and the castle it belongs to) instead of surfacing in PostgreSQL's log.
import type { Diagnostic, SourceLocation } from '../../diag/diagnostic.js';
import { listenersOn, userName, type Listener } from '../../os/listeners.js';
import { isInside, pathsIn } from '../../os/processes.js';
import { ownerOfProcess, stopCommand } from './identity.js';

export interface PortClaim {
  readonly port: number;
  /** what listens there, e.g. `postgres` */
  readonly what: string;
  /** where castle.yaml sets it, e.g. `local.ports.postgres` */
  readonly setting: string;
  /** the step that sets it, when a step does */
  readonly location?: SourceLocation;
}

/** The folders of the castle being checked: a holder whose command line names one of them is the castle's own (it is reused). */
export interface OwnFolders {
  readonly name: string;
  readonly dataDir: string;
  readonly objectStoreDir: string;
}

const isOwn = (cmdline: string, own: OwnFolders): boolean => pathsIn(cmdline).some((p) => isInside(p, own.dataDir) || isInside(p, own.objectStoreDir));

function describeHolder(l: Listener, claim: PortClaim): Diagnostic {
  const head = `port ${claim.port} (${claim.what}) is held by`;
  const where = `local/port-in-use`;
  const elsewhere = `or give this castle another port (${claim.setting} in castle.yaml)`;
  if (l.processes.length === 0) {
    return {
      severity: 'error',
      rule: where,
      message: `${head} a process of user ${userName(l.uid)} listening on ${l.address}:${claim.port}, which this user cannot inspect`,
      hint: `find it as root: \`ss -ltnp 'sport = :${claim.port}'\`; stop it, ${elsewhere}`,
    };
  }
  const main = l.processes[0]!;
  const pids = l.processes.map((p) => p.pid).join(', ');
  const owner = ownerOfProcess(l.processes.map((p) => p.cmdline).join(' '));
  if (owner) {
    return {
      severity: 'error',
      rule: where,
      message: `${head} pid ${pids} (${main.cmdline}), a process of castle '${owner.name}' in ${owner.castleDir} (data ${owner.dataDir})`,
      hint: `stop that castle: \`${stopCommand(owner)}\`, ${elsewhere}`,
    };
  }
  return {
    severity: 'error',
    rule: where,
    message: `${head} pid ${pids} (${main.cmdline}) of user ${userName(l.uid)}, which is not a castle's process`,
    hint: `stop it (\`kill ${pids}\`), ${elsewhere}`,
  };
}

/**
 * An error for every claimed port held by a process that is not this castle's own (its own daemons are
 * reused by `up`). Two claims of one port by different daemons are an error too: the second would fail to start.
 */
export function checkPorts(claims: readonly PortClaim[], own: OwnFolders): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<number, PortClaim>();
  for (const c of claims) {
    const first = seen.get(c.port);
    if (first && first.what === c.what && first.setting === c.setting) continue;
    if (first) {
      out.push({
        severity: 'error',
        rule: 'local/port-twice',
        message: `port ${c.port} is set for ${first.what} (${first.setting}) and for ${c.what} (${c.setting})`,
        hint: 'give each one its own port',
        ...(c.location ? { location: c.location } : {}),
      });
    } else seen.set(c.port, c);
  }
  const reported = new Set<number>();
  for (const l of listenersOn([...seen.keys()])) {
    // a daemon may listen on 127.0.0.1 and ::1 at once: one error per port
    if (reported.has(l.port) || (l.processes.length > 0 && l.processes.every((p) => isOwn(p.cmdline, own)))) continue;
    reported.add(l.port);
    const claim = seen.get(l.port)!;
    const d = describeHolder(l, claim);
    out.push(claim.location ? { ...d, location: claim.location } : d);
  }
  return out;
}
