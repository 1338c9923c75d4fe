import type { Target } from '../../core/target.js';
import { GENERIC_TARGET } from '../../core/target.js';
import { noopKind } from './noop.js';
import { runKind } from './run.js';
import { waitForKind } from './wait-for.js';

/** The kinds every castle has whatever its target: a shell command, a readiness gate, a placeholder. */
export const genericTarget: Target<undefined, undefined> = {
  name: GENERIC_TARGET,
  description: 'steps every castle has: run a command, wait for a port, a URL or a command, do nothing',
  kinds: [runKind, waitForKind, noopKind],
};
