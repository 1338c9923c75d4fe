// `npm run bench -- proxmox [N...]`: the nuclear wipe and the rebuild of N VMs against the in-process Proxmox
// server with task latency injected. Both run all VMs in parallel, so each phase should take about as long
// as its slowest VM: the ratio total / slowest VM is printed (target <= 1.2), with the API calls per VM
// (task status is polled with growing waits, so more VMs must not mean a polling storm).
import { applyMachines } from '../src/targets/proxmox/machines.js';
import { DEFAULT_POLLING } from '../src/targets/proxmox/tasks.js';
import { wipe } from '../src/targets/proxmox/wipe.js';
import { recorder, rig, tazlabMachines } from '../test/proxmox/harness.js';
import type { RecordedRequest } from '../test/proxmox/server.js';

/** injected task times (ms): a linked clone of a small template, a start, a hard stop, a destroy */
const TASK_MS = { qmclone: 1500, qmstart: 600, qmstop: 400, qmdestroy: 900, resize: 200 };
const AGENT_MS = 800;

/** each VM's span: from the first request naming it to the last one (its last poll or ping) */
function spans(reqs: readonly RecordedRequest[], ids: readonly number[]): Map<number, number> {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const upidOf = new Map<string, number>();
  for (const q of reqs) {
    let id = Number(q.params['newid'] ?? /\/qemu\/(\d+)(?:\/|$)/.exec(q.path)?.[1] ?? NaN);
    const upid = /\/tasks\/([^/]+)\//.exec(q.path)?.[1];
    if (upid) id = upidOf.get(decodeURIComponent(upid)) ?? NaN;
    if (q.upid && ids.includes(id)) upidOf.set(q.upid, id);
    if (!ids.includes(id)) continue;
    if (!first.has(id)) first.set(id, q.at);
    last.set(id, q.at);
  }
  return new Map(ids.map((id) => [id, (last.get(id) ?? 0) - (first.get(id) ?? 0)]));
}

async function phase(
  name: string,
  n: number,
  run: () => Promise<{ ok: boolean; reason?: string }>,
  reqs: () => RecordedRequest[],
  ids: number[],
  tasksBefore: Map<string, number>,
  tasksNow: () => Map<string, number>,
): Promise<void> {
  const mark = reqs().length;
  const t0 = Date.now();
  const r = await run();
  const total = Date.now() - t0;
  if (!r.ok) throw new Error(`${name} of ${n} VMs failed: ${r.reason}`);
  const mine = reqs().slice(mark);
  const perVm = spans(mine, ids);
  const slowest = Math.max(...perVm.values());
  const polls = mine.filter((q) => q.path.endsWith('/status') && q.path.includes('/tasks/')).length;
  const tasks = [...tasksNow().entries()].reduce((a, [k, v]) => a + v - (tasksBefore.get(k) ?? 0), 0);
  process.stdout.write(
    `  ${name.padEnd(8)} N=${String(n).padStart(2)}: total ${(total / 1000).toFixed(2)} s, slowest VM ${(slowest / 1000).toFixed(2)} s, ratio ${(total / slowest).toFixed(2)} (target <= 1.2)` +
      ` | ${(mine.length / n).toFixed(1)} API calls per VM (${(polls / Math.max(tasks, 1)).toFixed(1)} status polls per task, ${tasks} tasks)\n`,
  );
}

export async function benchProxmox(args: string[]): Promise<void> {
  const sizes = args.length ? args.map(Number) : [3, 30];
  process.stdout.write(
    `proxmox: wipe + rebuild against the in-process server; task times ${Object.entries(TASK_MS)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ')}, agent up ${AGENT_MS} ms after start;` +
      ` polling ${DEFAULT_POLLING.firstMs} ms x${DEFAULT_POLLING.factor} up to ${DEFAULT_POLLING.maxMs} ms\n`,
  );
  for (const n of sizes) {
    const machines = n === 3 ? tazlabMachines(3) : tazlabMachines(n);
    const r = await rig({ taskMs: TASK_MS, agentMs: AGENT_MS, nodes: { pve: { memoryGiB: 1024, cpus: 128 } }, machines, block: { polling: {} } });
    try {
      const ids = machines.map((m) => m.vmid);
      const count = (): Map<string, number> => {
        const m = new Map<string, number>();
        for (const t of r.server.tasks.values()) m.set(t.type, (m.get(t.type) ?? 0) + 1);
        return m;
      };
      const s = await r.session({ polling: {} });
      const first = await applyMachines(s, recorder());
      if (!first.ok) throw new Error(first.reason);
      await phase(
        'wipe',
        n,
        () => wipe(s, recorder()),
        () => r.server.requests,
        ids,
        count(),
        count,
      );
      await phase(
        'rebuild',
        n,
        () => applyMachines(s, recorder()),
        () => r.server.requests,
        ids,
        count(),
        count,
      );
    } finally {
      await r.close();
    }
  }
}
