import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evalRule, toCel } from '../../src/validate/check/cel.js';
import { StructuralChecker } from '../../src/validate/check/structural.js';
import { convertSchema } from '../../src/validate/schema/crd.js';
import type { SNode } from '../../src/validate/schema/types.js';

// The list types of x-kubernetes-list-type (src/validate/check/cel-lists.ts), beyond the recorded
// verdicts of the conformance corpus: what k8s.io/apiserver/pkg/cel/common/valuesunstructured.go
// (kubernetes-1.36.3) and cel-go v0.26.0 (types.Equal, baseList, ext/sets.go) do, read from their code.

const set = (items: Record<string, unknown> = { type: 'string' }) => ({ type: 'array', 'x-kubernetes-list-type': 'set', items });
const mapList = (keys: string[], props: Record<string, unknown>) => ({
  type: 'array',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': keys,
  items: { type: 'object', required: keys, properties: props },
});
const str = { type: 'string' };

const SCHEMA = {
  type: 'object',
  properties: {
    s1: set(),
    s2: set(),
    atomic: { type: 'array', items: str },
    ints: set({ type: 'integer' }),
    nums: set({ type: 'number' }),
    nullable: set({ type: 'string', nullable: true }),
    durations: set({ type: 'string', format: 'duration' }),
    objSet: set({ type: 'object', 'x-kubernetes-map-type': 'atomic', properties: { a: str } }),
    sets: { type: 'array', items: set() },
    sets3: { type: 'array', items: set() },
    blobs: set({ type: 'string', format: 'byte' }),
    holders: {
      type: 'array',
      items: { type: 'object', properties: { s: set(), labels: { type: 'array', items: str }, d: { type: 'string', format: 'duration' } } },
    },
    lm: { type: 'array', items: mapList(['k'], { k: str, v: str }) },
    dotted: { type: 'array', items: mapList(['k.'], { 'k.': str, v: str }) },
    four: { type: 'array', items: mapList(['a', 'b', 'c', 'd'], { a: str, b: str, c: str, d: str }) },
    three: { type: 'array', items: mapList(['a', 'b', 'c'], { a: str, b: str, c: str }) },
  },
};

const OBJECT = {
  s1: ['a', 'b', 'c'],
  s2: ['c', 'a', 'b'],
  atomic: ['a', 'b', 'c'],
  ints: [1, 2, 3],
  nums: [1, 2.5],
  nullable: [null, 'x'],
  durations: ['1s', '2m'],
  objSet: [{ a: 'x' }],
  sets: [
    ['a', 'b'],
    ['b', 'a'],
  ],
  sets3: [['a', 'b', 'c']],
  blobs: ['YQ==', 'Yg=='],
  holders: [
    { s: ['a', 'b'], labels: ['x', 'y'], d: '1m' },
    { s: ['b', 'a'], labels: ['x', 'y'], d: '60s' },
    { s: ['b', 'a'], labels: ['y', 'x'], d: '1m' },
  ],
  lm: [
    [
      { k: 'a', v: '1' },
      { k: 'b', v: '2' },
    ],
    [
      { k: 'b', v: '2' },
      { k: 'a', v: '1' },
    ],
    [
      { k: 'c', v: '3' },
      { k: 'b', v: 'x' },
    ],
  ],
  dotted: [
    [
      { 'k.': '1', v: 'a' },
      { 'k.': '2', v: 'a' },
    ],
    [{ 'k.': '3', v: 'b' }],
  ],
  four: [[{ a: 'x y', b: 'z', c: 'c', d: 'd' }], [{ a: 'x', b: 'y z', c: 'c', d: 'd' }]],
  three: [[{ a: 'x y', b: 'z', c: 'c' }], [{ a: 'x', b: 'y z', c: 'c' }]],
};

const self = toCel(OBJECT, convertSchema(SCHEMA), (n: SNode) => n);
/** the same object bound with Kubernetes 1.37's list types */
const self137 = toCel(OBJECT, convertSchema(SCHEMA), (n: SNode) => n, undefined, true);

function verdict(rule: string, on: unknown = self): boolean | string {
  const out = evalRule({ rule }, on);
  if (out.ok === true || out.ok === false) return out.ok;
  return out.ok === 'error' ? out.message : `${out.ok}: ${JSON.stringify(out)}`;
}

function check(cases: Record<string, boolean | string>, on: unknown = self): void {
  const got = Object.fromEntries(Object.keys(cases).map((rule) => [rule, verdict(rule, on)]));
  assert.deepEqual(got, cases);
}

/** rules whose verdict 1.37 changes: [1.36.3, 1.37] */
function checkBoth(cases: Record<string, [boolean | string, boolean | string]>): void {
  const rules = Object.keys(cases);
  const got = Object.fromEntries(rules.map((rule) => [rule, [verdict(rule, self), verdict(rule, self137)]]));
  assert.deepEqual(got, cases);
}

describe('CEL list types (x-kubernetes-list-type set and map)', () => {
  it('compares a set by its left operand: without regard to order, duplicates of the right one pass', () => {
    check({
      "self.s1 == ['c', 'b', 'a']": true,
      'self.s1 == self.s2': true,
      "self.s1 != ['c', 'b', 'a']": false,
      // a list the rule builds compares in order (cel-go's baseList.Equal), even against a set
      "['c', 'b', 'a'] == self.s1": false,
      'self.atomic == self.s2': false,
      'self.s2 == self.atomic': true,
      // unstructuredSetList.Equal: the sizes, then each right element in the set
      "self.s1 == ['a', 'a', 'b']": true,
      "self.s1 == ['a', 'b']": false,
      "self.s1 == ['a', 'b', 'x']": false,
      'self.ints == [3, 2, 1]': true,
    });
  });

  it('keys a set by Go values: JSON whole numbers are int64, CEL doubles float64, formatted values never equal their text', () => {
    check({
      // the object's 1 is int64(1); the double 1.0 is float64(1)
      'self.nums == [2.5, 1.0]': false,
      'self.nums == self.nums': false,
      "self.nullable == ['x', null]": false,
      "self.durations == [duration('2m'), duration('1s')]": false,
      "self.durations.exists(d, d == duration('1s'))": true,
      'self.objSet == self.objSet':
        'internal error: runtime error: hash of unhashable type map[string]interface {} evaluating rule: self.objSet == self.objSet',
      "size(self.objSet) == 1 && self.objSet == [{'a': 'x'}, {'a': 'y'}]": false,
    });
  });

  it('concatenates a set as a union in the order of its left operand', () => {
    check({
      "self.s1 + ['c', 'd'] == ['a', 'b', 'c', 'd']": true,
      "(self.s1 + ['c', 'd'])[3] == 'd'": true,
      "size(self.s1 + ['d', 'd', 'a']) == 4": true,
      "(self.s1 + ['d']) == ['d', 'c', 'b', 'a']": true,
      // an empty list the rule builds gives the set itself (baseList.Add), a non-empty one a list in order
      "[] + self.s1 == ['c', 'b', 'a']": true,
      "['x'] + self.s1 == ['x', 'c', 'b', 'a']": false,
      "['x'] + self.s1 == ['x', 'a', 'b', 'c']": true,
      "self.atomic + ['d'] == ['d', 'c', 'b', 'a']": false,
      // what .map() and .filter() build is a list
      "self.s1.map(x, x) == ['c', 'b', 'a']": false,
    });
  });

  it('compares nested sets by the left value, in ==, in, indexOf and the sets library', () => {
    check({
      'self.sets[0] == self.sets[1]': true,
      // the object's other fields compare as CEL values, in order for a list
      'self.holders[0] == self.holders[1]': true,
      'self.holders[0] == self.holders[2]': false,
      'self.holders[0] != self.holders[2]': true,
      '[self.holders[0]] == [self.holders[1]]': true,
      "self.holders.exists(h, h.s == ['b', 'a'])": true,
      // a list of the object asks each element (unstructuredList.Contains), a list the rule builds asks the needle
      "['b', 'a'] in self.sets": true,
      "self.sets[1] in [['a', 'b']]": true,
      "['b', 'a'] in [self.sets[0]]": false,
      "self.sets.indexOf(['b', 'a']) == 0": true,
      "sets.contains(self.sets, [['b', 'a']])": true,
      "sets.contains([['b', 'a']], self.sets)": true,
      "sets.contains([['b', 'a']], [['a', 'b']])": false,
      "sets.intersects(self.sets, [['b', 'a']])": true,
    });
  });

  it('compares and merges a map list by its keys', () => {
    check({
      'self.lm[0] == self.lm[1]': true,
      'self.lm[1] == [self.lm[0][0], self.lm[0][1]]': true,
      '[self.lm[0][0], self.lm[0][1]] == self.lm[1]': false,
      // unstructuredMapList.Add: the positions of the left keys, the right values, new keys appended
      'self.lm[0] + self.lm[2] == [self.lm[2][1], self.lm[0][0], self.lm[2][0]]': true,
      "(self.lm[0] + self.lm[2])[1].v == 'x' && (self.lm[0] + self.lm[2])[2].k == 'c'": true,
      // the key `k.` is read under its escaped name, which no element has: every element has the same key
      'self.dotted[0] == self.dotted[0]': false,
      'self.dotted[1] == self.dotted[1]': true,
      "size(self.dotted[0] + self.dotted[1]) == 2 && (self.dotted[0] + self.dotted[1])[1].v == 'b'": true,
      // more than three keys are compared as Go's %v text of them, up to three as values
      'self.four[0] == self.four[1]': false,
      'size(self.four[0] + self.four[1]) == 1': true,
      'size(self.three[0] + self.three[1]) == 2': true,
    });
  });

  it('compares the old object of an update the same way (self == oldSelf on a reordered map list)', () => {
    const schema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec is immutable' }],
          properties: { ports: mapList(['port'], { port: { type: 'integer' }, name: str }), tags: set() },
        },
      },
    };
    const root = convertSchema(schema);
    const run = (spec: Record<string, unknown>, oldSpec: Record<string, unknown>): string[] => {
      const chk = new StructuralChecker({ defs: {}, nullIsAbsent: false, evalCel: true, old: { spec: oldSpec } });
      chk.checkObject(root, { spec });
      return chk.errors.map((e) => e.message);
    };
    const old = {
      ports: [
        { port: 80, name: 'http' },
        { port: 443, name: 'https' },
      ],
      tags: ['a', 'b'],
    };
    assert.deepEqual(run({ ports: [old.ports[1], old.ports[0]], tags: ['b', 'a'] }, old), []);
    assert.deepEqual(run({ ports: [{ port: 443, name: 'tls' }, old.ports[0]], tags: ['b', 'a'] }, old), ['spec: Invalid value: "object": spec is immutable']);
  });
});

// Kubernetes 1.37 (k8s.io/apiserver kubernetes-1.37.0-beta.0: kubernetes commits 95cf486d5068 "Preserve
// map-list semantics across concatenation results" and 69805c3b13c3 "Preserve set-list semantics across
// concatenation results"; valuesunstructured.go and valuesreflect.go's setElementKey, addToSetList,
// addToMapList, refValMapKey): what changes from 1.36.3, read from the diff between the two tags.
describe('CEL list types from Kubernetes 1.37', () => {
  it('keeps what did not change: order-free equality of sets and map lists, union and merge', () => {
    const same = {
      "self.s1 == ['c', 'b', 'a']": true,
      'self.s1 == self.s2': true,
      "['c', 'b', 'a'] == self.s1": false,
      'self.ints == [3, 2, 1]': true,
      "self.s1 == ['a', 'b']": false,
      "(self.s1 + ['d'])[3] == 'd'": true,
      "size(self.s1 + ['d', 'd', 'a']) == 4": true,
      "(self.s1 + ['d']) == ['d', 'c', 'b', 'a']": true,
      'self.lm[0] == self.lm[1]': true,
      'self.lm[0] + self.lm[2] == [self.lm[2][1], self.lm[0][0], self.lm[2][0]]': true,
      "(self.lm[0] + self.lm[2])[1].v == 'x' && (self.lm[0] + self.lm[2])[2].k == 'c'": true,
      'self.dotted[0] == self.dotted[0]': false,
      'self.four[0] == self.four[1]': false,
    };
    check(same, self);
    check(same, self137);
  });

  it('fails a set equality with duplicates on the right, and keys both sides by their CEL values', () => {
    checkBoth({
      "self.s1 == ['a', 'a', 'b']": [true, false],
      // 1.36 keys the object's whole 1 as JSON decodes it (int64), 1.37 as the CEL double of a `number` set
      'self.nums == [2.5, 1.0]': [false, true],
      'self.nums == [2.5, 1]': [true, false],
      'self.nums == self.nums': [false, true],
      "self.nullable == ['x', null]": [false, true],
      "self.durations == [duration('2m'), duration('1s')]": [false, true],
      'self.blobs == self.blobs': ['internal error: runtime error: hash of unhashable type []uint8 evaluating rule: self.blobs == self.blobs', true],
      "self.blobs == [b'b', b'a']": ["internal error: runtime error: hash of unhashable type []uint8 evaluating rule: self.blobs == [b'b', b'a']", true],
      'self.objSet == self.objSet': [
        'internal error: runtime error: hash of unhashable type map[string]interface {} evaluating rule: self.objSet == self.objSet',
        'listSet operations are only supported on lists of scalar values evaluating rule: self.objSet == self.objSet',
      ],
      // the sizes are compared first
      "size(self.objSet) == 1 && self.objSet == [{'a': 'x'}, {'a': 'y'}]": [false, false],
      // a union is a set list again, with the same equality
      "(self.s1 + ['d']) == ['d', 'd', 'b', 'a']": [true, false],
    });
  });

  it('fails a map-list equality with a duplicate key on the right, and merges by the keys of the CEL values', () => {
    checkBoth({
      'self.lm[0] == [self.lm[0][0], self.lm[0][0]]': [true, false],
      'self.lm[1] == [self.lm[0][0], self.lm[0][1]]': [true, true],
      // addToMapList reads `k.` from the CEL value, under its escaped name: the keys differ
      "size(self.dotted[0] + self.dotted[1]) == 2 && (self.dotted[0] + self.dotted[1])[1].v == 'b'": [true, false],
      'size(self.dotted[0] + self.dotted[1]) == 3': [false, true],
      // more than three keys: %#v quotes the strings, so 'x y','z' and 'x','y z' no longer collide
      'size(self.four[0] + self.four[1]) == 1': [true, false],
      'size(self.four[0] + self.four[1]) == 2': [false, true],
      'size(self.three[0] + self.three[1]) == 2': [true, true],
      // a merge result compares as a map list (refValMapList), a duplicate key on the right fails
      '(self.lm[0] + self.lm[2]) == [self.lm[2][0], self.lm[0][0], self.lm[2][1]]': [true, true],
      '(self.lm[0] + self.lm[2]) == [self.lm[2][0], self.lm[2][0], self.lm[2][1]]': [true, false],
    });
  });

  it('concatenates a list of the object into a list of CEL values, whose `in` asks the needle', () => {
    checkBoth({
      "['c', 'b', 'a'] in self.sets3": [true, true],
      "['c', 'b', 'a'] in (self.sets3 + [])": [true, false],
      "['a', 'b', 'c'] in (self.sets3 + [])": [true, true],
    });
  });

  it('follows the target version through the checker (castle validate --kubernetes-version)', () => {
    const schema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          'x-kubernetes-validations': [{ rule: 'self.tags == self.expected', message: 'tags must be the expected set' }],
          properties: { tags: set(), expected: { type: 'array', items: str } },
        },
      },
    };
    const root = convertSchema(schema);
    const run = (kubernetesVersion: string | undefined): string[] => {
      const chk = new StructuralChecker({ defs: {}, nullIsAbsent: false, evalCel: true, ...(kubernetesVersion ? { kubernetesVersion } : {}) });
      chk.checkObject(root, { spec: { tags: ['a', 'b'], expected: ['a', 'a'] } });
      return chk.errors.map((e) => e.message);
    };
    assert.deepEqual(run(undefined), []);
    assert.deepEqual(run('1.36.3'), []);
    assert.deepEqual(run('1.37.0'), ['spec: Invalid value: "object": tags must be the expected set']);
    assert.deepEqual(run('v1.38'), ['spec: Invalid value: "object": tags must be the expected set']);
  });
});
