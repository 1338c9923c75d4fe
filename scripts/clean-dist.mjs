// The build starts from an empty dist/: a test file deleted or renamed in the sources must not run
// on from an old build (the test runner takes every compiled test file it finds there).
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
