import { benchValidate } from '../dist/bench/validate.js';
await benchValidate(process.argv.slice(2));
