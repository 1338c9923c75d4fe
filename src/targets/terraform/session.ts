import { resolve } from 'node:path';
import type { StepContext } from '../../core/step.js';
import { fail, ok, type Result } from '../../core/result.js';
import { connectInfisical } from '../../secrets/infisical-ref.js';
import { DotenvSource } from '../../secrets/dotenv.js';
import { EnvSource } from '../../secrets/env.js';
import type { SecretSource } from '../../secrets/source.js';
import { flavorOf, type TerraformBlock } from './config.js';
import { readOutputs, type StoredOutputs } from './records.js';
import type { ToolEnv } from './tool.js';

/** Shared by the terraform steps of one run: the tool, its environment with the secrets, the layers' outputs. */
export interface TfSession {
  readonly tool: ToolEnv;
  /** secret values, registered again with every step's context */
  readonly secrets: readonly string[];
  /** outputs by layer: this run's applies, and what earlier runs recorded in the state dir */
  readonly outputs: Map<string, StoredOutputs>;
}

export async function openSession(block: TerraformBlock | undefined, ctx: StepContext): Promise<Result<TfSession>> {
  const flavor = flavorOf(block);
  if (!flavor)
    return fail(`cannot tell which tool ${block?.binary} is: add flavor: terraform, tofu or terragrunt to the terraform block`, { retryable: false });
  const raw = block?.binary ?? 'terraform';
  const binary = raw.includes('/') ? resolve(ctx.castleDir, raw) : raw;
  const env: Record<string, string> = {
    ...(block?.env ?? {}),
    // no prompts, no upgrade checks, output meant for a program
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
    CASTLE_RUN_ID: ctx.runId,
  };
  if (flavor === 'terragrunt') {
    env['TG_NON_INTERACTIVE'] = 'true';
    env['TERRAGRUNT_NON_INTERACTIVE'] = 'true';
  }
  const secrets: string[] = [];
  if (block?.secrets) {
    let source: SecretSource;
    const inf = block.secrets.infisical;
    if (inf) {
      const s = await connectInfisical(inf, { onSecret: (v) => ctx.secret(v) });
      if (!s.ok) return fail(s.reason);
      source = s.value;
    } else if (block.secrets.dotenv) {
      const s = await DotenvSource.open(resolve(ctx.castleDir, block.secrets.dotenv));
      if (!s.ok) return fail(s.reason, { retryable: false });
      source = s.value;
    } else source = new EnvSource();
    for (const name of block.secrets.vars) {
      const v = await source.get(name);
      if (v === undefined || v === '')
        return fail(`secret ${name} is not in ${source.description}: add it there (terraform.secrets.vars lists it)`, { retryable: false });
      ctx.secret(v);
      secrets.push(v);
      env[name] = v;
    }
  }
  return ok({ tool: { binary, flavor, env }, secrets, outputs: new Map() });
}

/** A layer's outputs: from this run, else from the state dir (a resumed or later run). */
export function outputsOf(s: TfSession, stateDir: string, layer: string): StoredOutputs | undefined {
  let o = s.outputs.get(layer);
  if (!o) {
    o = readOutputs(stateDir, layer);
    if (o) s.outputs.set(layer, o);
  }
  return o;
}
