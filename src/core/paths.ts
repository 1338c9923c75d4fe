import { fileURLToPath } from 'node:url';

/**
 * The package's own directory (package.json, schemas/), found from this file's place in dist/src/core/. Modules in
 * deeper folders take it from here rather than from their own place: the validator's one-file bundle
 * (dist/src/validate/cli.bundle.js, see scripts/bundle-validate.mjs) sits at this depth, not at theirs.
 */
export const packageRoot: string = fileURLToPath(new URL('../../../', import.meta.url));
