import { fileURLToPath } from 'node:url';

/** the repository root, from dist/test/secrets/ */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../../../test/secrets/fixtures/', import.meta.url));
