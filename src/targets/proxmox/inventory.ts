import { fail, ok, type Result } from '../../core/result.js';
import type { ProxmoxSession } from './session.js';
import type { InFlight } from './journal.js';
import { followTask, parseUpid } from './tasks.js';

/** A QEMU VM as /cluster/resources shows it (RRD fields may be missing for a VM just created). */
export interface ClusterVm {
  readonly vmid: number;
  readonly node: string;
  readonly status: string;
  readonly name?: string;
  readonly tags?: string;
  readonly lock?: string;
  readonly maxmem?: number;
  readonly template?: number;
}

/** Tags as Proxmox stores them: split on `;`, `,` or blanks, compared lowercase. */
export const tagsOf = (vm: { tags?: string }): string[] =>
  (vm.tags ?? '')
    .split(/[;,\s]+/)
    .filter(Boolean)
    .map((t) => t.toLowerCase());

export async function listVms(s: ProxmoxSession, signal?: AbortSignal): Promise<Result<ClusterVm[]>> {
  const r = await s.api.get<(ClusterVm & { type: string; vmid: number | string })[]>('/cluster/resources', { type: 'vm' }, signal);
  if (!r.ok) return r;
  return ok(r.value.filter((v) => v.type === 'qemu').map((v) => ({ ...v, vmid: Number(v.vmid) })));
}

export type Ownership =
  { readonly kind: 'tagged' } | { readonly kind: 'adopted' } | { readonly kind: 'in-flight'; readonly record: InFlight } | { readonly kind: 'foreign' };

/**
 * Whose VM this is. Tagged or adopted: the castle's. Untagged but locked by a creation this castle
 * recorded (an interrupted clone), or bearing the name that creation gave it: the castle's. Anything
 * else is not, whatever its id.
 */
export function ownership(s: ProxmoxSession, vm: ClusterVm, inFlight: ReadonlyMap<number, InFlight>): Ownership {
  if (tagsOf(vm).includes(s.tag)) return { kind: 'tagged' };
  if (s.adopt.has(vm.vmid)) return { kind: 'adopted' };
  const rec = inFlight.get(vm.vmid);
  // still locked by its creation, unlocked by hand with its config still empty, or named as Castle asked (a clone that ended before the tag was written)
  const specName = s.config.machines.find((m) => m.vmid === vm.vmid)?.name;
  if (
    rec &&
    rec.node === vm.node &&
    (vm.lock === 'clone' || vm.lock === 'create' || (vm.lock === undefined && (vm.name === undefined || vm.name === specName)))
  )
    return { kind: 'in-flight', record: rec };
  return { kind: 'foreign' };
}

/** The message that stops a run at a spec VM id held by a VM the castle does not own. */
export function foreignMessage(s: ProxmoxSession, vm: ClusterVm): string {
  const name = vm.name ? ` '${vm.name}'` : '';
  const tags = tagsOf(vm);
  return (
    `VM ${vm.vmid}${name} on ${vm.node} has a VM id of this castle but not its tag '${s.tag}'${tags.length ? ` (its tags: ${tags.join(', ')})` : ' (it has no tags)'}: ` +
    `Castle does not own it and changed nothing. If it is this castle's machine, adopt it: run again with \`--adopt ${vm.vmid}\` (this run), ` +
    `or add \`adopt: [${vm.vmid}]\` to the proxmox block (lasting); otherwise give the castle's machine another vmid.`
  );
}

interface ActiveTask {
  readonly upid: string;
  readonly type: string;
  readonly id: string;
  readonly status?: string;
}

/**
 * A VM whose config holds `lock:`. A token cannot clear it (skiplock is root@pam's), so: wait for the
 * running task that holds it (the castle's own recorded task, or an active task on the VM), else say
 * which command clears it.
 */
export async function waitForLock(
  s: ProxmoxSession,
  vm: ClusterVm,
  inFlight: ReadonlyMap<number, InFlight>,
  opts: { signal: AbortSignal; log: (l: string) => void },
): Promise<Result<'released'>> {
  const holders: string[] = [];
  const rec = inFlight.get(vm.vmid);
  if (rec?.upid) holders.push(rec.upid);
  const active = await s.api.get<ActiveTask[]>(`/nodes/${vm.node}/tasks`, { vmid: vm.vmid, source: 'active' }, opts.signal);
  if (active.ok) for (const t of active.value) if (!holders.includes(t.upid)) holders.push(t.upid);
  const tpl = s.config.source.template;
  if (vm.lock === 'clone' && !rec?.upid && tpl !== undefined) {
    // a clone task is listed under its source's id: when the UPID never reached us, wait for the template's running clones
    const srcNode = s.config.source.node ?? s.config.node;
    const clones = await s.api.get<ActiveTask[]>(`/nodes/${srcNode}/tasks`, { vmid: tpl, source: 'active', typefilter: 'qmclone' }, opts.signal);
    if (clones.ok) for (const t of clones.value) if (!holders.includes(t.upid)) holders.push(t.upid);
  }
  for (const upid of holders) {
    const u = parseUpid(upid);
    if (!u) continue;
    opts.log(`VM ${vm.vmid} is locked (${vm.lock}): waiting for task ${u.type} ${upid}`);
    // its outcome does not matter here: the lock is read again below
    await followTask(s.api, upid, { signal: opts.signal, polling: s.polling, what: `VM ${vm.vmid}: the task holding its lock` });
  }
  if (opts.signal.aborted) return fail(`VM ${vm.vmid}: aborted while waiting for its lock`);
  const cur = await s.api.get<{ lock?: string }>(`/nodes/${vm.node}/qemu/${vm.vmid}/status/current`, {}, opts.signal);
  if (!cur.ok) return /does not exist/.test(cur.reason) ? ok('released') : cur;
  if (cur.value.lock === undefined || cur.value.lock === 'suspended') return ok('released');
  if (s.unlocker) {
    opts.log(
      `VM ${vm.vmid} on ${vm.node} is locked (${cur.value.lock}) and no task holds the lock: clearing it as root@pam (unlock: in the proxmox block), as \`qm unlock ${vm.vmid}\` would`,
    );
    const cleared = await s.unlocker.clear(vm.node, vm.vmid, opts.signal);
    return cleared.ok ? ok('released') : cleared;
  }
  return fail(
    `VM ${vm.vmid} on ${vm.node} is locked (${cur.value.lock}) and no running task holds the lock (the task that took it was interrupted). ` +
      `An API token cannot clear it; on ${vm.node}, as root, run \`qm unlock ${vm.vmid}\`, then resume (castle down --resume), ` +
      `or let Castle do it as root@pam: \`unlock: {user: root@pam, passwordEnv: PVE_ROOT_PASSWORD}\` in the proxmox block.`,
    { retryable: false },
  );
}
