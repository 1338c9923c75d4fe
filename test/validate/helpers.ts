import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateManifests, type ValidateOptions, type ValidateResult } from '../../src/validate/index.js';
import { importSchemas } from '../../src/validate/schemas-cmd.js';
import { stringify } from 'yaml';

/** dist/test/validate -> repository root */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
export const FIXTURES = join(ROOT, 'test/validate/fixtures');
/** the real PGO 5.8.9 and ESO 0.16.2 CRDs, shipped in the repository (schemas/crds) */
export const CRDS = [process.env['CASTLE_CRDS'], resolve(ROOT, 'schemas/crds')].find((p): p is string => !!p && existsSync(p)) ?? resolve(ROOT, 'schemas/crds');

export function tempDir(prefix = 'castle-validate-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface CliResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

export function runCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** runCli without blocking the event loop: for tests whose servers run in this process */
export function runCliAsync(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    p.once('error', reject);
    p.once('close', (status) => resolve({ stdout, stderr, status }));
  });
}

/** writes `files` (relative path -> text) under dir */
export function writeTree(dir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
}

export function copyFixture(rel: string, dir: string, as = rel): string {
  const dest = join(dir, as);
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(join(FIXTURES, rel), dest, { recursive: true });
  return dest;
}

let sharedCache: string | undefined;

/** one cache for the library-level tests, with the PGO and ESO CRDs imported */
export async function crdCache(): Promise<string> {
  if (sharedCache) return sharedCache;
  const dir = tempDir('castle-validate-cache-');
  const r = await importSchemas([CRDS], dir);
  if (r.imported.length < 4) throw new Error(`CRDs not imported from ${CRDS}: ${r.problems.join('; ')}`);
  sharedCache = dir;
  process.on('exit', () => cleanup(dir));
  return dir;
}

/** validates `files` written in a temp dir, with cwd-relative paths in the diagnostics */
export async function validateTexts(files: Record<string, string>, opts: ValidateOptions = {}): Promise<ValidateResult> {
  return validateIn(files, [...new Set(Object.keys(files).map((f) => f.split('/')[0]!))].sort(), opts);
}

/** writes the tree and validates only `paths` of it, from the tree's root */
export async function validateIn(files: Record<string, string>, paths: string[], opts: ValidateOptions = {}): Promise<ValidateResult> {
  const dir = tempDir();
  const cwd = process.cwd();
  try {
    writeTree(dir, files);
    process.chdir(dir);
    return await validateManifests(paths, { cacheDir: await crdCache(), parallel: false, ...opts });
  } finally {
    process.chdir(cwd);
    cleanup(dir);
  }
}

export function rules(r: ValidateResult, severity?: 'error' | 'warning' | 'info'): string[] {
  return r.diagnostics.filter((d) => !severity || d.severity === severity).map((d) => d.rule);
}

export function messages(r: ValidateResult, rule: string): string[] {
  return r.diagnostics.filter((d) => d.rule === rule).map((d) => d.message);
}

export type CaseRule = { rule: string; message?: string; optionalOldSelf?: boolean };

/** The one-kind CRD (`Case`) the conformance and cost corpora check their cases against, with this root schema. */
export function conformanceCrd(openAPIV3Schema: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'cases.conformance.castle.dev' },
    spec: {
      group: 'conformance.castle.dev',
      names: { kind: 'Case', plural: 'cases', singular: 'case', listKind: 'CaseList' },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema } }],
    },
  };
}

/** conformanceCrd with `schema` as `.spec` and `rules` on it */
export function caseCrdObject(schema: Record<string, unknown>, rules: readonly CaseRule[]): Record<string, unknown> {
  const spec = rules.length > 0 ? { ...schema, 'x-kubernetes-validations': rules } : schema;
  return conformanceCrd({ type: 'object', properties: { spec } });
}

export const caseCrd = (schema: Record<string, unknown>, rules: readonly CaseRule[]): string => stringify(caseCrdObject(schema, rules));
