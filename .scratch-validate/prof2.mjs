import { analyzeFiles } from '../dist/src/validate/analyze.js';
import { loadRegistry } from '../dist/src/validate/schema/registry-load.js';
import { InputCollector } from '../dist/src/validate/inputs.js';
const c = new InputCollector(); c.add('/tmp/bx');
const reg = loadRegistry('/tmp/ccb');
for (let k=0;k<10;k++) analyzeFiles(c.files, reg, {rebirth:false});
