// A castle's proxmox block against the in-process Proxmox server, and a step context that records what a step says.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PveApi } from '../../src/targets/proxmox/api.js';
import type { MachineSpec, ProxmoxConfig } from '../../src/targets/proxmox/config.js';
import { openSession, type ProxmoxSession } from '../../src/targets/proxmox/session.js';
import { rootUnlocker, type Unlocker } from '../../src/targets/proxmox/unlock.js';
import type { WorkContext } from '../../src/targets/proxmox/wipe.js';
import { FakeProxmox, testTls, type ServerOptions } from './server.js';

export const TOKEN_ID = 'castle@pve!castle';
export const TAG = 'castle-tazlab';

export interface Rig {
  readonly server: FakeProxmox;
  readonly secret: string;
  readonly stateDir: string;
  readonly config: ProxmoxConfig;
  session(over?: Partial<ProxmoxConfig>): Promise<ProxmoxSession>;
  close(): Promise<void>;
}

export const tazlabMachines = (n = 3): MachineSpec[] =>
  n === 3
    ? [
        { vmid: 421, name: 'tazlab-cp-01', role: 'controlplane', cores: 2, memory: '8GiB', disk: 32, ip: '192.168.1.21' },
        { vmid: 431, name: 'tazlab-worker-01', role: 'worker', cores: 2, memory: '8GiB', disk: 32, ip: '192.168.1.31' },
        { vmid: 432, name: 'tazlab-worker-02', role: 'worker', cores: 2, memory: '8GiB', disk: 32, ip: '192.168.1.32' },
      ]
    : Array.from({ length: n }, (_, i) => ({ vmid: 500 + i, name: `node-${i}`, cores: 1, memory: 512, disk: 8 }));

export function blockFor(endpoint: string, machines: MachineSpec[], over: Partial<ProxmoxConfig> = {}): ProxmoxConfig {
  return {
    endpoint,
    token: { id: TOKEN_ID, secretEnv: 'CASTLE_TEST_PVE_SECRET' },
    tls: { insecure: true },
    node: 'pve',
    hosts: { pve: { memory: '256GiB', cpus: 64 } },
    reserve: { memory: '4GiB' },
    storage: 'local-lvm',
    source: { template: 9000 },
    network: { bridge: 'vmbr0', prefix: 24, gateway: '192.168.1.1', nameservers: ['192.168.1.1'] },
    tag: TAG,
    wait: { agent: true },
    polling: { firstMs: 10, maxMs: 80 },
    machines,
    ...over,
  };
}

export const ROOT_PASSWORD = 'root-password-for-tests';

export async function rig(o: ServerOptions & { machines?: MachineSpec[]; block?: Partial<ProxmoxConfig> } = {}): Promise<Rig> {
  const server = await new FakeProxmox({ authFailMs: 20, ...o }).start();
  server.rootPassword = ROOT_PASSWORD;
  const secret = server.addToken(TOKEN_ID);
  // a template as Proxmox has it: its own tags, which every clone copies
  server.addVm(9000, { name: 'talos-template', template: true, tags: 'template;talos', memory: 2048, agent: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'castle-pve-state-'));
  const config = blockFor(server.endpoint, o.machines ?? tazlabMachines(), o.block);
  const tls = await testTls();
  const apis: PveApi[] = [];
  const unlockers: Unlocker[] = [];
  return {
    server,
    secret,
    stateDir,
    config,
    async session(over = {}) {
      const c = { ...config, ...over };
      const api = new PveApi({
        endpoint: c.endpoint,
        tokenId: TOKEN_ID,
        tokenSecret: secret,
        trust: { kind: 'ca', caPem: tls.caPem },
        backoffMs: 20,
        maxBackoffMs: 100,
      });
      api.recordJournal = true;
      apis.push(api);
      // `unlock:` in the block: root@pam's password as the castle would read it from its environment variable
      const unlocker = c.unlock ? rootUnlocker(c.endpoint, { kind: 'ca', caPem: tls.caPem }, ROOT_PASSWORD) : undefined;
      if (unlocker) unlockers.push(unlocker);
      return openSession(c, api, { stateDir, castleName: 'tazlab' }, unlocker);
    },
    async close() {
      for (const a of apis) a.close();
      for (const u of unlockers) u.close();
      await server.stop();
      rmSync(stateDir, { recursive: true, force: true });
      assert.deepEqual(server.bugs, [], 'the test server itself failed');
    },
  };
}

export interface Recorder extends WorkContext {
  readonly logs: string[];
  readonly notes: string[];
  readonly checks: { name: string; ok: boolean; detail: string }[];
}

export function recorder(signal: AbortSignal = new AbortController().signal): Recorder {
  const logs: string[] = [];
  const notes: string[] = [];
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  return {
    signal,
    logs,
    notes,
    checks,
    log: (t) => void logs.push(t),
    note: (m) => void notes.push(m),
    check: (name, ok, detail) => void checks.push({ name, ok, detail }),
  };
}
