import { TargetRegistry } from '../core/registry.js';
import { genericTarget } from './generic/index.js';
import { kubernetesTarget } from './kubernetes/index.js';
import { localTarget } from './local/index.js';
import { proxmoxTarget } from './proxmox/index.js';
import { talosTarget } from './talos/index.js';
import { terraformTarget } from './terraform/index.js';

/** Every target Castle knows; the local one is the embedded default. */
export function defaultRegistry(): TargetRegistry {
  return new TargetRegistry()
    .register(genericTarget)
    .register(localTarget, { asDefault: true })
    .register(proxmoxTarget)
    .register(terraformTarget)
    .register(kubernetesTarget)
    .register(talosTarget);
}
