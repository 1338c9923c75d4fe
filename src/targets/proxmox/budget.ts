import { mib, nodeOf, showMib, type ProxmoxConfig } from './config.js';

/** What the castle asks of one host, against what the host has. */
export interface HostBudget {
  readonly node: string;
  readonly machines: readonly number[];
  /** MiB the castle's machines take */
  readonly memory: number;
  readonly vcpus: number;
  /** MiB of the host, undefined when neither declared nor read */
  readonly hostMemory?: number;
  readonly hostCpus?: number;
  readonly reserveMemory: number;
  readonly reserveCpus: number;
  /** MiB taken on the host by VMs outside the castle (live only) */
  readonly others: number;
  /** where the host figures come from */
  readonly source: 'declared' | 'live' | 'unknown';
}

export const usableMemory = (b: HostBudget): number | undefined => (b.hostMemory === undefined ? undefined : b.hostMemory - b.reserveMemory - b.others);

/** MiB over budget (positive) or free (negative) */
export const memoryOver = (b: HostBudget): number | undefined => {
  const u = usableMemory(b);
  return u === undefined ? undefined : b.memory - u;
};

export function castleBudgets(c: ProxmoxConfig, live?: ReadonlyMap<string, { memory: number; cpus: number; others: number }>): HostBudget[] {
  const byNode = new Map<string, { machines: number[]; memory: number; vcpus: number }>();
  for (const m of c.machines) {
    const n = nodeOf(c, m);
    const e = byNode.get(n) ?? { machines: [], memory: 0, vcpus: 0 };
    e.machines.push(m.vmid);
    e.memory += mib(m.memory);
    e.vcpus += m.cores * (m.sockets ?? 1);
    byNode.set(n, e);
  }
  const reserveMemory = c.reserve?.memory === undefined ? 0 : mib(c.reserve.memory);
  const reserveCpus = c.reserve?.cpus ?? 0;
  return [...byNode.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, e]) => {
      const l = live?.get(node);
      const d = c.hosts?.[node];
      const host = l
        ? { hostMemory: l.memory, hostCpus: l.cpus, source: 'live' as const }
        : d
          ? { hostMemory: mib(d.memory), hostCpus: d.cpus, source: 'declared' as const }
          : { source: 'unknown' as const };
      return { node, ...e, ...host, reserveMemory, reserveCpus, others: l?.others ?? 0 };
    });
}

/** `pve: memory 24 GiB of 32 GiB (reserve 4 GiB: 28 GiB usable, 4 GiB free), vCPUs 6 of 16` */
export function describeBudget(b: HostBudget): string {
  if (b.hostMemory === undefined)
    return `${b.node}: memory ${showMib(b.memory)}, vCPUs ${b.vcpus} (host size unknown: declare hosts.${b.node}.memory and cpus for an offline plan)`;
  const usable = usableMemory(b)!;
  const over = b.memory - usable;
  const others = b.others > 0 ? `, ${showMib(b.others)} taken by other VMs` : '';
  const mem = `memory ${showMib(b.memory)} of ${showMib(b.hostMemory)} (reserve ${showMib(b.reserveMemory)}${others}: ${showMib(usable)} usable, ${over > 0 ? `${showMib(over)} OVER` : `${showMib(-over)} free`})`;
  const cpus = b.hostCpus === undefined ? `vCPUs ${b.vcpus}` : `vCPUs ${b.vcpus} of ${b.hostCpus}${b.reserveCpus ? ` (reserve ${b.reserveCpus})` : ''}`;
  return `${b.node}: ${mem}, ${cpus} [${b.source}]`;
}

/** The over-budget message: the figures and by how much. */
export function overBudgetMessage(b: HostBudget): string {
  const usable = usableMemory(b)!;
  const others = b.others > 0 ? ` - ${showMib(b.others)} used by VMs outside the castle` : '';
  return (
    `the castle needs ${showMib(b.memory)} of memory on ${b.node} (machines ${b.machines.join(', ')}) but ${b.node} has ` +
    `${showMib(b.hostMemory!)} - ${showMib(b.reserveMemory)} reserve${others} = ${showMib(usable)}: ${showMib(b.memory - usable)} over budget`
  );
}
