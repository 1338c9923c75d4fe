// What the proxmox kinds do when their step runs (loaded on the first step, with the API client).
import type { StepContext, StepResult } from '../../core/step.js';
import { applyMachines } from './machines.js';
import type { ProxmoxSession } from './session.js';
import { wipe } from './wipe.js';

export async function runMachines(_c: Record<string, never>, ctx: StepContext, s: ProxmoxSession): Promise<StepResult> {
  const section = ctx.section;
  switch (section) {
    case 'up':
      return applyMachines(s, ctx);
    case 'down':
      return wipe(s, ctx);
    case 'gate':
    case 'proof':
      return { ok: false, reason: `the proxmox machines step belongs in a layer's apply or destroy list, not in the ${section}`, retryable: false };
    default: {
      const never: never = section;
      return { ok: false, reason: `unknown section ${String(never)}` };
    }
  }
}

export async function runWipe(_c: Record<string, never>, ctx: StepContext, s: ProxmoxSession): Promise<StepResult> {
  return wipe(s, ctx);
}
