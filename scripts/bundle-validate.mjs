// Bundles `castle validate` and `castle schemas` (dist/src/cli/validate-main.js, the validator and its packages) into
// dist/src/validate/cli.bundle.js, which the CLI loads when it exists (src/cli/main.ts): Node 20 loads ~70 ES modules
// one by one (a file read, a resolution and a compile each), 25 ms more of each run than one file. What a run rarely
// needs (a cluster's modules, `schemas add`) is split into chunks beside it, loaded on first use. The bundle sits
// where the validator's own modules are (dist/src/validate/), so the worker threads, the unbundled
// castle-manifests.js and the package root (src/core/paths.ts) are found from it as from them.
import { build } from 'esbuild';

await build({
  entryPoints: { 'cli.bundle': 'dist/src/cli/validate-main.js' },
  outdir: 'dist/src/validate',
  chunkNames: 'cli.bundle.[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // the castle's own manifests load the spec and every target; the Kubernetes client only with --cluster; yaml is
  // CommonJS, which is required where it is needed (src/diag/yaml-lazy.ts)
  external: ['./castle-manifests.js', '@kubernetes/client-node', 'yaml'],
  logLevel: 'warning',
  legalComments: 'inline',
});
