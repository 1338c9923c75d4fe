import type { InfisicalRef } from '../../secrets/infisical-ref.js';
import type { Diagnostic } from '../../diag/diagnostic.js';
import type { StepCheckContext } from '../../core/step.js';

/** The castle's `terraform:` block. */
export interface TerraformBlock {
  /** `terraform`, `tofu`, `terragrunt`, or a path to one of them; Terragrunt is treated as a wrapper */
  readonly binary?: string;
  /** which tool a binary given as a path is (by default: from its file name) */
  readonly flavor?: Flavor;
  /** plain environment for every command (no secrets here: castle.yaml is in git) */
  readonly env?: Readonly<Record<string, string>>;
  /** environment variables whose values come from the secret source (provider tokens, backend keys), masked everywhere */
  readonly secrets?: { readonly dotenv?: string; readonly infisical?: InfisicalRef; readonly vars: readonly string[] };
}

export type Flavor = 'terraform' | 'tofu' | 'terragrunt';

/** Where a layer's Kubernetes API server is: a destroy finding it gone is skipped. */
export interface KubernetesRef {
  readonly server?: string;
  readonly kubeconfig?: string;
}

export interface ApplyConfig {
  /** the module (or Terragrunt unit) folder, relative to castle.yaml */
  readonly cwd: string;
  /** layers whose outputs become TF_VAR_<name> for this module */
  readonly outputsFrom?: readonly string[];
  /**
   * after a wipe destroyed this layer's machines out-of-band, remove from its state before the apply
   * `true`: every managed resource; a list: the resources of these types
   */
  readonly ghostAfterWipe?: boolean | readonly string[];
  readonly kubernetes?: KubernetesRef;
}

export interface PlanConfig {
  readonly cwd: string;
  readonly outputsFrom?: readonly string[];
  /** a check that fails when the plan has changes (drift after a rebirth, in a proof) */
  readonly expectNoChanges?: boolean;
}

export interface DestroyConfig {
  readonly cwd: string;
  readonly outputsFrom?: readonly string[];
  /** the layer's resources live in this cluster: when it is unreachable, the destroy is skipped (the wipe took them) */
  readonly kubernetes?: KubernetesRef;
}

const kubernetesSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    server: { type: 'string', minLength: 1, description: 'host:port (or https://host:port) of the API server' },
    kubeconfig: { type: 'string', minLength: 1, description: 'a kubeconfig whose current cluster is the one (relative to castle.yaml)' },
  },
  description: "where this layer's cluster is: when it cannot be reached during a wipe, the destroy is skipped",
} as const;

const common = {
  cwd: { type: 'string', minLength: 1, description: 'the module folder, relative to castle.yaml' },
  outputsFrom: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true, description: 'layers whose outputs are passed as TF_VAR_<name>' },
  kubernetes: kubernetesSchema,
} as const;

export const applySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['cwd'],
  properties: {
    ...common,
    ghostAfterWipe: {
      anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' }, minItems: 1, uniqueItems: true }],
      description: "after a wipe, remove the layer's resources (true) or those of these types from its state before applying",
    },
  },
} as const;

export const planSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['cwd'],
  properties: {
    cwd: common.cwd,
    outputsFrom: common.outputsFrom,
    expectNoChanges: { type: 'boolean', description: 'fail (as a check) when the plan has changes' },
  },
} as const;

export const destroySchema = { type: 'object', additionalProperties: false, required: ['cwd'], properties: common } as const;

const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

export const blockSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    binary: { type: 'string', minLength: 1, description: 'terraform, tofu, terragrunt, or a path to one of them' },
    flavor: { enum: ['terraform', 'tofu', 'terragrunt'], description: 'which tool `binary` is, when its file name does not say' },
    env: { type: 'object', propertyNames: { pattern: ENV_NAME }, additionalProperties: { type: 'string' } },
    secrets: {
      type: 'object',
      additionalProperties: false,
      required: ['vars'],
      properties: {
        dotenv: { type: 'string', minLength: 1, description: "a 0600 .env file (default: Castle's own environment)" },
        infisical: {
          type: 'object',
          additionalProperties: false,
          required: ['projectId', 'environment'],
          properties: {
            siteUrl: { type: 'string', minLength: 1 },
            projectId: { type: 'string', minLength: 1 },
            environment: { type: 'string', minLength: 1 },
            secretPath: { type: 'string', minLength: 1 },
            clientIdEnv: { type: 'string', pattern: ENV_NAME, description: 'the variable holding the machine identity id (default INFISICAL_CLIENT_ID)' },
            clientSecretEnv: { type: 'string', pattern: ENV_NAME, description: 'the variable holding its secret (default INFISICAL_CLIENT_SECRET)' },
          },
        },
        vars: { type: 'array', items: { type: 'string', pattern: ENV_NAME }, minItems: 1, uniqueItems: true },
      },
    },
  },
} as const;

/** Which tool a binary is: from `flavor`, else from its file name. */
export function flavorOf(b: TerraformBlock | undefined): Flavor | undefined {
  if (b?.flavor) return b.flavor;
  const name = (b?.binary ?? 'terraform').split('/').pop() ?? '';
  if (/^terragrunt/.test(name)) return 'terragrunt';
  if (/^tofu|^opentofu/.test(name)) return 'tofu';
  if (/^terraform/.test(name)) return 'terraform';
  return undefined;
}

export function checkBlock(b: TerraformBlock, ctx: StepCheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (b.secrets?.dotenv && b.secrets.infisical) {
    out.push({
      severity: 'error',
      rule: 'terraform/secret-source',
      message: 'secrets has both dotenv and infisical',
      location: ctx.locate(['secrets']),
      hint: 'keep one secret source',
    });
  }
  if (!flavorOf(b)) {
    out.push({
      severity: 'error',
      rule: 'terraform/flavor',
      message: `cannot tell which tool ${b.binary} is`,
      location: ctx.locate(['binary']),
      hint: 'add flavor: terraform, tofu or terragrunt',
    });
  }
  for (const k of Object.keys(b.env ?? {})) {
    if (/TOKEN|SECRET|PASSWORD|ACCESS_KEY/i.test(k)) {
      out.push({
        severity: 'error',
        rule: 'terraform/secret-in-env',
        message: `${k} looks like a secret: castle.yaml is no place for it`,
        location: ctx.locate(['env', k]),
        hint: 'list it under secrets.vars and keep its value in the secret source',
      });
    }
  }
  return out;
}
