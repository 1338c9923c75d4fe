import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import type { Diagnostic } from '../../src/diag/diagnostic.js';
import { StructuralChecker } from '../../src/validate/check/structural.js';
import { convertCrd } from '../../src/validate/schema/crd.js';
import { ROOT, caseCrd, caseCrdObject, validateTexts } from './helpers.js';

// The conformance corpus (test/validate/conformance/, sources and licence in its README): verdicts
// the API server's validator gave, replayed through `castle validate` with the schema as a CRD.

interface Case {
  name: string;
  schema: Record<string, unknown>;
  object: Record<string, unknown>;
  valid?: string[];
  errors?: Record<string, string>;
  exception?: string[];
}

const DIR = join(ROOT, 'test/validate/conformance');

interface TransitionCase {
  name: string;
  schema: Record<string, unknown>;
  object: Record<string, unknown>;
  /** absent: a create */
  oldObject?: Record<string, unknown>;
  valid?: (string | { rule: string; optionalOldSelf?: boolean })[];
  errors?: Record<string, string>;
  optionalErrors?: Record<string, string>;
}

/** diagnostics about one rule: by its message tag for accepted rules, by its text for the others */
function about(diags: Diagnostic[], needle: string): Diagnostic[] {
  return diags.filter((d) => d.rule.startsWith('cel/') && d.message.endsWith(`: ${needle}`));
}

describe("conformance corpus: the API server's CEL verdicts", () => {
  it('agrees on every verdict but the explained exceptions', async () => {
    const cases = parse(readFileSync(join(DIR, 'cel-expressions.yaml'), 'utf8')) as Case[];
    let agree = 0;
    let total = 0;
    const disagreements: string[] = [];
    const exceptionsHeld: string[] = [];
    for (const c of cases) {
      const valid = c.valid ?? [];
      const exceptions = c.exception ?? [];
      const errors = Object.entries(c.errors ?? {});
      const rules = [
        ...valid.map((rule, i) => ({ rule, message: `rule-${i}` })),
        ...exceptions.map((rule, i) => ({ rule, message: `exception-${i}` })),
        ...errors.map(([rule]) => ({ rule })),
      ];
      const object = stringify({ apiVersion: 'conformance.castle.dev/v1', kind: 'Case', metadata: { name: 'c', namespace: 'default' }, spec: c.object });
      const r = await validateTexts({ 'crd.yaml': caseCrd(c.schema, rules), 'case.yaml': object });
      const diags = r.diagnostics.filter((d) => d.location?.file === 'case.yaml');
      const unrelated = diags.filter((d) => d.severity !== 'info' && !d.rule.startsWith('cel/'));
      assert.deepEqual(unrelated, [], `${c.name}: the object itself must be valid`);
      valid.forEach((rule, i) => {
        total++;
        const found = about(diags, `rule-${i}`).concat(about(diags, rule).filter((d) => d.rule === 'cel/unevaluated'));
        if (found.length === 0) agree++;
        else disagreements.push(`${c.name}: valid rule ${rule}: ${found.map((d) => d.message).join('; ')}`);
      });
      for (const [rule, expected] of errors) {
        total++;
        const found = about(diags, rule).filter((d) => d.rule === 'cel/rule' && d.severity === 'error');
        if (found.length === 1 && found[0]!.message.includes(expected)) agree++;
        else
          disagreements.push(
            `${c.name}: rejected rule ${rule} (${expected}): ${
              about(diags, rule)
                .map((d) => d.message)
                .join('; ') || 'accepted'
            }`,
          );
      }
      exceptions.forEach((rule, i) => {
        total++;
        // an exception that starts agreeing must leave the exception list (and the README)
        const found = about(diags, `exception-${i}`).concat(about(diags, rule).filter((d) => d.rule === 'cel/unevaluated'));
        assert.ok(found.length > 0, `${c.name}: ${rule} now agrees with the API server: remove it from the exceptions`);
        exceptionsHeld.push(`${c.name}: ${rule}`);
      });
    }
    const figure = `conformance: ${agree}/${total} verdicts agree (${((agree / total) * 100).toFixed(1)}%), ${exceptionsHeld.length} explained exceptions, ${disagreements.length} unexplained`;
    console.log(figure);
    assert.deepEqual(disagreements, [], figure);
    assert.equal(agree + exceptionsHeld.length, total);
  });

  it('agrees on every transition-rule verdict (oldSelf on updates, optionalOldSelf on creates)', () => {
    const cases = parse(readFileSync(join(DIR, 'transition-rules.yaml'), 'utf8')) as TransitionCase[];
    let agree = 0;
    let total = 0;
    const disagreements: string[] = [];
    for (const c of cases) {
      const valid = (c.valid ?? []).map((v) => (typeof v === 'string' ? { rule: v } : v));
      const errors = [
        ...Object.entries(c.errors ?? {}).map(([rule, text]) => ({ rule, text, optionalOldSelf: false })),
        ...Object.entries(c.optionalErrors ?? {}).map(([rule, text]) => ({ rule, text, optionalOldSelf: true })),
      ];
      const rules = [
        ...valid.map((v, i) => ({ rule: v.rule, message: `rule-${i}`, ...(v.optionalOldSelf ? { optionalOldSelf: true } : {}) })),
        ...errors.map((e) => ({ rule: e.rule, ...(e.optionalOldSelf ? { optionalOldSelf: true } : {}) })),
      ];
      const info = convertCrd(caseCrdObject(c.schema, rules), 'conformance');
      assert.ok(info, c.name);
      // the same checker castle validate runs on each custom resource, given the live object as `old`
      const obj = { apiVersion: 'conformance.castle.dev/v1', kind: 'Case', spec: structuredClone(c.object) };
      const old = c.oldObject ? { apiVersion: 'conformance.castle.dev/v1', kind: 'Case', spec: c.oldObject } : undefined;
      const chk = new StructuralChecker({ defs: {}, nullIsAbsent: false, evalCel: true, ...(old ? { old } : {}) });
      chk.checkObject(info.kinds[0]!.root, obj);
      const messages = chk.errors.map((e) => e.message);
      valid.forEach((v, i) => {
        total++;
        const found = messages.filter((m) => m.endsWith(`: rule-${i}`) || m.includes(v.rule));
        if (found.length === 0) agree++;
        else disagreements.push(`${c.name}: valid rule ${v.rule}: ${found.join('; ')}`);
      });
      for (const e of errors) {
        total++;
        const found = messages.filter((m) => m.includes(e.text));
        if (found.length === 1 && chk.errors.find((x) => x.message === found[0])?.rule === 'cel/rule') agree++;
        else disagreements.push(`${c.name}: rejected rule ${e.rule} (${e.text}): ${messages.join('; ') || 'accepted'}`);
      }
    }
    const figure = `conformance (transition rules): ${agree}/${total} verdicts agree`;
    console.log(figure);
    assert.deepEqual(disagreements, [], figure);
    assert.ok(total >= 10, figure);
  });
});
