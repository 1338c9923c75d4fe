import type { StepKind } from '../kind.js';

/** Does nothing, in process: a placeholder layer step, and the engine's overhead benchmark. */
export const noopKind: StepKind<unknown> = {
  name: 'noop',
  description: 'do nothing (in process)',
  schema: {},
  label: () => 'noop',
  run: async () => ({ ok: true }),
};
