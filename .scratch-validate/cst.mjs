import { parseAllDocuments, Parser, Lexer, CST } from 'yaml';
import { readFileSync } from 'node:fs';
const txt = readFileSync('/tmp/bx/001.yaml','utf8');
const N=50;
let t=performance.now(); for (let i=0;i<N;i++){ for (const d of parseAllDocuments(txt,{uniqueKeys:true})) d.toJS(); } console.log('full', ((performance.now()-t)/N).toFixed(2));
t=performance.now(); for (let i=0;i<N;i++){ for (const tok of new Parser().parse(txt)) {} } console.log('cst', ((performance.now()-t)/N).toFixed(2));
t=performance.now(); for (let i=0;i<N;i++){ for (const tok of new Lexer().lex(txt)) {} } console.log('lex', ((performance.now()-t)/N).toFixed(2));
const docs=[...new Parser().parse(txt)]; console.log(JSON.stringify(docs[0], (k,v)=> k==='source' && typeof v==='string' && v.length>30 ? v.slice(0,30) : v).slice(0,1500));
