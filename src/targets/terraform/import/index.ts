import type { Analysis } from '../../../diag/diagnostic.js';
import { castleYaml, type ImportOptions } from './castle-yaml.js';
import { readLiveTree } from './tree.js';

export type { ImportOptions } from './castle-yaml.js';
export { readLiveTree, type LiveTree, type Module, type Edge } from './tree.js';

export type ImportResult = Analysis<{ readonly yaml: string; readonly layers: number }>;

/** A Terragrunt live tree as castle.yaml text: one layer per terragrunt.hcl, the dependency edges as dependsOn. */
export async function importTerragrunt(dir: string, opts: ImportOptions): Promise<ImportResult> {
  const read = await readLiveTree(dir);
  if (!read.ok) return read;
  const y = castleYaml(read.tree, opts);
  if (!y.ok) return y;
  return { ok: true, value: { yaml: y.text, layers: y.layers }, warnings: read.tree.warnings };
}
