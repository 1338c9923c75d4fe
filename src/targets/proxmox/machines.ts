import { setMaxListeners } from 'node:events';
import { connect } from 'node:net';
import type { StepResult } from '../../core/step.js';
import type { Failure } from '../../core/result.js';
import { isLockTimeout, type Params } from './api.js';
import { mib, nodeOf, type MachineSpec, type WaitSpec } from './config.js';
import { foreignMessage, listVms, ownership, tagsOf, waitForLock, type ClusterVm } from './inventory.js';
import type { InFlight } from './journal.js';
import type { ProxmoxSession } from './session.js';
import { sleep } from '../../os/sleep.js';
import { withRetries } from '../../os/retry.js';
import { followTask, runTask } from './tasks.js';
import type { WorkContext } from './wipe.js';

const line =
  (ctx: WorkContext) =>
  (l: string): void =>
    ctx.log(l.endsWith('\n') ? l : l + '\n');

/** Settings Castle writes on each machine (tags last-write-wins over the template's). */
export function machineConfig(s: ProxmoxSession, m: MachineSpec, existingTags: readonly string[] = []): Params {
  const c = s.config;
  const net = c.network;
  const wait = m.wait ?? c.wait;
  const tags = [...new Set([...existingTags.filter((t) => !t.startsWith('castle-') || t === s.tag), s.tag])].sort();
  return {
    name: m.name,
    cores: m.cores,
    ...(m.sockets ? { sockets: m.sockets } : {}),
    memory: mib(m.memory),
    tags: tags.join(';'),
    ...(net ? { net0: `virtio,bridge=${net.bridge}${net.vlan ? `,tag=${net.vlan}` : ''}` } : {}),
    ...(m.ip && net?.prefix ? { ipconfig0: `ip=${m.ip}/${net.prefix}${net.gateway ? `,gw=${net.gateway}` : ''}` } : {}),
    ...(net?.nameservers?.length ? { nameserver: net.nameservers.join(' ') } : {}),
    ...(wait && 'agent' in wait ? { agent: 'enabled=1' } : {}),
  };
}

/** GiB of `local-lvm:vm-421-disk-0,size=8G` */
function diskGiB(drive: string | undefined): number | undefined {
  const m = /(?:^|,)size=([0-9.]+)([KMGT]?)/.exec(drive ?? '');
  if (!m) return undefined;
  const f: Record<string, number> = { '': 1 / 1024 ** 3, K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024 };
  return Number(m[1]) * f[m[2]!]!;
}

async function tcpOnce(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host, port, signal });
    const done = (v: boolean): void => {
      sock.destroy();
      res(v);
    };
    sock.setTimeout(2000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Until the machine answers: its guest agent (agent/ping) or its declared ip:port. */
async function waitReady(s: ProxmoxSession, m: MachineSpec, ctx: WorkContext): Promise<StepResult> {
  const w: WaitSpec | undefined = m.wait ?? s.config.wait;
  if (!w) return { ok: true };
  const node = nodeOf(s.config, m);
  let delay = s.polling.firstMs;
  let last = '';
  for (;;) {
    if ('agent' in w) {
      const r = await s.api.post<unknown>(`/nodes/${node}/qemu/${m.vmid}/agent/ping`, {}, ctx.signal);
      if (r.ok) return { ok: true };
      // the agent starts some seconds after the VM; anything else will not get better by waiting
      if (!/QEMU guest agent is not running|got timeout/.test(r.reason)) return r;
      last = r.reason;
    } else {
      if (await tcpOnce(m.ip!, w.port, ctx.signal)) return { ok: true };
      last = `${m.ip}:${w.port} does not answer yet`;
    }
    await sleep(delay, ctx.signal);
    if (ctx.signal.aborted) return { ok: false, reason: `VM ${m.vmid}: stopped waiting for it to answer (${last})` };
    delay = Math.min(Math.round(delay * 1.5), s.polling.maxMs);
  }
}

/** Clone the template (retrying lock contention on the template), or create from the ISO. */
const intentOf = (s: ProxmoxSession, m: MachineSpec): InFlight => ({
  vmid: m.vmid,
  node: nodeOf(s.config, m),
  op: s.config.source.template !== undefined ? 'clone' : 'create',
  since: new Date().toISOString(),
});

/** `recorded`: the intent is in the journal already (written for all new machines at once) */
async function create(s: ProxmoxSession, m: MachineSpec, ctx: WorkContext, recorded = false): Promise<StepResult | 'exists'> {
  const c = s.config;
  const node = nodeOf(c, m);
  const log = line(ctx);
  const intent = intentOf(s, m);
  const once = async (attempt: number): Promise<StepResult | 'exists' | (Failure & { exit?: string })> => {
    if (attempt > 1 || !recorded) s.journal.set(intent);
    let r;
    if (c.source.template !== undefined) {
      const full = c.source.full === true;
      const from = c.source.node ?? c.node;
      r = await s.api.post<string>(
        `/nodes/${from}/qemu/${c.source.template}/clone`,
        {
          newid: m.vmid,
          name: m.name,
          ...(full ? { full: true, ...(c.storage ? { storage: c.storage } : {}) } : {}),
          ...(from !== node ? { target: node } : {}),
        },
        ctx.signal,
      );
    } else {
      const cfg = machineConfig(s, m);
      r = await s.api.post<string>(
        `/nodes/${node}/qemu`,
        {
          vmid: m.vmid,
          ...cfg,
          scsihw: 'virtio-scsi-single',
          scsi0: `${c.storage}:${Math.ceil(mib(m.disk!, 'GiB') / 1024)}`,
          ide2: `${c.source.iso},media=cdrom`,
          ...(m.ip ? { ide0: `${c.storage}:cloudinit` } : {}),
          boot: 'order=scsi0;ide2',
          ostype: 'l26',
        },
        ctx.signal,
      );
    }
    if (!r.ok) {
      // a retried request (after a 596) may find the VM its first try made: the record stays, the caller looks
      if (/already exists/.test(r.reason)) return 'exists';
      // without an answer (aborted, connection lost) the VM may exist: the record stays as the proof it is ours
      if (r.status >= 400) s.journal.remove(m.vmid);
      return r;
    }
    s.journal.set({ ...intent, upid: r.value });
    const t = await followTask(s.api, r.value, {
      signal: ctx.signal,
      polling: s.polling,
      what: `${intent.op === 'clone' ? `cloning ${c.source.template} to` : 'creating'} VM ${m.vmid}`,
    });
    return t.ok ? { ok: true } : t;
  };
  return withRetries(once, {
    backoff: { attempts: 6, firstMs: 500, maxMs: 8000 },
    // several clones reading one template contend for its lock file; the failed clone removed its VM
    retryable: (t) => t !== 'exists' && !t.ok && 'exit' in t && t.exit !== undefined && isLockTimeout(t.exit),
    onRetry: (t, attempt, delay) => log(`VM ${m.vmid}: ${t !== 'exists' && 'exit' in t ? t.exit : ''} (lock contention, retry ${attempt} in ${delay} ms)`),
    signal: ctx.signal,
  });
}

async function bringUp(s: ProxmoxSession, m: MachineSpec, found: ClusterVm | undefined, ctx: WorkContext): Promise<StepResult & { created?: boolean }> {
  const node = nodeOf(s.config, m);
  const log = line(ctx);
  const { signal } = ctx;
  let created = false;
  let existing = found;
  // at most: create, find it exists (a retried request), wait for it, find it gone, create again
  for (let round = 1; ; round++) {
    if (round > 3) return { ok: false, reason: `VM ${m.vmid} keeps appearing and vanishing while Castle creates it` };
    if (!existing) {
      const r = await create(s, m, ctx, round === 1);
      if (r === 'exists') {
        const again = await listVms(s, signal);
        if (!again.ok) return again;
        existing = again.value.find((v) => v.vmid === m.vmid);
        if (existing && ownership(s, existing, s.journal.read()).kind === 'foreign')
          return { ok: false, reason: foreignMessage(s, existing), retryable: false };
        continue;
      }
      if (!r.ok) return r;
      created = true;
      break;
    }
    if (existing.lock !== undefined && existing.lock !== 'suspended') {
      const w = await waitForLock(s, existing, s.journal.read(), { signal, log });
      if (!w.ok) return w;
    }
    const cur = await s.api.get<{ status: string }>(`/nodes/${node}/qemu/${m.vmid}/status/current`, {}, signal);
    if (cur.ok) break;
    if (!/does not exist/.test(cur.reason)) return cur;
    // the creation it waited for failed and removed the VM: create it anew
    existing = undefined;
  }
  const conf = await s.api.get<Record<string, string | number>>(`/nodes/${node}/qemu/${m.vmid}/config`, {}, signal);
  if (!conf.ok) return conf;
  // a clone copies the template's tags: the castle's tag is written after every clone, and on reuse
  const put = await s.api.put<null>(`/nodes/${node}/qemu/${m.vmid}/config`, machineConfig(s, m, tagsOf({ tags: String(conf.value['tags'] ?? '') })), signal);
  if (!put.ok) return put;
  s.journal.remove(m.vmid);
  const want = m.disk === undefined ? undefined : mib(m.disk, 'GiB') / 1024;
  const have = diskGiB(String(conf.value['scsi0'] ?? ''));
  if (want !== undefined && have !== undefined && want > have) {
    const t = await runTask(s.api, () => s.api.put<string>(`/nodes/${node}/qemu/${m.vmid}/resize`, { disk: 'scsi0', size: `${Math.ceil(want)}G` }, signal), {
      signal,
      polling: s.polling,
      what: `growing the disk of VM ${m.vmid}`,
      log,
    });
    if (!t.ok) return t;
  }
  const st = await s.api.get<{ status: string }>(`/nodes/${node}/qemu/${m.vmid}/status/current`, {}, signal);
  if (!st.ok) return st;
  if (st.value.status !== 'running') {
    const t = await runTask(s.api, () => s.api.post<string>(`/nodes/${node}/qemu/${m.vmid}/status/start`, {}, signal), {
      signal,
      polling: s.polling,
      what: `starting VM ${m.vmid}`,
      log,
    });
    if (!t.ok && !/already running/.test(t.reason)) return t;
  }
  const ready = await waitReady(s, m, ctx);
  if (!ready.ok) return ready;
  log(`VM ${m.vmid} ${m.name} ${created ? 'created' : 'reused'}, running and answering`);
  return { ok: true, created };
}

/**
 * The castle's machines: each cloned (or created from the ISO), tagged, configured, started and waited
 * for until it answers, all in parallel; machines the castle already has are reused. A spec VM id
 * held by a VM the castle does not own stops the step before any change.
 */
export async function applyMachines(s: ProxmoxSession, ctx: WorkContext): Promise<StepResult> {
  // every VM's requests and waits listen to the step's signal at once
  setMaxListeners(0, ctx.signal);
  const listed = await listVms(s, ctx.signal);
  if (!listed.ok) return listed;
  const inFlight = s.journal.read();
  const byId = new Map(listed.value.map((v) => [v.vmid, v]));
  const refused = s.config.machines.flatMap((m) => {
    const vm = byId.get(m.vmid);
    return vm && ownership(s, vm, inFlight).kind === 'foreign' ? [foreignMessage(s, vm)] : [];
  });
  if (refused.length) return { ok: false, reason: refused.join('\n'), retryable: false };
  ctx.note(`${s.config.machines.length} machines: ${s.config.machines.map((m) => m.vmid).join(', ')}`);
  // the record that proves a half-made VM is the castle's exists before its creation is asked for
  const fresh = s.config.machines.filter((m) => !byId.has(m.vmid));
  if (fresh.length) s.journal.set(...fresh.map((m) => intentOf(s, m)));
  const results = await Promise.all(s.config.machines.map((m) => bringUp(s, m, byId.get(m.vmid), ctx).then((r) => ({ m, r }))));
  const failed = results.filter((x) => !x.r.ok);
  if (failed.length) {
    const retryable = failed.every((x) => x.r.ok || x.r.retryable !== false);
    return { ok: false, reason: failed.map((x) => (x.r.ok ? '' : `VM ${x.m.vmid} (${x.m.name}): ${x.r.reason}`)).join('\n'), retryable };
  }
  const made = results.filter((x) => x.r.ok && x.r.created).length;
  return { ok: true, summary: `${results.length} machines running (${made} created, ${results.length - made} reused)` };
}
