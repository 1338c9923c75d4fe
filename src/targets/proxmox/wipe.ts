import { setMaxListeners } from 'node:events';
import type { StepResult } from '../../core/step.js';
import { foreignMessage, listVms, ownership, waitForLock, type ClusterVm } from './inventory.js';
import type { ProxmoxSession } from './session.js';
import { runTask } from './tasks.js';

/** The part of a step's context the proxmox work uses (tests and the bench pass their own). */
export interface WorkContext {
  readonly signal: AbortSignal;
  log(text: string): void;
  note(message: string): void;
  check(name: string, ok: boolean, detail: string): void;
}

const line =
  (ctx: WorkContext) =>
  (l: string): void =>
    ctx.log(l.endsWith('\n') ? l : l + '\n');

/** Stops a VM hard (not an ACPI shutdown: the wipe does not wait for guests) and follows the task. */
async function stopHard(s: ProxmoxSession, vm: ClusterVm, signal: AbortSignal, log: (l: string) => void): Promise<StepResult> {
  const t = await runTask(s.api, () => s.api.post<string>(`/nodes/${vm.node}/qemu/${vm.vmid}/status/stop`, {}, signal), {
    signal,
    polling: s.polling,
    what: `stopping VM ${vm.vmid}`,
    log,
  });
  if (!t.ok) return /does not exist/.test(t.reason) ? { ok: true } : t;
  return { ok: true };
}

async function destroyOne(s: ProxmoxSession, vm: ClusterVm, ctx: WorkContext, inFlight: Parameters<typeof waitForLock>[2]): Promise<StepResult> {
  const log = line(ctx);
  const { signal } = ctx;
  if (vm.lock !== undefined && vm.lock !== 'suspended') {
    const w = await waitForLock(s, vm, inFlight, { signal, log });
    if (!w.ok) return w;
  }
  const cur = await s.api.get<{ status: string }>(`/nodes/${vm.node}/qemu/${vm.vmid}/status/current`, {}, signal);
  if (!cur.ok) {
    if (/does not exist/.test(cur.reason)) return { ok: true, summary: 'already gone' };
    return cur;
  }
  for (let attempt = 1; ; attempt++) {
    if (cur.value.status !== 'stopped' || attempt > 1) {
      const st = await stopHard(s, vm, signal, log);
      if (!st.ok) return st;
    }
    const del = await runTask(
      s.api,
      () => s.api.delete<string>(`/nodes/${vm.node}/qemu/${vm.vmid}`, { purge: true, 'destroy-unreferenced-disks': true }, signal),
      {
        signal,
        polling: s.polling,
        what: `destroying VM ${vm.vmid}`,
        log,
      },
    );
    if (!del.ok) {
      if (/does not exist/.test(del.reason)) return { ok: true, summary: 'already gone' };
      // started again between the stop and the destroy (HA, onboot, a person): stop it once more
      if (/is running - destroy failed/.test(del.reason) && attempt < 3) continue;
      return del;
    }
    s.journal.remove(vm.vmid);
    log(`VM ${vm.vmid} destroyed (purge, unreferenced disks)`);
    return { ok: true };
  }
}

/**
 * The nuclear wipe: every VM of the castle across the cluster (by its tag, adopted ids and its recorded
 * in-flight creations), stopped hard and destroyed with purge and unreferenced disks, all in parallel.
 * A VM id of the spec held by a VM the castle does not own stops the wipe before any change.
 * Resumable by construction: it starts from what the cluster holds now.
 */
export async function wipe(s: ProxmoxSession, ctx: WorkContext): Promise<StepResult> {
  // every VM's requests and waits listen to the step's signal at once
  setMaxListeners(0, ctx.signal);
  const log = line(ctx);
  const listed = await listVms(s, ctx.signal);
  if (!listed.ok) return listed;
  const inFlight = s.journal.read();
  const specIds = new Set(s.config.machines.map((m) => m.vmid));
  const mine: ClusterVm[] = [];
  const refused: string[] = [];
  for (const vm of listed.value) {
    const o = ownership(s, vm, inFlight);
    if (o.kind === 'foreign') {
      if (specIds.has(vm.vmid)) refused.push(foreignMessage(s, vm));
      continue;
    }
    if (!specIds.has(vm.vmid)) log(`VM ${vm.vmid} (${vm.name ?? 'no name'}) carries the castle's tag but is not in the spec: destroyed as the castle's`);
    mine.push(vm);
  }
  if (refused.length) return { ok: false, reason: refused.join('\n'), retryable: false };
  if (mine.length === 0) {
    ctx.check('proxmox: nothing of the castle left', true, `no VM tagged ${s.tag}`);
    return { ok: true, summary: `no VM of the castle (tag ${s.tag}) to destroy` };
  }
  ctx.note(`destroying ${mine.length} VMs: ${mine.map((v) => v.vmid).join(', ')}`);
  const results = await Promise.all(mine.map((vm) => destroyOne(s, vm, ctx, inFlight).then((r) => ({ vm, r }))));
  const failed = results.filter((x) => !x.r.ok);
  const again = await listVms(s, ctx.signal);
  // a creation record whose VM is gone proves nothing any more; kept, it could claim a later stranger at that id
  if (again.ok) for (const id of s.journal.read().keys()) if (!again.value.some((v) => v.vmid === id)) s.journal.remove(id);
  const left = again.ok ? again.value.filter((v) => mine.some((m) => m.vmid === v.vmid && m.node === v.node)) : [];
  ctx.check(
    'proxmox: nothing of the castle left',
    again.ok && left.length === 0,
    again.ok ? (left.length ? `left: ${left.map((v) => v.vmid).join(', ')}` : `${mine.length} VMs destroyed`) : again.reason,
  );
  if (failed.length) {
    const retryable = failed.every((x) => !x.r.ok && x.r.retryable !== false);
    return { ok: false, reason: failed.map((x) => (x.r.ok ? '' : `VM ${x.vm.vmid}: ${x.r.reason}`)).join('\n'), retryable };
  }
  if (!again.ok) return again;
  if (left.length) return { ok: false, reason: `VMs still listed after the wipe: ${left.map((v) => v.vmid).join(', ')}` };
  return { ok: true, summary: `${mine.length} VMs destroyed: ${mine.map((v) => v.vmid).join(', ')}` };
}
