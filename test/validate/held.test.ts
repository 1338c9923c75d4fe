import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { holdable, holdableNeed, type PackedNeed } from '../../src/validate/analyze.js';
import type { Need } from '../../src/validate/check/references.js';
import type { Diagnostic } from '../../src/diag/diagnostic.js';

// What a run holds to its end (findings, references nothing provided yet) holds no slice of a file's
// text: a slice keeps the whole text in memory, uncounted by the spool's budget, and every young
// collection copies it once more.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

it('holds references and findings without the 1 MB texts their strings were sliced from', () => {
  gc();
  const before = process.memoryUsage().heapUsed;
  const held: (PackedNeed | Diagnostic)[] = [];
  for (let i = 0; i < 24; i++) {
    // a file's text, each another one: its kind, names and keys are slices of it, as the line reader gives them
    const text = `${String(i).repeat(1 << 20)}\nkind: ClusterSecretStore\nname: vault-store-${i}\nnamespace: team-namespace-${i}\nsecretStoreRef: x\n`;
    const slice = (word: string): string => {
      const at = text.indexOf(word);
      return text.slice(at, at + word.length);
    };
    const need: Need = {
      kind: slice('ClusterSecretStore') as Need['kind'],
      namespace: slice(`team-namespace-${i}`),
      name: slice(`vault-store-${i}`),
      at: { file: 'f.yaml', doc: 0, path: ['spec', slice('secretStoreRef'), 'name'] },
    };
    // placed (a document with a finding) and not (its place found at the end, from its path)
    held.push(holdableNeed({ ...need, loc: { file: 'f.yaml', line: 3, col: 7, length: 5 } }).packed);
    held.push(holdableNeed(need).packed);
    const d: Diagnostic = { severity: 'warning', rule: 'test/held', message: slice(`vault-store-${i}\nnamespace: team`), hint: slice('secretStoreRef: x') };
    holdable(d);
    held.push(d);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(held.length, 72);
  assert.deepEqual(held[0], ['ClusterSecretStore', 'team-namespace-0', 'vault-store-0', 3, 7, 5]);
  assert.deepEqual((held[1] as PackedNeed)[3], { file: 'f.yaml', doc: 0, path: ['spec', 'secretStoreRef', 'name'] });
  // the 24 texts are 24 MB
  assert.ok(grown < 4 * 1024 * 1024, `the heap grew by ${(grown / 1024 / 1024).toFixed(1)} MB`);
});
