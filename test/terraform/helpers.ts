import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { castleDir } from '../helpers/cli.js';

/** The terraform CLI double (test/terraform/terraform-double.mjs), run as the castle's `binary`. */
export const DOUBLE = fileURLToPath(new URL('../../../test/terraform/terraform-double.mjs', import.meta.url));

/** Terragrunt's double, wrapping the terraform double (test/terraform/terragrunt-double.mjs). */
export const TERRAGRUNT = fileURLToPath(new URL('../../../test/terraform/terragrunt-double.mjs', import.meta.url));

export interface DoubleModule {
  readonly variables?: string[];
  readonly requireEnv?: string[];
  readonly cluster?: string;
  readonly holdLockMs?: number;
  readonly resources: {
    type: string;
    name: string;
    id: string;
    seconds?: number;
    goneBehavior?: 'error';
    fail?: { summary: string; detail?: string; filename: string; line: number; column: number };
  }[];
  readonly outputs?: Record<string, { value: unknown; sensitive?: boolean }>;
}

/** A castle of terraform layers run by the double: `layersYaml` is the `layers:` list, `modules` each module's behaviour. */
export function tfCastle(layersYaml: string, modules: Record<string, DoubleModule>, block = ''): string {
  const dir = castleDir(
    `name: tf-test\ntarget: terraform\nterraform:\n  binary: ${DOUBLE}\n  flavor: terraform\n  env: {TF_DOUBLE_CLOUD: cloud}\n${block}layers:\n${layersYaml}`,
    'castle-tf-',
  );
  for (const [name, m] of Object.entries(modules)) setModule(dir, name, m);
  return dir;
}

export function setModule(dir: string, name: string, m: DoubleModule): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'castle-double.json'), JSON.stringify(m, null, 2));
}

/** The double's state of a module. */
export function tfState(dir: string, name: string): { resources: { type: string; name: string }[]; outputs: Record<string, { value: unknown }> } {
  return JSON.parse(readFileSync(join(dir, name, 'terraform.tfstate'), 'utf8'));
}

/** Every file under a directory, for "this secret appears nowhere" checks. */
export function allText(root: string): string {
  if (!existsSync(root)) return '';
  let out = '';
  for (const n of readdirSync(root)) {
    const p = join(root, n);
    out += statSync(p).isDirectory() ? allText(p) : `\n${p}\n${readFileSync(p, 'utf8')}`;
  }
  return out;
}
