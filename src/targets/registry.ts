import { KindRegistry } from './kind.js';
import { noopKind } from './generic/noop.js';
import { runKind } from './generic/run.js';
import { waitForKind } from './generic/wait-for.js';
import { registerLocalTarget } from './local/index.js';

/** Every step kind Castle knows: the generic ones and each target's. */
export function defaultRegistry(): KindRegistry {
  return registerLocalTarget(new KindRegistry().register(runKind).register(noopKind).register(waitForKind));
}
