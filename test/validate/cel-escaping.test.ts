import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evalRule, toCel } from '../../src/validate/check/cel.js';
import { StructuralChecker } from '../../src/validate/check/structural.js';
import { convertSchema } from '../../src/validate/schema/crd.js';
import type { SNode } from '../../src/validate/schema/types.js';

// Property names that are not CEL identifiers, as the API server shows them to rules: escaped by
// k8s.io/apiserver/pkg/cel/escaping.go (kubernetes-1.36.3) in objects with properties, never in maps
// (additionalProperties); read from the code of Escape, Unescape and valuesunstructured.go's unstructuredMap.

const int = { type: 'integer' };
const str = { type: 'string' };

const SCHEMA = {
  type: 'object',
  properties: {
    'a.b': int,
    'x-y': int,
    'p/q': int,
    namespace: str,
    in: int,
    a__b: int,
    'a@b': int,
    '9lives': int,
    gone: { ...int, nullable: true },
    'with-default': { ...str, default: 'd' },
    nested: { type: 'object', properties: { 'k.v': str } },
    labels: { type: 'object', additionalProperties: str },
    list: { type: 'array', items: { type: 'object', properties: { 'item-name': str } } },
  },
};

const OBJECT = {
  'a.b': 1,
  'x-y': 2,
  'p/q': 3,
  namespace: 'ns',
  in: 4,
  a__b: 5,
  'a@b': 6,
  '9lives': 9,
  gone: null,
  nested: { 'k.v': 'v' },
  labels: { 'app.kubernetes.io/name': 'web', a__dot__b: 'literal' },
  list: [{ 'item-name': 'first' }],
};

const self = toCel(OBJECT, convertSchema(SCHEMA), (n: SNode) => n);

function verdict(rule: string): boolean | string {
  const out = evalRule({ rule }, self);
  if (out.ok === true || out.ok === false) return out.ok;
  return out.ok === 'error' ? out.message : `${out.ok}: ${JSON.stringify(out)}`;
}

function check(cases: Record<string, boolean | string>): void {
  const got = Object.fromEntries(Object.keys(cases).map((rule) => [rule, verdict(rule)]));
  assert.deepEqual(got, cases);
}

describe('CEL property-name escaping (escaping.go)', () => {
  it("reads a property by its escaped name in field selection and has(), as the API server's rules do", () => {
    check({
      'self.a__dot__b == 1': true,
      'self.x__dash__y == 2': true,
      'self.p__slash__q == 3': true,
      "self.__namespace__ == 'ns'": true,
      'self.__in__ == 4': true,
      // `__` is itself escaped, so the escapes cannot collide with a name that holds them
      'self.a__underscores__b == 5': true,
      'has(self.x__dash__y)': true,
      "has(self.nested.k__dot__v) && self.nested.k__dot__v == 'v'": true,
      "self.list.all(i, i.item__dash__name == 'first')": true,
    });
  });

  it('finds nothing under a name that is not the escape of a property', () => {
    check({
      'has(self.x_y)': false,
      'self.a__dot__b__dot__c == 1': 'no such key: a__dot__b__dot__c evaluating rule: self.a__dot__b__dot__c == 1',
    });
  });

  it('treats a null property as absent and binds defaults under the escaped name', () => {
    check({
      '!has(self.gone)': true,
      "self.with__dash__default == 'd'": true,
    });
  });

  it('keeps the keys of a map (additionalProperties) as they are: index, in and iteration see the real keys', () => {
    check({
      "self.labels['app.kubernetes.io/name'] == 'web'": true,
      "'app.kubernetes.io/name' in self.labels": true,
      "!('app__dot__kubernetes__dot__io__slash__name' in self.labels)": true,
      // a map key that looks escaped is only that literal key
      "self.labels['a__dot__b'] == 'literal'": true,
      "self.labels.exists(k, k == 'app.kubernetes.io/name')": true,
      "self.labels.app__dot__kubernetes__dot__io__slash__name == 'web'":
        "no such key: app__dot__kubernetes__dot__io__slash__name evaluating rule: self.labels.app__dot__kubernetes__dot__io__slash__name == 'web'",
    });
  });

  it('compares objects with escaped names field by field', () => {
    const schema = convertSchema({
      type: 'object',
      properties: { l: { type: 'object', properties: { 'k.v': str } }, r: { type: 'object', properties: { 'k.v': str } } },
    });
    const v = toCel({ l: { 'k.v': 'x' }, r: { 'k.v': 'x' } }, schema, (n: SNode) => n);
    assert.deepEqual(evalRule({ rule: 'self.l == self.r' }, v), { ok: true, cost: 5 });
    assert.deepEqual(evalRule({ rule: "self.l == {'k__dot__v': 'x'}" }, v).ok, true);
  });

  it('reports a failing rule over escaped names at the node, with its message', () => {
    const root = convertSchema({
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          'x-kubernetes-validations': [{ rule: 'self.min__dash__replicas <= self.max__dash__replicas', message: 'min-replicas must not exceed max-replicas' }],
          properties: { 'min-replicas': int, 'max-replicas': int },
        },
      },
    });
    const run = (spec: Record<string, unknown>): string[] => {
      const chk = new StructuralChecker({ defs: {}, nullIsAbsent: false, evalCel: true });
      chk.checkObject(root, { spec });
      return chk.errors.map((e) => e.message);
    };
    assert.deepEqual(run({ 'min-replicas': 1, 'max-replicas': 3 }), []);
    assert.deepEqual(run({ 'min-replicas': 4, 'max-replicas': 3 }), ['spec: Invalid value: "object": min-replicas must not exceed max-replicas']);
  });
});
