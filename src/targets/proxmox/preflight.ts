import type { Diagnostic } from '../../diag/diagnostic.js';
import type { PreflightContext } from '../../core/target.js';
import { castleBudgets, describeBudget, memoryOver, overBudgetMessage } from './budget.js';
import { nodeOf, type ProxmoxConfig } from './config.js';
import { foreignMessage, listVms, ownership } from './inventory.js';
import { INSECURE_WARNING, openApi, openSession } from './session.js';

interface NodeStatus {
  readonly memory: { readonly total: number };
  readonly cpuinfo: { readonly cpus: number };
}

/**
 * Before anything runs, from the live cluster: the memory budget of each host (its total, minus the
 * reserve, minus what VMs outside the castle take) and the spec's VM ids held by VMs the castle does
 * not own. Read-only calls only.
 */
export async function livePreflight(c: ProxmoxConfig, ctx: PreflightContext): Promise<Diagnostic[]> {
  const d: Diagnostic[] = [];
  if (c.tls.insecure) d.push({ severity: 'warning', rule: 'proxmox/insecure', message: INSECURE_WARNING });
  const api = await openApi(c, ctx.castleDir);
  if (!api.ok) return [...d, { severity: 'error', rule: 'proxmox/connect', message: api.reason }];
  try {
    const s = openSession(c, api.value, { stateDir: ctx.stateDir, castleName: ctx.castleName });
    const vms = await listVms(s, ctx.signal);
    if (!vms.ok) return [...d, { severity: 'error', rule: 'proxmox/connect', message: `cannot list the cluster's VMs: ${vms.reason}` }];
    const inFlight = s.journal.read();
    const spec = new Set(c.machines.map((m) => m.vmid));
    for (const vm of vms.value) {
      if (spec.has(vm.vmid) && ownership(s, vm, inFlight).kind === 'foreign')
        d.push({ severity: 'error', rule: 'proxmox/not-owned', message: foreignMessage(s, vm) });
    }
    if (ctx.operation === 'down') return d;
    const live = new Map<string, { memory: number; cpus: number; others: number }>();
    for (const node of new Set(c.machines.map((m) => nodeOf(c, m)))) {
      const st = await api.value.get<NodeStatus>(`/nodes/${node}/status`, {}, ctx.signal);
      if (!st.ok) {
        d.push({ severity: 'error', rule: 'proxmox/node', message: `cannot read node ${node}'s status: ${st.reason}` });
        continue;
      }
      // memory promised to running VMs outside the castle is not the castle's to take
      const others = vms.value
        .filter((v) => v.node === node && v.status === 'running' && !spec.has(v.vmid) && ownership(s, v, inFlight).kind === 'foreign')
        .reduce((a, v) => a + (v.maxmem ?? 0), 0);
      live.set(node, { memory: Math.floor(st.value.memory.total / 2 ** 20), cpus: st.value.cpuinfo.cpus, others: Math.floor(others / 2 ** 20) });
    }
    for (const b of castleBudgets(c, live)) {
      if (b.source !== 'live') continue;
      const over = memoryOver(b);
      if (over !== undefined && over > 0) d.push({ severity: 'error', rule: 'proxmox/budget', message: overBudgetMessage(b), hint: describeBudget(b) });
    }
    return d;
  } finally {
    api.value.close();
  }
}
