import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');

const require = createRequire(import.meta.url);
let mod: Yaml | undefined;

/**
 * The `yaml` package, loaded on first use: `castle validate` reads plain manifests with its line
 * reader (src/validate/line-yaml.ts) and needs `yaml` only for the other files, while loading it
 * costs every process and worker thread ~0.1 s. Its Node entry point is CommonJS (package.json
 * `exports.node`), so `require` gives the same module an `import` would.
 */
export function yaml(): Yaml {
  return (mod ??= require('yaml') as Yaml);
}
