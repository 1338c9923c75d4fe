import type { Diagnostic } from '../../diag/diagnostic.js';
import { fail, ok } from '../../core/result.js';
import { lazyKind, type StepKind } from '../../core/step.js';
import type { PreflightContext, Target } from '../../core/target.js';
import { castleBudgets, describeBudget } from './budget.js';
import { checkBlock } from './check.js';
import { mib, nodeOf, proxmoxBlockSchema, showMib, type ProxmoxConfig } from './config.js';
import type { ProxmoxSession } from './session.js';

const empty = { type: 'object', additionalProperties: false, properties: {} } as const;

const machinesKind: StepKind<Record<string, never>, ProxmoxSession> = lazyKind(
  {
    name: 'machines',
    description:
      "the castle's VMs from the proxmox block: in apply, clone or create, tag, start and wait until each answers (in parallel, existing ones reused); in destroy, the nuclear wipe",
    schema: empty,
    label: () => 'Proxmox machines',
  },
  () => import('./kinds.js').then((k) => ({ run: k.runMachines })),
);

const wipeKind: StepKind<Record<string, never>, ProxmoxSession> = lazyKind(
  {
    name: 'wipe',
    description: "the nuclear wipe: every VM tagged as the castle's, stopped hard and destroyed with purge and unreferenced disks, in parallel",
    schema: empty,
    label: () => 'Proxmox nuclear wipe',
  },
  () => import('./kinds.js').then((k) => ({ run: k.runWipe })),
);

/** `castle plan` lines: the machines, and memory and vCPUs against each host minus the reserve. */
export function describeProxmox(c: ProxmoxConfig | undefined): string[] {
  if (!c) return [];
  const src = c.source.template !== undefined ? `clone of template ${c.source.template}${c.source.full ? ' (full)' : ' (linked)'}` : `from ${c.source.iso}`;
  const lines = [`${c.endpoint}: ${c.machines.length} machines, ${src}, tag ${c.tag ?? '(castle-<name>)'}`];
  for (const m of c.machines) {
    lines.push(
      `machine ${m.vmid} ${m.name}${m.role ? ` (${m.role})` : ''} on ${nodeOf(c, m)}: ${m.cores * (m.sockets ?? 1)} vCPUs, ${showMib(mib(m.memory))}${m.disk !== undefined ? `, disk ${showMib(mib(m.disk, 'GiB'))}` : ''}${m.ip ? `, ${m.ip}` : ''}`,
    );
  }
  for (const b of castleBudgets(c)) lines.push(`budget ${describeBudget(b)}`);
  return lines;
}

async function preflight(c: ProxmoxConfig | undefined, ctx: PreflightContext): Promise<Diagnostic[]> {
  if (!c)
    return [
      {
        severity: 'error',
        rule: 'proxmox/block',
        message: 'the castle uses proxmox steps but has no `proxmox:` block',
        hint: 'add a proxmox block (endpoint, token, tls, node, source, machines)',
      },
    ];
  const { livePreflight } = await import('./preflight.js');
  return livePreflight(c, ctx);
}

export const proxmoxTarget: Target<ProxmoxConfig, ProxmoxSession> = {
  name: 'proxmox',
  description: "VMs on a Proxmox VE cluster through its API: the castle's machines, a memory budget, and a nuclear wipe that touches only what the castle owns",
  block: { schema: proxmoxBlockSchema, required: true, check: checkBlock },
  kinds: [machinesKind, wipeKind],
  describe: (c) => describeProxmox(c),
  preflight,
  session: {
    async open(c, ctx) {
      if (!c) return fail('this step belongs to the proxmox target: add a `proxmox:` block to castle.yaml', { retryable: false });
      const { openApi, openSession, openUnlocker, INSECURE_WARNING } = await import('./session.js');
      const unlocker = openUnlocker(c, ctx.castleDir, (v) => ctx.secret(v));
      if (!unlocker.ok) return unlocker;
      const api = await openApi(c, ctx.castleDir, { secret: (v) => ctx.secret(v), log: (l) => ctx.log(l + '\n') });
      if (!api.ok) return api;
      if (c.tls.insecure) {
        ctx.note(INSECURE_WARNING);
        ctx.log(`WARNING: ${INSECURE_WARNING}\n`);
      }
      return ok(openSession(c, api.value, { stateDir: ctx.stateDir, castleName: ctx.castleName }, unlocker.value));
    },
    async close(s) {
      s.api.close();
      s.unlocker?.close();
    },
  },
};
