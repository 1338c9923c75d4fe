import { parseAllDocuments } from 'yaml';
for (const t of ['', '# c', '\n\n', '---', '---\n', 'a: 1\n---', 'a: 1\n---\n', '---\n---\n', '# c\n---\na: 1', 'a: 1\n...\n', '---\na: 1\n---\n# only comment\n---\nb: 2\n', 'a: 1\n--- \nb: 1', 'x\n---x\n']) {
  const d = parseAllDocuments(t); const arr = Array.isArray(d) ? d : [];
  console.log(JSON.stringify(t), arr.length, JSON.stringify(arr.map(x => x.toJS())), arr.flatMap(x=>x.errors.map(e=>e.code)).join(','));
}
