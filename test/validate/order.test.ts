import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Diagnostic } from '../../src/diag/diagnostic.js';
import { byLine, dedupeSorted } from '../../src/validate/order.js';

const at = (line: number, col: number, rule: string, message: string, hint?: string): Diagnostic => ({
  severity: 'warning',
  rule,
  message,
  location: { file: 'a.yaml', line, col },
  ...(hint ? { hint } : {}),
});

describe("the order of one file's findings", () => {
  it('sorts by line and column, keeps the order found at one place, and drops repeats there only', () => {
    const found = [
      at(9, 1, 'r/a', 'late'),
      at(3, 5, 'r/b', 'same', 'first'),
      at(3, 5, 'r/c', 'other rule'),
      at(3, 5, 'r/b', 'same', 'a repeat: dropped even with another hint'),
      at(3, 2, 'r/b', 'same'),
      at(9, 1, 'r/a', 'late'),
      { severity: 'info', rule: 'r/none', message: 'no location' },
      { severity: 'info', rule: 'r/none', message: 'no location' },
    ] satisfies Diagnostic[];
    const out = dedupeSorted([...found].sort(byLine));
    assert.deepEqual(
      out.map((d) => `${d.location?.line ?? '-'}:${d.location?.col ?? '-'} ${d.rule} ${d.message}${d.hint ? ` (${d.hint})` : ''}`),
      ['-:- r/none no location', '3:2 r/b same', '3:5 r/b same (first)', '3:5 r/c other rule', '9:1 r/a late'],
    );
  });
});
