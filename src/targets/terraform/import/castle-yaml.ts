import { basename, dirname, relative, resolve } from 'node:path';
import { Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Diagnostic } from '../../../diag/diagnostic.js';
import type { LiveTree, Module } from './tree.js';

export interface ImportOptions {
  /** where castle.yaml will be written: the `cwd` of each step is relative to its folder */
  readonly out: string;
  /** the castle's name; by default the tree's folder name */
  readonly name?: string;
  /** terraform | tofu | terragrunt (the default: the tree is a Terragrunt tree) */
  readonly binary?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label for a module folder (`live/prod/networking` -> `prod-networking` when unique). */
function labelOf(rel: string): string {
  const s = rel
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s || 'root';
}

/** Layer names: the folder's own name when unique in the tree, else its path from the tree's root. */
export function layerNames(modules: readonly Module[]): { ok: true; names: Map<string, string> } | { ok: false; diagnostics: Diagnostic[] } {
  const short = new Map<string, number>();
  for (const m of modules) short.set(labelOf(basename(m.dir)), (short.get(labelOf(basename(m.dir))) ?? 0) + 1);
  const names = new Map<string, string>();
  const taken = new Map<string, Module>();
  const diagnostics: Diagnostic[] = [];
  for (const m of modules) {
    const s = labelOf(basename(m.dir));
    const name = short.get(s) === 1 ? s : labelOf(m.rel);
    const other = taken.get(name);
    if (other || !DNS_LABEL.test(name)) {
      diagnostics.push({
        severity: 'error',
        rule: 'import/layer-name',
        message: `modules ${other?.rel ?? ''} and ${m.rel} both become layer '${name}'`,
        location: { file: m.file, line: 1, col: 1 },
        hint: 'rename one of the folders',
      });
      continue;
    }
    taken.set(name, m);
    names.set(m.dir, name);
  }
  return diagnostics.length ? { ok: false, diagnostics } : { ok: true, names };
}

/** castle.yaml for the tree: one layer per module, its edges as dependsOn, comments saying where each came from. */
export function castleYaml(tree: LiveTree, opts: ImportOptions): { ok: true; text: string; layers: number } | { ok: false; diagnostics: Diagnostic[] } {
  const named = layerNames(tree.modules);
  if (!named.ok) return named;
  const outDir = dirname(resolve(opts.out));
  const rel = (p: string): string => relative(outDir, p) || '.';
  const binary = opts.binary ?? 'terragrunt';
  const modules = topological(tree.modules);
  const doc = new Document({
    name: labelOf(opts.name ?? basename(tree.root)),
    target: 'terraform',
    terraform: { binary },
    layers: modules.map((m) => {
      const deps = [...new Set(m.edges.map((e) => named.names.get(e.to)!))];
      return {
        name: named.names.get(m.dir)!,
        ...(deps.length ? { dependsOn: deps } : {}),
        apply: [{ 'terraform.apply': { cwd: rel(m.dir) } }],
        destroy: [{ 'terraform.destroy': { cwd: rel(m.dir) } }],
      };
    }),
  });
  doc.commentBefore = ` Imported by \`castle import terragrunt ${rel(tree.root)}\` from ${tree.modules.length} terragrunt.hcl files.\n Edges come from each module's \`dependency\` blocks (config_path) and \`dependencies { paths }\`.`;
  const layers = doc.get('layers', true) as YAMLSeq;
  layers.items.forEach((item, i) => {
    const m = modules[i]!;
    if (!isMap(item)) return;
    const lines = [` from ${rel(m.file)}${m.source ? ` (source ${m.source})` : ''}`];
    for (const e of m.edges) lines.push(`   ${e.via} -> ${named.names.get(e.to)} at ${rel(e.location.file)}:${e.location.line}:${e.location.col}`);
    (item as YAMLMap).commentBefore = lines.join('\n');
    const deps = (item as YAMLMap).get('dependsOn', true);
    if (isSeq(deps)) deps.flow = true;
  });
  const tb = doc.get('terraform', true);
  if (isMap(tb)) tb.commentBefore = ' terraform | tofu | terragrunt (Terragrunt wraps the one in its own configuration)';
  if (tree.warnings.length) {
    doc.comment = [
      ' Not followed by the import (check these by hand):',
      ...tree.warnings.map((w) => `   ${rel(w.location?.file ?? '')}:${w.location?.line}:${w.location?.col}: ${w.message}`),
    ].join('\n');
  }
  return { ok: true, text: doc.toString({ lineWidth: 0 }), layers: tree.modules.length };
}

/** Dependencies before their dependents (the order Terragrunt would apply them), by path within a wave. */
function topological(modules: readonly Module[]): Module[] {
  const left = [...modules].sort((a, b) => a.rel.localeCompare(b.rel));
  const out: Module[] = [];
  const placed = new Set<string>();
  while (left.length) {
    const i = left.findIndex((m) => m.edges.every((e) => placed.has(e.to)));
    // a cycle was refused before; the guard keeps a bug from looping
    const [m] = left.splice(i < 0 ? 0 : i, 1);
    out.push(m!);
    placed.add(m!.dir);
  }
  return out;
}
