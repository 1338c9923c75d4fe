import { fastParse, Unsupported } from '../dist/src/validate/fast-yaml.js';
import { parseAllDocuments } from 'yaml';
import { readFileSync, readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
const files = process.argv.slice(2);
let ok=0, fb=0, bad=0;
for (const f of files) {
  const txt = readFileSync(f, 'utf8');
  let fast; try { fast = fastParse(txt); } catch (e) { if (e instanceof Unsupported) { fb++; continue; } throw e; }
  const docs = parseAllDocuments(txt, {uniqueKeys:true});
  const arr = Array.isArray(docs) ? docs : [];
  const errs = arr.flatMap(d => d.errors);
  const full = arr.map(d => d.toJS());
  if (errs.length || !isDeepStrictEqual(fast, full)) { bad++; console.log('MISMATCH', f, errs.map(e=>e.message.split('\n')[0]), JSON.stringify(fast).slice(0,200), JSON.stringify(full).slice(0,200)); } else ok++;
}
console.log({ok, fb, bad});
const txt = readFileSync('/tmp/bx/001.yaml','utf8'); let t=performance.now(); for (let i=0;i<50;i++) fastParse(txt); console.log('fast', ((performance.now()-t)/50).toFixed(2),'ms');
