import type { StepKind } from '../../core/step.js';

/** Does nothing, in process: a placeholder layer step, and the engine's overhead benchmark. */
export const noopKind: StepKind<unknown, undefined> = {
  name: 'noop',
  description: 'do nothing (in process)',
  schema: {},
  label: () => 'noop',
  run: async () => ({ ok: true }),
};
