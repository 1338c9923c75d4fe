import { checkMachineConfigFile } from './machine-config.js';
import { resolve } from 'node:path';
import { lazyKind, type StepKind } from '../../core/step.js';
import type { Target } from '../../core/target.js';
import { emptySchema, talosBlockSchema, talosTargetName, withinSchema, type TalosBlock } from './config.js';
import { talosSession, type TalosSession } from './session.js';

const nodes = async () => import('./kinds/nodes.js');

/** The talos target: machine configs generated and checked, applied to nodes in maintenance mode, etcd bootstrapped, kubeconfig and health. */
export const talosTarget: Target<TalosBlock, TalosSession> = {
  name: talosTargetName,
  description: 'Talos Linux nodes through talosctl: machine configs from the castle, apply, bootstrap, kubeconfig into the state, health',
  block: { schema: talosBlockSchema, required: true },
  kinds: [
    lazyKind(
      {
        name: 'configs',
        description: 'generate machine configs per role from the secrets bundle kept in the secret source, checked against the Talos schema',
        schema: emptySchema,
      },
      () => import('./kinds/configs.js'),
    ),
    lazyKind({ name: 'apply', description: 'apply machine configs to nodes in maintenance mode (once per config)', schema: emptySchema }, async () => ({
      run: (await nodes()).runApply,
    })),
    lazyKind({ name: 'bootstrap', description: 'bootstrap etcd once on the first control plane node', schema: withinSchema }, async () => ({
      run: (await nodes()).runBootstrap,
    })),
    lazyKind({ name: 'kubeconfig', description: "fetch the cluster's kubeconfig into the castle's state", schema: emptySchema }, async () => ({
      run: (await nodes()).runKubeconfig,
    })),
    lazyKind({ name: 'health', description: "wait for talosctl health under Castle's own deadline", schema: withinSchema }, async () => ({
      run: (await nodes()).runHealth,
    })),
    lazyKind({ name: 'reset', description: 'reset the nodes to maintenance mode (down); nodes that are gone are skipped', schema: emptySchema }, async () => ({
      run: (await nodes()).runReset,
    })),
  ] as StepKind<any, TalosSession>[],
  manifests: () => [],
  checkFiles: (c, castleDir) => talosPatchFiles(c, castleDir).flatMap((f) => checkMachineConfigFile(f, { patch: true })),
  describe: (c) =>
    c
      ? [
          `Talos cluster ${c.clusterName} at ${c.endpoint}: control plane ${c.controlPlane.join(', ')}${c.workers?.length ? `; workers ${c.workers.join(', ')}` : ''}`,
        ]
      : [],
  session: talosSession,
};

/** The patch files a castle's talos block names (for `castle validate`). */
export function talosPatchFiles(c: TalosBlock | undefined, castleDir: string): string[] {
  return [...(c?.patches?.all ?? []), ...(c?.patches?.controlPlane ?? []), ...(c?.patches?.worker ?? [])].map((p) => resolve(castleDir, p));
}
