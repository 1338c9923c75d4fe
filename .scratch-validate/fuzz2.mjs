import { lineParse } from '../dist/src/validate/line-yaml.js';
import { Unsupported } from '../dist/src/validate/fast-yaml.js';
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
const seeds = process.argv.slice(2).map(f => readFileSync(f,'utf8'));
let s = Number(process.env.SEED||1); const rnd = (n) => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s % n; };
const frags = [':', ' ', '\n', '-', '- ', '{', '}', '[', ']', ',', '\t', '"', "'", '#', '&a ', '*a', '!!str ', '|', '|-', '|+', '>', '? ', '---\n', '...\n', '  ', 'x: y', '\\', '%YAML 1.2\n', '<<: ', '~', 'null', '0x1F', '1e3', '.inf', 'True', ' #c', '\\u0041', '\\x', "''", '- - ', ': '];
let ok=0, fb=0, bad=0, n = 0;
const N = Number(process.env.N||20000);
for (let iter = 0; iter < N; iter++) {
  let t = seeds[rnd(seeds.length)];
  const lines = t.split('\n'); const st = rnd(Math.max(1, lines.length - 12)); t = lines.slice(st, st + 2 + rnd(14)).join('\n');
  const muts = Number(process.env.MIN||0) + rnd(4);
  for (let m = 0; m < muts; m++) {
    const p = rnd(t.length + 1);
    const op = rnd(4);
    if (op === 0) t = t.slice(0, p) + t.slice(p + 1 + rnd(3));
    else if (op === 1) t = t.slice(0, p) + frags[rnd(frags.length)] + t.slice(p);
    else if (op === 2) { const ls = t.split('\n'); const i = rnd(ls.length); ls.splice(i, 0, ls[rnd(ls.length)]); t = ls.join('\n'); }
    else { const ls = t.split('\n'); const i = rnd(ls.length); ls[i] = ' '.repeat(rnd(5)) + ls[i].trimStart(); t = ls.join('\n'); }
  }
  n++;
  let fast; try { fast = lineParse(t); } catch (e) { if (e instanceof Unsupported) { fb++; continue; } console.log('THROW', e.message, JSON.stringify(t)); bad++; continue; }
  const docs = parseAllDocuments(t, {uniqueKeys:true}); const arr = Array.isArray(docs) ? docs : [];
  const errs = arr.flatMap(d => d.errors);
  let full; try { full = arr.map(d => d.toJS()); } catch (e) { full = 'THROW ' + e.message; }
  if (errs.length || !isDeepStrictEqual(fast, full)) { bad++; if (bad <= 8) console.log('MISMATCH', JSON.stringify(t), '\n  errs', errs.map(e=>e.code+' '+e.message.split('\n')[0]), '\n  fast', JSON.stringify(fast)?.slice(0,200), '\n  full', JSON.stringify(full)?.slice(0,200)); } else ok++;
}
console.log({n, ok, fb, bad});
