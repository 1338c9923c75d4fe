import { lineParse } from '../dist/src/validate/line-yaml.js';
import { fastParse } from '../dist/src/validate/fast-yaml.js';
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
for (const f of process.argv.slice(2)) {
  const t = readFileSync(f, 'utf8');
  let a; try { a = lineParse(t); } catch (e) { console.log('FALLBACK', f, e.constructor.name); continue; }
  const b = parseAllDocuments(t).map(d => d.toJS());
  console.log(isDeepStrictEqual(a, b) ? 'same' : 'DIFF', f);
}
const txt = readFileSync('/tmp/bx/001.yaml','utf8');
for (const [name, fn] of [['line', lineParse], ['cst', fastParse]]) { let t=performance.now(); for (let i=0;i<100;i++) fn(txt); console.log(name, ((performance.now()-t)/100).toFixed(2),'ms / 100 docs'); }
