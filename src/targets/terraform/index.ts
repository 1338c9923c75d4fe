import { lazyKind, type StepKind } from '../../core/step.js';
import type { Target } from '../../core/target.js';
import {
  applySchema,
  blockSchema,
  checkBlock,
  destroySchema,
  flavorOf,
  planSchema,
  type ApplyConfig,
  type DestroyConfig,
  type PlanConfig,
  type TerraformBlock,
} from './config.js';
import { preflight } from './preflight.js';
import type { TfSession } from './session.js';

const applyKind: StepKind<ApplyConfig, TfSession> = lazyKind(
  {
    name: 'apply',
    description: 'terraform/tofu/terragrunt apply of one module, non-interactive, its JSON progress as notes and its outputs kept for the layers after it',
    schema: applySchema,
    label: (c) => `apply ${c.cwd}`,
  },
  () => import('./kinds/apply.js'),
);

const destroyKind: StepKind<DestroyConfig, TfSession> = lazyKind(
  {
    name: 'destroy',
    description: 'terraform/tofu/terragrunt destroy of one module; during a wipe, a stale lock of a dead Castle run is released',
    schema: destroySchema,
    label: (c) => `destroy ${c.cwd}`,
  },
  () => import('./kinds/destroy.js'),
);

const planKind: StepKind<PlanConfig, TfSession> = lazyKind(
  {
    name: 'plan',
    description: 'terraform/tofu/terragrunt plan of one module; with expectNoChanges, a check that it has no drift',
    schema: planSchema,
    label: (c) => `plan ${c.cwd}`,
  },
  () => import('./kinds/plan.js'),
);

/** Terraform, OpenTofu, and Terragrunt as their wrapper: one module a step. */
export const terraformTarget: Target<TerraformBlock, TfSession> = {
  name: 'terraform',
  description: 'Terraform / OpenTofu modules (Terragrunt units), applied and destroyed non-interactively',
  block: { schema: blockSchema, check: checkBlock },
  kinds: [applyKind, destroyKind, planKind],
  describe: (b) => [
    `${b?.binary ?? 'terraform'} (${flavorOf(b) ?? 'unknown tool'})${b?.secrets ? `, secrets ${b.secrets.vars.join(', ')} from ${b.secrets.dotenv ?? 'the environment'}` : ''}`,
  ],
  preflight,
  // loaded with the first terraform step: a castle without one never loads the secret sources
  session: { open: async (b, ctx) => (await import('./session.js')).openSession(b, ctx) },
};
