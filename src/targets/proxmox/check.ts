import type { Diagnostic } from '../../diag/diagnostic.js';
import type { StepCheckContext } from '../../core/step.js';
import { castleBudgets, describeBudget, memoryOver, overBudgetMessage } from './budget.js';
import { mib, nodeOf, type ProxmoxConfig } from './config.js';

/** Pure checks of the `proxmox:` block beyond its schema: one source, unique ids, names and IPs, hosts, the memory budget. */
export function checkBlock(c: ProxmoxConfig, ctx: StepCheckContext): Diagnostic[] {
  const d: Diagnostic[] = [];
  const err = (path: (string | number)[], rule: string, message: string, hint: string): void => {
    d.push({ severity: 'error', rule: `proxmox/${rule}`, message, hint, location: ctx.locate(path) });
  };
  const hasTemplate = c.source.template !== undefined;
  if (hasTemplate === (c.source.iso !== undefined))
    err(
      ['source'],
      'source',
      'the source needs exactly one of `template` (a VM id to clone) or `iso` (storage:iso/file)',
      'write `source: {template: 9000}` or `source: {iso: local:iso/talos.iso}`',
    );
  if (c.source.iso !== undefined && !c.storage)
    err(
      ['source', 'iso'],
      'storage',
      'a machine created from an ISO needs a `storage` for its disk',
      'add `storage: local-lvm` (or another storage id) to the proxmox block',
    );
  if (c.source.iso !== undefined)
    c.machines.forEach(
      (m, i) =>
        m.disk === undefined && err(['machines', i], 'disk', `machine ${m.vmid} is created from an ISO and needs a \`disk\` size`, 'add e.g. `disk: 32GiB`'),
    );
  const t = c.tls;
  const trusts = [t.ca !== undefined, t.fingerprint !== undefined, t.insecure === true].filter(Boolean).length;
  if (trusts !== 1)
    err(
      ['tls'],
      'tls',
      'tls needs exactly one of `ca` (a PEM file), `fingerprint` (SHA-256 of the server certificate) or `insecure: true`',
      "the fingerprint is on the node's Certificates page, or `openssl x509 -noout -fingerprint -sha256 -in /etc/pve/local/pve-ssl.pem`",
    );
  const tok = c.token;
  if ((tok.secretEnv === undefined) === (tok.dotenv === undefined))
    err(
      ['token'],
      'token',
      'the token needs exactly one secret source: `secretEnv` (an environment variable) or `dotenv` with `key`',
      'e.g. `token: {id: castle@pve!castle, secretEnv: PVE_TOKEN_SECRET}`',
    );
  if (tok.dotenv !== undefined && tok.key === undefined)
    err(['token', 'dotenv'], 'token', 'a dotenv token source needs `key`: the name of the secret in the file', 'add `key: PVE_TOKEN_SECRET`');
  if (tok.id.startsWith('root@pam!'))
    d.push({
      severity: 'warning',
      rule: 'proxmox/token-root',
      message: 'the token belongs to root@pam: a privilege-separated token of a dedicated user is safer',
      location: ctx.locate(['token', 'id']),
      hint: 'pveum user add castle@pve; pveum user token add castle@pve castle --privsep 1',
    });
  const seen = { vmid: new Map<number, number>(), name: new Map<string, number>(), ip: new Map<string, number>() };
  c.machines.forEach((m, i) => {
    for (const [k, v] of [
      ['vmid', m.vmid],
      ['name', m.name.toLowerCase()],
      ['ip', m.ip],
    ] as const) {
      if (v === undefined) continue;
      const map = seen[k] as Map<unknown, number>;
      const first = map.get(v);
      if (first !== undefined)
        err(['machines', i, k], 'duplicate', `machines ${first + 1} and ${i + 1} have the same ${k} ${String(v)}`, `give each machine its own ${k}`);
      else map.set(v, i);
    }
    if (c.source.template === m.vmid) err(['machines', i, 'vmid'], 'vmid', `machine ${m.vmid} has the template's VM id`, 'pick another VM id');
    if (c.hosts && !c.hosts[nodeOf(c, m)])
      err(
        ['machines', i, m.node ? 'node' : 'vmid'],
        'host',
        `machine ${m.vmid} is on node ${nodeOf(c, m)}, which \`hosts\` does not declare`,
        `declare hosts.${nodeOf(c, m)} (memory, cpus) or fix the node`,
      );
    if (mib(m.memory) < 16)
      err(['machines', i, 'memory'], 'memory', `machine ${m.vmid} has ${mib(m.memory)} MiB of memory; Proxmox needs at least 16`, 'raise memory');
    const host = c.hosts?.[nodeOf(c, m)];
    if (host && m.cores * (m.sockets ?? 1) > host.cpus)
      err(
        ['machines', i, 'cores'],
        'cpus',
        `machine ${m.vmid} has ${m.cores * (m.sockets ?? 1)} vCPUs but ${nodeOf(c, m)} has ${host.cpus}: Proxmox will not start it`,
        'lower cores',
      );
  });
  if (c.wait === undefined && c.machines.some((m) => m.wait === undefined)) {
    // without a readiness check the machines layer would end before the machines answer
    err(
      ['machines'],
      'wait',
      'the castle does not say when a machine is ready: set `wait: {agent: true}` (QEMU guest agent) or `wait: {port: N}` (with `ip`) on the block or each machine',
      'Talos answers on port 50000: `wait: {port: 50000}`',
    );
  }
  c.machines.forEach((m, i) => {
    const w = m.wait ?? c.wait;
    if (w && 'port' in w && !m.ip)
      err(['machines', i], 'wait', `machine ${m.vmid} waits for port ${w.port} but has no \`ip\``, 'add `ip:` or wait for the guest agent');
  });
  if (c.machines.some((m) => m.ip) && !c.network?.prefix)
    err(
      ['network'],
      'network',
      'machines with a static `ip` need `network.prefix` (and usually `gateway`)',
      'e.g. `network: {bridge: vmbr0, prefix: 24, gateway: 192.168.1.1}`',
    );
  for (const b of castleBudgets(c)) {
    // vCPUs may be overcommitted (KVM shares the cores), memory may not
    if (b.hostCpus !== undefined && b.vcpus > b.hostCpus - b.reserveCpus) {
      d.push({
        severity: 'warning',
        rule: 'proxmox/vcpus',
        message: `the castle's machines on ${b.node} have ${b.vcpus} vCPUs, more than its ${b.hostCpus} CPUs${b.reserveCpus ? ` minus a reserve of ${b.reserveCpus}` : ''}: they will share cores`,
        location: ctx.locate(['machines']),
        hint: 'fine for idle machines; lower cores if they compete',
      });
    }
    const over = memoryOver(b);
    if (over !== undefined && over > 0) {
      d.push({
        severity: 'error',
        rule: 'proxmox/budget',
        message: overBudgetMessage(b),
        location: ctx.locate(c.hosts?.[b.node] ? ['hosts', b.node, 'memory'] : ['machines']),
        hint: `remove machines or give them less memory, or lower the reserve (${describeBudget(b)})`,
      });
    }
  }
  return d;
}
