import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
const { schemaDecl, estimateMaxCost, NotEstimated } = await import('/work/wt/celest/dist/src/validate/check/cel-estimate.js');
const { checkCrdCost } = await import('/work/wt/celest/dist/src/validate/check/crd-cost.js');
const files = [];
const walk = (p) => { for (const f of readdirSync(p)) { const q = join(p, f); if (statSync(q).isDirectory()) walk(q); else if (/\.ya?ml$/.test(f)) files.push(q); } };
for (const r of process.argv.slice(2)) walk(r);
let crds = 0, est = 0, not = 0, errs = 0; const reasons = new Map();
for (const f of files) {
  let docs; try { docs = parseAllDocuments(readFileSync(f, 'utf8')); } catch { continue; }
  for (const d of docs) {
    const v = d.toJS?.({ maxAliasCount: -1 }); if (!v || v.kind !== 'CustomResourceDefinition') continue;
    crds++;
    const out = [];
    const fake = { value: v, base: [], pos: { locate: () => ({ file: f }) }, file: f, doc: 0 };
    const s = checkCrdCost(fake, out);
    est += s.estimated; not += s.notEstimated; errs += out.length;
    for (const o of out) console.log('ERR', f, o.message);
    // reasons
    const visit = (n, root) => { if (!n || typeof n !== 'object') return; if (Array.isArray(n['x-kubernetes-validations'])) { const decl = schemaDecl(n, root || n['x-kubernetes-embedded-resource'] === true); for (const r of n['x-kubernetes-validations']) { if (!decl) { reasons.set('no decl', (reasons.get('no decl')||0)+1); continue; } try { estimateMaxCost(r.rule, decl); } catch (e) { if (e instanceof NotEstimated) reasons.set(e.message, (reasons.get(e.message)||0)+1); else throw e; } } }
      for (const k of ['properties']) if (n[k]) for (const c of Object.values(n[k])) visit(c, false);
      if (n.items) visit(n.items, false); if (n.additionalProperties && typeof n.additionalProperties === 'object') visit(n.additionalProperties, false); };
    for (const ver of v.spec?.versions ?? []) visit(ver.schema?.openAPIV3Schema, true);
  }
}
console.log({ files: files.length, crds, estimated: est, notEstimated: not, errors: errs });
console.log([...reasons].sort((a,b)=>b[1]-a[1]).slice(0,25));
