import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from '../core/commander.js';
import type { Diagnostic } from '../diag/diagnostic.js';
import { formatDiagnostics } from '../diag/printer.js';
import type { ValidateOptions, ValidateResult } from './index.js';
import { defaultCacheDir } from './schema/cache-dir.js';
// the validator (ajv, CEL, RE2, the Kubernetes schemas) is loaded by the commands that use it, not by every castle command

export interface ValidateCommandOptions {
  /** the manifests of castle.yaml's steps, for `castle validate` without paths (provided by the lead's loader) */
  defaultManifests?: () => Promise<string[]>;
}

/** bad usage: exit 2 through commander's error (the CLI sets exitOverride), never process.exit */
function usage(cmd: Command, message: string): never {
  return cmd.error(`castle: ${message}`, { exitCode: 2, code: 'castle.usage' });
}

/** `castle validate` and `castle schemas add|pull|list` (issue 4). Exit: 0 clean, 1 errors, 2 bad usage. */
export function registerValidateCommands(program: Command, o: ValidateCommandOptions = {}): void {
  program
    .command('validate')
    .description("check manifests offline with the API server's rules: schemas, names, references, CEL rules, rebirth safety")
    .argument('[paths...]', 'files, directories or kustomizations (default: every manifest the castle applies)')
    .option('--format <format>', 'text, json or sarif', 'text')
    .option('--strict', 'warnings fail too (exit 1)')
    .option('--rebirth', 'the rules of a rebirth: a PostgresCluster that would come back empty is an error')
    .option('--kubernetes-version <version>', 'core kinds of this Kubernetes version (default: the bundled one)')
    .option('--cache-dir <dir>', 'compiled schema cache', defaultCacheDir())
    .option('--no-kustomize', 'never run kubectl kustomize')
    .option('--no-builtin-crds', 'do not use the CRDs shipped with Castle (PGO 5.8.9, External Secrets Operator)')
    .option(
      '--crds <operator@version>',
      'a shipped operator release to check against instead of the newest (eso@0.16, eso@0.19, eso@1.3, eso@2.9); repeatable',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('-f, --file <castle.yaml>', 'the castle whose manifests are checked when no paths are given', 'castle.yaml')
    .option(
      '--cluster',
      'also read the live cluster of the current kubeconfig context: references, and custom resources checked as updates of their live objects (transition rules, ratcheting)',
    )
    .option('--kubeconfig <file>', 'kubeconfig of the live cluster (implies --cluster)')
    .option('--context <name>', 'kubeconfig context of the live cluster (implies --cluster)')
    // for `npm run bench -- validate`: the same results read by the `yaml` package alone
    .addOption(new Option('--no-fast-yaml', 'read YAML with the yaml package only').hideHelp())
    .action(
      async (
        paths: string[],
        opts: {
          format: string;
          strict?: boolean;
          rebirth?: boolean;
          kubernetesVersion?: string;
          cacheDir: string;
          kustomize: boolean;
          builtinCrds: boolean;
          crds: string[];
          file: string;
          cluster?: boolean;
          kubeconfig?: string;
          context?: string;
          fastYaml: boolean;
        },
        cmd: Command,
      ) => {
        if (!['text', 'json', 'sarif'].includes(opts.format)) usage(cmd, `--format must be text, json or sarif, not ${JSON.stringify(opts.format)}`);
        let inputs = paths;
        let targetFindings: Diagnostic[] = [];
        if (inputs.length === 0) {
          if (o.defaultManifests) inputs = await o.defaultManifests();
          else {
            const { castleManifests } = await import('./castle-manifests.js');
            const m = await castleManifests(opts.file);
            if (!m.ok) {
              process.stderr.write(`${formatDiagnostics(m.diagnostics, (f) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined))}\n`);
              usage(cmd, `no paths given, and ${opts.file} cannot be read for the manifests it applies`);
            }
            inputs = m.paths;
            targetFindings = m.targetFindings;
          }
          if (inputs.length === 0) usage(cmd, `no paths given, and ${opts.file} applies no manifests`);
        }
        const vo: ValidateOptions = {
          cacheDir: opts.cacheDir,
          strict: opts.strict === true,
          builtinCrds: opts.builtinCrds,
          crds: opts.crds,
          rebirth: opts.rebirth === true,
          kustomize: opts.kustomize,
          fastYaml: opts.fastYaml,
          ...(opts.cluster || opts.kubeconfig || opts.context
            ? { cluster: { ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}) } }
            : {}),
          ...(opts.kubernetesVersion ? { kubernetesVersion: opts.kubernetesVersion } : {}),
        };
        // the worker thread loads its modules and the run's schemas while this one loads its own and reads the inputs
        const { PARALLEL_THRESHOLD_BYTES, prestartWorker, schemaChoice, schemasCached } = await import('./pool.js');
        const { manifestBytes } = await import('./inputs.js');
        const choice = schemaChoice(vo);
        prestartWorker(manifestBytes(inputs, PARALLEL_THRESHOLD_BYTES), undefined, schemasCached(choice) ? choice : undefined);
        // the inputs are read and the workers given their files before the validator is loaded (see start.ts)
        const started = (await import('./start.js')).startRun(inputs, vo);
        // the workers are ended however the run ends (validateStream ends them as well once it has them; twice is harmless)
        try {
          const { validateManifests, validateStream, ValidateUsageError } = await import('./index.js');
          try {
            if (opts.format === 'sarif') {
              // SARIF lists the rules before the results: it is built whole
              let result = await validateManifests(inputs, vo, started);
              if (targetFindings.length > 0) result = withTargetFindings(result, targetFindings, opts.strict === true);
              const { renderResult } = await import('./output/render.js');
              process.stdout.write(`${renderResult(result, 'sarif')}\n`);
              process.exitCode = result.ok ? 0 : 1;
              return;
            }
            // text and JSON are printed as the findings come, file by file: memory does not grow with their number
            const { StreamRenderer } = await import('./output/stream.js');
            const out = new StreamRenderer(opts.format === 'json' ? 'json' : 'text', process.stdout);
            const run = await validateStream(inputs, vo, (d, source) => out.add(d, source), started);
            // the targets' own files (Talos patches) after the manifests' findings, their sources read for the carets
            const lookup = (f: string): string | undefined => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);
            for (const d of targetFindings) await out.add(d, lookup);
            const ok = run.ok && !targetFindings.some((d) => d.severity === 'error' || (opts.strict === true && d.severity === 'warning'));
            await out.finish({ ...run, ok });
            process.exitCode = ok ? 0 : 1;
          } catch (e) {
            if (e instanceof ValidateUsageError) usage(cmd, e.message);
            throw e;
          }
        } finally {
          started.pool?.close();
        }
      },
    );

  const schemas = program.command('schemas').description('the schemas `castle validate` uses: core kinds and imported CRDs');
  schemas
    .command('add')
    .description('import CRDs from files, directories or URLs')
    .argument('<sources...>', 'CRD files, directories or http(s) URLs')
    .option('--cache-dir <dir>', 'compiled schema cache', defaultCacheDir())
    .action(async (sources: string[], opts: { cacheDir: string }) => {
      const { importSchemas } = await import('./schemas-cmd.js');
      const r = await importSchemas(sources, opts.cacheDir);
      for (const i of r.imported) process.stdout.write(`imported ${i.name} (${i.versions.join(', ')}) from ${i.source}\n`);
      for (const p of r.problems) process.stderr.write(`castle: ${p}\n`);
      process.exitCode = r.problems.length ? 1 : 0;
    });
  schemas
    .command('list')
    .description('list the known schemas')
    .option('--cache-dir <dir>', 'compiled schema cache', defaultCacheDir())
    .action(async (opts: { cacheDir: string }) => {
      const { listSchemas } = await import('./schemas-cmd.js');
      process.stdout.write(`${listSchemas(opts.cacheDir).join('\n')}\n`);
    });
  schemas
    .command('pull')
    .description('import the CRDs (and, with --core, the core schemas) of a live cluster, via kubeconfig')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .option('--core', "also store the cluster's core schemas from /openapi/v3, for --kubernetes-version")
    .option('--cache-dir <dir>', 'compiled schema cache', defaultCacheDir())
    .action(async (opts: { kubeconfig?: string; context?: string; core?: boolean; cacheDir: string }) => {
      try {
        const { pullSchemas } = await import('./pull.js');
        const lines = await pullSchemas({
          cacheDir: opts.cacheDir,
          core: opts.core === true,
          ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
          ...(opts.context ? { context: opts.context } : {}),
        });
        process.stdout.write(`${lines.join('\n')}\n`);
      } catch (e) {
        process.stderr.write(`castle: schemas pull: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}

/** The findings of the targets' own files (Talos patches) added to the manifests' result, their sources read for the carets. */
function withTargetFindings(result: ValidateResult, found: readonly Diagnostic[], strict: boolean): ValidateResult {
  const sources = new Map(result.sources);
  for (const d of found) {
    const f = d.location?.file;
    if (f && !sources.has(f) && existsSync(f)) sources.set(f, readFileSync(f, 'utf8'));
  }
  const diagnostics = [...result.diagnostics, ...found];
  const bad = found.some((d) => d.severity === 'error' || (strict && d.severity === 'warning'));
  return { ...result, diagnostics, sources, ok: result.ok && !bad };
}
