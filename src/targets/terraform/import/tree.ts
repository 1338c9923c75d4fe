import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Diagnostic, SourceLocation } from '../../../diag/diagnostic.js';
import { evalString, evalStringList, locate, parseHcl, type EvalScope, type HclAttribute } from './hcl.js';

export const TG_FILE = 'terragrunt.hcl';
// Terragrunt's and Terraform's own working folders: never modules of the live tree
const SKIP = new Set(['.terragrunt-cache', '.terraform', 'node_modules', '.git']);

export interface Edge {
  /** absolute directory of the module depended on */
  readonly to: string;
  /** `dependency "name"` or `dependencies` */
  readonly via: string;
  readonly location: SourceLocation;
}

export interface Module {
  /** absolute directory */
  readonly dir: string;
  /** path of the directory relative to the imported tree */
  readonly rel: string;
  readonly file: string;
  readonly edges: readonly Edge[];
  /** `terraform { source = ... }` when static */
  readonly source?: string;
  readonly hasTerraform: boolean;
}

export interface LiveTree {
  readonly root: string;
  readonly modules: readonly Module[];
  /** what was not followed (includes, unresolvable values outside the edges) */
  readonly warnings: readonly Diagnostic[];
}

function findFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (SKIP.has(name)) continue;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name === TG_FILE) out.push(p);
    }
  };
  walk(root);
  return out;
}

const diag = (rule: string, message: string, location: SourceLocation, hint?: string, severity: 'error' | 'warning' = 'error'): Diagnostic => ({
  severity,
  rule,
  message,
  location,
  ...(hint ? { hint } : {}),
});

/** Reads every terragrunt.hcl under `root`; the edges are the `dependency` and `dependencies` blocks. */
export async function readLiveTree(rootArg: string): Promise<{ ok: true; tree: LiveTree } | { ok: false; diagnostics: Diagnostic[] }> {
  const root = resolve(rootArg);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    return {
      ok: false,
      diagnostics: [
        { severity: 'error', rule: 'import/no-dir', message: `${rootArg} is not a directory`, hint: 'give the folder of the Terragrunt live tree' },
      ],
    };
  }
  const files = findFiles(root);
  if (files.length === 0) {
    return {
      ok: false,
      diagnostics: [
        {
          severity: 'error',
          rule: 'import/empty',
          message: `no ${TG_FILE} under ${root}`,
          hint: 'give the folder that holds one folder per module, each with its terragrunt.hcl',
        },
      ],
    };
  }
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const modules: Module[] = [];
  for (const file of files) {
    const dir = resolve(file, '..');
    const parsed = await parseHcl(file, await readFile(file, 'utf8'));
    if (!parsed.ok) {
      errors.push(diag('import/syntax', parsed.message, parsed.location, `fix ${file}; terragrunt would reject it too`));
      continue;
    }
    const hcl = parsed.file;
    try {
      const locals = new Map<string, HclAttribute>();
      for (const b of hcl.blocks.filter((b) => b.type === 'locals')) for (const a of b.attributes) locals.set(a.name, a);
      const scope: EvalScope = { file, dir, locals };
      const edges: Edge[] = [];
      for (const b of hcl.blocks) {
        if (b.type === 'dependency') {
          const cp = b.attributes.find((a) => a.name === 'config_path');
          const via = `dependency "${b.labels[0] ?? ''}"`;
          const enabled = b.attributes.find((a) => a.name === 'enabled');
          if (enabled) {
            const e = evalString(enabled.value, scope);
            if (!e.ok) {
              errors.push(diag('import/unresolvable', `${via}: enabled cannot be resolved statically: ${e.why}`, e.location, 'write true or false'));
              continue;
            }
            // a disabled dependency is no edge (Terragrunt skips it)
            if (e.value === 'false') continue;
          }
          if (!cp) {
            errors.push(diag('import/config-path', `${via} has no config_path`, b.location, 'add config_path = "../module"'));
            continue;
          }
          const v = evalString(cp.value, scope);
          if (!v.ok)
            errors.push(
              diag(
                'import/unresolvable',
                `${via}: config_path cannot be resolved statically: ${v.why}`,
                v.location,
                'write the path as a literal ("../networking") so the edge is known',
              ),
            );
          else edges.push({ to: resolve(dir, v.value), via, location: locate(file, cp.value) });
        } else if (b.type === 'dependencies') {
          const paths = b.attributes.find((a) => a.name === 'paths');
          if (!paths) continue;
          const v = evalStringList(paths.value, scope);
          if (!v.ok)
            errors.push(diag('import/unresolvable', `dependencies: paths cannot be resolved statically: ${v.why}`, v.location, 'write the paths as literals'));
          else for (const p of v.value) edges.push({ to: resolve(dir, p.value), via: 'dependencies', location: locate(file, p.node) });
        } else if (b.type === 'include') {
          const path = b.attributes.find((a) => a.name === 'path');
          const v = path ? evalString(path.value, scope) : undefined;
          const where = v && !v.ok ? v.location : b.location;
          const why = v && !v.ok ? `its path is not resolved statically (${v.why}); ` : '';
          warnings.push(
            diag(
              'import/include',
              `include${b.labels[0] ? ` "${b.labels[0]}"` : ''} is not followed: ${why}dependency blocks in included files are not read`,
              where,
              "if the included file declares dependencies, add them to the layer's dependsOn",
              'warning',
            ),
          );
        }
      }
      const tf = hcl.blocks.find((b) => b.type === 'terraform')?.attributes.find((a) => a.name === 'source');
      const src = tf ? evalString(tf.value, scope) : undefined;
      if (src && !src.ok)
        warnings.push(
          diag(
            'import/source',
            `terraform.source is not resolved statically: ${src.why}`,
            src.location,
            'Terragrunt resolves it at run time; nothing to do for the import',
            'warning',
          ),
        );
      modules.push({
        dir,
        rel: relative(root, dir) || '.',
        file,
        edges,
        hasTerraform: hcl.blocks.some((b) => b.type === 'terraform'),
        ...(src?.ok ? { source: src.value } : {}),
      });
    } finally {
      hcl.dispose();
    }
  }
  // the old layout's root terragrunt.hcl (included by the units below it, no terraform block) is configuration, not a unit
  for (const m of [...modules]) {
    const below = modules.some((o) => o !== m && o.dir.startsWith(m.dir + sep));
    if (below && !m.hasTerraform && m.edges.length === 0) {
      modules.splice(modules.indexOf(m), 1);
      warnings.push(
        diag(
          'import/root-config',
          'a root configuration (units below it, no terraform block), not a unit: no layer for it',
          { file: m.file, line: 1, col: 1 },
          'rename it root.hcl, as Terragrunt now recommends',
          'warning',
        ),
      );
    }
  }
  const byDir = new Map(modules.map((m) => [m.dir, m]));
  for (const m of modules) {
    for (const e of m.edges) {
      if (e.to === m.dir) errors.push(diag('import/self', `${e.via} points at its own module`, e.location, 'remove it'));
      else if (!byDir.has(e.to)) {
        const why = existsSync(e.to) ? `${relative(root, e.to) || e.to} has no ${TG_FILE}` : `${e.to} does not exist`;
        errors.push(diag('import/missing-dependency', `${e.via}: ${why}`, e.location, `point it at a module folder under ${root}`));
      }
    }
  }
  if (errors.length === 0) {
    const cycle = findCycle(modules);
    if (cycle) {
      errors.push({
        severity: 'error',
        rule: 'import/cycle',
        message: `dependency cycle: ${[...cycle.map((c) => byDir.get(c.from)!.rel), byDir.get(cycle[0]!.from)!.rel].join(' -> ')}`,
        location: cycle[0]!.edge.location,
        hint: 'Terragrunt cannot order these modules either: remove one of the edges',
        related: cycle.map((c) => ({
          message: `${byDir.get(c.from)!.rel} depends on ${byDir.get(c.edge.to)!.rel} (${c.edge.via})`,
          location: c.edge.location,
        })),
      });
    }
  }
  return errors.length ? { ok: false, diagnostics: errors } : { ok: true, tree: { root, modules, warnings } };
}

function findCycle(modules: readonly Module[]): { from: string; edge: Edge }[] | undefined {
  const byDir = new Map(modules.map((m) => [m.dir, m]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: { from: string; edge: Edge }[] = [];
  const visit = (dir: string): { from: string; edge: Edge }[] | undefined => {
    state.set(dir, 'open');
    for (const e of byDir.get(dir)?.edges ?? []) {
      stack.push({ from: dir, edge: e });
      if (state.get(e.to) === 'open') return stack.slice(stack.findIndex((s) => s.from === e.to));
      if (!state.has(e.to)) {
        const c = visit(e.to);
        if (c) return c;
      }
      stack.pop();
    }
    state.set(dir, 'done');
    return undefined;
  };
  for (const m of modules) {
    if (state.has(m.dir)) continue;
    const c = visit(m.dir);
    if (c) return c;
  }
  return undefined;
}
