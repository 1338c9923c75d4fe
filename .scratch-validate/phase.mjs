import { validateManifests } from '../dist/src/validate/index.js';
import { analyzeFiles } from '../dist/src/validate/analyze.js';
import { loadRegistry } from '../dist/src/validate/schema/registry-load.js';
import { InputCollector } from '../dist/src/validate/inputs.js';
import { importSchemas } from '../dist/src/validate/schemas-cmd.js';
const cacheDir = '/tmp/ccb';
await importSchemas(['/work/shared/crds'], cacheDir);
let t = performance.now();
const c = new InputCollector(); c.add('/tmp/bx'); console.log('collect', (performance.now()-t).toFixed(0));
t = performance.now(); const reg = loadRegistry(cacheDir); console.log('registry', (performance.now()-t).toFixed(0));
for (let k=0;k<3;k++){ t = performance.now(); const a = analyzeFiles(c.files, reg, {rebirth:false}); console.log('analyze 1000 docs single thread', (performance.now()-t).toFixed(0), a.diagnostics.length); }
t = performance.now(); const r = await validateManifests(['/tmp/bx'], {cacheDir, parallel:false}); console.log('validate serial', (performance.now()-t).toFixed(0));
