// Reads a terragrunt.hcl with tree-sitter-hcl (a maintained HCL grammar, WebAssembly, no native build).
// HashiCorp's own parser compiled to WebAssembly (@cdktf/hcl2json) was the first choice, but its JSON
// drops every source position, and Castle reports what it cannot resolve with file:line:col.
// Only what the import needs is evaluated: string literals, templates, lists, `local.X` of the same
// file, get_terragrunt_dir(); anything else is reported as not statically resolvable, never guessed.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Node as TsNode, Parser as TsParser } from 'web-tree-sitter';
import type { SourceLocation } from '../../../diag/diagnostic.js';

let parser: Promise<TsParser> | undefined;

async function loadParser(): Promise<TsParser> {
  const { Parser, Language } = await import('web-tree-sitter');
  await Parser.init();
  const wasm = createRequire(import.meta.url).resolve('@tree-sitter-grammars/tree-sitter-hcl/tree-sitter-hcl.wasm');
  const lang = await Language.load(new Uint8Array(await readFile(wasm)));
  const p = new Parser();
  p.setLanguage(lang);
  return p;
}

export interface HclAttribute {
  readonly name: string;
  readonly value: TsNode;
  readonly location: SourceLocation;
}

export interface HclBlock {
  readonly type: string;
  readonly labels: readonly string[];
  readonly attributes: readonly HclAttribute[];
  readonly blocks: readonly HclBlock[];
  readonly location: SourceLocation;
}

export interface HclFile {
  readonly file: string;
  /** frees the syntax tree (WebAssembly memory): the nodes are unusable afterwards */
  dispose(): void;
  readonly attributes: readonly HclAttribute[];
  readonly blocks: readonly HclBlock[];
}

export type Parsed = { readonly ok: true; readonly file: HclFile } | { readonly ok: false; readonly location: SourceLocation; readonly message: string };

export const locate = (file: string, n: TsNode): SourceLocation => ({
  file,
  line: n.startPosition.row + 1,
  col: n.startPosition.column + 1,
  ...(n.startPosition.row === n.endPosition.row ? { length: Math.max(1, n.endPosition.column - n.startPosition.column) } : {}),
});

const named = (n: TsNode): TsNode[] => n.namedChildren.filter((c): c is TsNode => c !== null);

function firstError(n: TsNode): TsNode | undefined {
  if (n.isError || n.isMissing) return n;
  if (!n.hasError) return undefined;
  for (const c of n.children) {
    if (!c) continue;
    const e = firstError(c);
    if (e) return e;
  }
  return n;
}

function readBody(file: string, body: TsNode | undefined): { attributes: HclAttribute[]; blocks: HclBlock[] } {
  const attributes: HclAttribute[] = [];
  const blocks: HclBlock[] = [];
  for (const c of body ? named(body) : []) {
    if (c.type === 'attribute') {
      const [id, value] = named(c);
      if (id && value) attributes.push({ name: id.text, value, location: locate(file, c) });
    } else if (c.type === 'block') {
      const parts = named(c);
      const type = parts[0]?.text ?? '';
      const labels = parts
        .slice(1)
        .filter((p) => p.type === 'string_lit' || p.type === 'identifier')
        .map((p) => (p.type === 'string_lit' ? literal(p) : p.text));
      const inner = readBody(
        file,
        parts.find((p) => p.type === 'body'),
      );
      blocks.push({ type, labels, ...inner, location: locate(file, c) });
    }
  }
  return { attributes, blocks };
}

/** The text of a string_lit (between its quotes, the usual escapes undone). */
function literal(n: TsNode): string {
  const inner = named(n)
    .filter((c) => c.type === 'template_literal')
    .map((c) => c.text)
    .join('');
  return inner.replace(/\\(["\\nrt])/g, (_, ch: string) => ({ n: '\n', r: '\r', t: '\t' })[ch] ?? ch);
}

export async function parseHcl(file: string, text: string): Promise<Parsed> {
  const p = await (parser ??= loadParser());
  const tree = p.parse(text);
  if (!tree) return { ok: false, location: { file, line: 1, col: 1 }, message: 'the HCL parser returned nothing' };
  const root = tree.rootNode;
  const err = firstError(root);
  if (err) {
    const what = err.isMissing ? `missing ${err.type}` : `unexpected ${JSON.stringify(err.text.split('\n')[0]?.slice(0, 40) ?? '')}`;
    const r = { ok: false as const, location: locate(file, err), message: `HCL syntax error: ${what}` };
    tree.delete();
    return r;
  }
  const body = named(root).find((c) => c.type === 'body');
  return { ok: true, file: { file, dispose: () => tree.delete(), ...readBody(file, body) } };
}

/** A value the import could compute, or where and why it could not. */
export type Evaluated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly location: SourceLocation; readonly why: string };

export interface EvalScope {
  readonly file: string;
  /** absolute directory of the terragrunt.hcl (get_terragrunt_dir()) */
  readonly dir: string;
  /** the file's `locals` attributes */
  readonly locals: ReadonlyMap<string, HclAttribute>;
}

const unresolved = (scope: EvalScope, n: TsNode, why: string): Evaluated<never> => ({ ok: false, location: locate(scope.file, n), why });

/** Evaluates an expression to a string, when it is one statically. */
export function evalString(n: TsNode, scope: EvalScope, seen: ReadonlySet<string> = new Set()): Evaluated<string> {
  switch (n.type) {
    case 'expression':
    case 'literal_value':
    case 'template_expr': {
      const kids = named(n);
      if (n.type === 'expression' && kids.length > 1) return traversal(kids, n, scope, seen);
      return kids[0] ? evalString(kids[0], scope, seen) : unresolved(scope, n, 'empty expression');
    }
    case 'string_lit':
      return { ok: true, value: literal(n) };
    case 'quoted_template': {
      let out = '';
      for (const part of named(n)) {
        if (part.type === 'quoted_template_start' || part.type === 'quoted_template_end') continue;
        if (part.type === 'template_literal') out += part.text;
        else if (part.type === 'template_interpolation') {
          const e = named(part).find((c) => c.type === 'expression');
          if (!e) return unresolved(scope, part, 'empty interpolation');
          const v = evalString(e, scope, seen);
          if (!v.ok) return v;
          out += v.value;
        } else return unresolved(scope, part, `${part.type} in a template`);
      }
      return { ok: true, value: out };
    }
    case 'function_call': {
      const name = named(n)[0]?.text ?? '';
      if (name === 'get_terragrunt_dir') return { ok: true, value: scope.dir };
      return unresolved(scope, n, `${name}() is only known when Terragrunt runs`);
    }
    case 'variable_expr':
      return unresolved(scope, n, `${n.text} is not a value the import can know`);
    case 'numeric_lit':
    case 'bool_lit':
      return { ok: true, value: n.text };
    default:
      return unresolved(scope, n, `a ${n.type.replace(/_/g, ' ')} is not statically resolvable`);
  }
}

/** `local.NAME`: the file's own local, when that is itself static. */
function traversal(kids: TsNode[], n: TsNode, scope: EvalScope, seen: ReadonlySet<string>): Evaluated<string> {
  const [head, attr, ...more] = kids;
  if (head?.type === 'variable_expr' && head.text === 'local' && attr?.type === 'get_attr' && more.length === 0) {
    const name = named(attr)[0]?.text ?? '';
    const def = scope.locals.get(name);
    if (!def) return unresolved(scope, n, `local.${name} is not defined in this file's locals (locals of included files are not read)`);
    if (seen.has(name)) return unresolved(scope, n, `local.${name} refers to itself`);
    const v = evalString(def.value, scope, new Set([...seen, name]));
    return v.ok
      ? v
      : { ok: false, location: v.location, why: `local.${name} (used at ${scope.file}:${n.startPosition.row + 1}:${n.startPosition.column + 1}): ${v.why}` };
  }
  return unresolved(scope, n, `${n.text} is not statically resolvable`);
}

/** Evaluates a list of strings (`paths = [...]`). */
export function evalStringList(n: TsNode, scope: EvalScope): Evaluated<{ value: string; node: TsNode }[]> {
  let t = n;
  while ((t.type === 'expression' || t.type === 'collection_value') && named(t).length === 1) t = named(t)[0]!;
  if (t.type !== 'tuple') return unresolved(scope, n, 'expected a list of paths ["../a", "../b"]');
  const out: { value: string; node: TsNode }[] = [];
  for (const e of named(t).filter((c) => c.type === 'expression')) {
    const v = evalString(e, scope);
    if (!v.ok) return v;
    out.push({ value: v.value, node: e });
  }
  return { ok: true, value: out };
}
