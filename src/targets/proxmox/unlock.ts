import { fail, ok, type Result } from '../../core/result.js';
import { PveApi, type TlsTrust } from './api.js';

/** Clears a stale `lock:` as root@pam: the one thing a token cannot do (skiplock is root@pam's, and no endpoint unlocks). */
export interface Unlocker {
  clear(node: string, vmid: number, signal: AbortSignal): Promise<Result<void>>;
  close(): void;
}

/** Logs in with root@pam's password on first use (POST /access/ticket), then deletes the lock with skiplock, as `qm unlock` does. */
export function rootUnlocker(endpoint: string, trust: TlsTrust, password: string): Unlocker {
  let api: PveApi | undefined;
  const login = async (signal: AbortSignal): Promise<Result<PveApi>> => {
    if (api) return ok(api);
    const anon = new PveApi({ endpoint, trust, attempts: 3 });
    try {
      const t = await anon.post<{ ticket?: string; CSRFPreventionToken?: string }>('/access/ticket', { username: 'root@pam', password }, signal);
      if (!t.ok) return fail(`logging in as root@pam to clear a lock: ${t.reason}`, { retryable: false });
      if (!t.value.ticket || !t.value.CSRFPreventionToken)
        return fail('logging in as root@pam: Proxmox returned no ticket (is two-factor authentication on for root@pam?)', { retryable: false });
      api = new PveApi({ endpoint, trust, ticket: { ticket: t.value.ticket, csrf: t.value.CSRFPreventionToken } });
      return ok(api);
    } finally {
      anon.close();
    }
  };
  return {
    async clear(node, vmid, signal) {
      const a = await login(signal);
      if (!a.ok) return a;
      const r = await a.value.put<null>(`/nodes/${node}/qemu/${vmid}/config`, { delete: 'lock', skiplock: true }, signal);
      return r.ok ? ok(undefined) : fail(`clearing the lock of VM ${vmid} as root@pam: ${r.reason}`, { retryable: false });
    },
    close() {
      api?.close();
    },
  };
}
