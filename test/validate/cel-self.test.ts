import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selfFields, toCel, toCelFields } from '../../src/validate/check/cel.js';
import { StructuralChecker } from '../../src/validate/check/structural.js';
import { convertSchema } from '../../src/validate/schema/crd.js';
import type { SNode } from '../../src/validate/schema/types.js';

// An object whose rules only select fields of `self` is bound with those fields only (cel.ts,
// selfFields): the verdicts must be those of the whole object.

const fields = (...rules: { rule: string; messageExpression?: string }[]): string[] | undefined => {
  const f = selfFields(rules);
  return f ? [...f].sort() : undefined;
};

describe('CEL rules that read fields of self', () => {
  it('finds the fields a rule selects, and gives up on any other use of self', () => {
    assert.deepEqual(fields({ rule: '!has(self.config) || !has(self.config.parameters) || self.postgresVersion > 17' }), ['config', 'postgresVersion']);
    assert.deepEqual(fields({ rule: '0 < size(self.accessModes)' }, { rule: 'has(self.resources.requests.storage)' }), ['accessModes', 'resources']);
    // self whole: a macro on it, a comparison, a function of it, an index, a variable named self
    assert.equal(fields({ rule: 'self.exists(k, k.startsWith("ssl_"))' }), undefined);
    assert.equal(fields({ rule: 'self == {"a": 1}' }), undefined);
    assert.equal(fields({ rule: 'size(self) < 3' }), undefined);
    assert.equal(fields({ rule: 'self["a"] == 1' }), undefined);
    assert.equal(fields({ rule: '[1, 2].all(self, self > 0) && self.a == 1' }), undefined);
    // a message expression may read any field; oldSelf compares with the old object
    assert.equal(fields({ rule: 'self.a == 1', messageExpression: 'self.b' }), undefined);
    assert.equal(fields({ rule: 'self.a == oldSelf.a' }), undefined);
    assert.equal(fields({ rule: 'self.a ==' }), undefined, 'a rule that does not parse');
  });

  it('binds the selected fields as the whole conversion does, defaults included', () => {
    const node: SNode = convertSchema({
      type: 'object',
      properties: {
        a: { type: 'integer' },
        b: { type: 'integer', default: 5 },
        c: { type: 'array', items: { type: 'string' } },
        d: { type: 'string', nullable: true },
      },
    });
    const resolve = (n: SNode): SNode => n;
    const v = { a: 1, c: ['x'], d: null };
    const whole = toCel(v, node, resolve) as Record<string, unknown>;
    const some = toCelFields(v, new Set(['a', 'b', 'd', 'e']), node, resolve, undefined);
    assert.deepEqual(some, { a: whole['a'], b: whole['b'] });
    assert.equal(some['b'], 5n, 'the default of b');
    assert.equal('d' in some, 'd' in whole, 'a null property is absent in both');
  });

  it('gives the verdicts of the whole object', () => {
    const root = convertSchema({
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          'x-kubernetes-validations': [{ rule: '!has(self.config) || self.version > 17', message: 'config needs version 18' }, { rule: 'self.replicas <= 3' }],
          properties: {
            version: { type: 'integer' },
            replicas: { type: 'integer', default: 1 },
            config: { type: 'object', properties: { x: { type: 'string' } } },
            other: {
              type: 'array',
              items: { type: 'object', 'x-kubernetes-validations': [{ rule: 'self.n != "bad"' }], properties: { n: { type: 'string' } } },
            },
          },
        },
      },
    });
    const run = (spec: Record<string, unknown>): string[] => {
      const chk = new StructuralChecker({ defs: {}, nullIsAbsent: false, evalCel: true });
      chk.checkObject(root, { spec });
      return chk.errors.map((e) => e.message);
    };
    assert.deepEqual(run({ version: 18, config: { x: 'y' }, other: [{ n: 'ok' }] }), []);
    // the children's rules are evaluated first
    assert.deepEqual(run({ version: 16, config: { x: 'y' }, other: [{ n: 'bad' }] }), [
      'spec.other[0]: Invalid value: "object": failed rule: self.n != "bad"',
      'spec: Invalid value: "object": config needs version 18',
    ]);
    assert.deepEqual(run({ version: 16, replicas: 4 }), ['spec: Invalid value: "object": failed rule: self.replicas <= 3']);
  });
});
