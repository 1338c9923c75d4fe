import { parseAllDocuments, LineCounter, Parser, Composer } from 'yaml';
import { benchValidate } from '../dist/bench/validate.js';
import { readFileSync, readdirSync, mkdtempSync, writeFileSync } from 'node:fs';
// reuse bench generator by writing a sample file
const parts=[];
const txt = readFileSync(process.argv[2],'utf8');
const N=20;
for (const [label, opts] of [['default', {}], ['uniqueKeys', {uniqueKeys:true}], ['lc+unique', {uniqueKeys:true}], ['nounique', {uniqueKeys:false}]]) {
  let t=performance.now();
  for (let i=0;i<N;i++){ const o={...opts}; if(label==='lc+unique') o.lineCounter=new LineCounter(); const docs=parseAllDocuments(txt,o); }
  const p=(performance.now()-t)/N;
  t=performance.now();
  for (let i=0;i<N;i++){ const docs=parseAllDocuments(txt,{uniqueKeys:true}); for(const d of docs) d.toJS({maxAliasCount:100}); }
  console.log(label, p.toFixed(1),'ms parse; parse+toJS', ((performance.now()-t)/N).toFixed(1));
}
