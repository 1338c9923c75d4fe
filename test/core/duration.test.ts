import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatDurationCompact, parseDuration } from '../../src/core/duration.js';

test('formatDuration picks the unit a person would', () => {
  const cases: [number, string][] = [
    [0, '0ms'],
    [850, '850ms'],
    [999.4, '999ms'],
    [999.6, '1.0s'],
    [1000, '1.0s'],
    [12_340, '12.3s'],
    [59_940, '59.9s'],
    [59_960, '1m00.0s'],
    [62_300, '1m02.3s'],
    [600_000, '10m00.0s'],
    [3_599_949, '59m59.9s'],
    [3_599_960, '1h00m'],
    [3_720_000, '1h02m'],
    [5_400_000, '1h30m'],
    [36_000_000, '10h00m'],
    [-2_500, '-2.5s'],
    [Number.NaN, 'n/a'],
  ];
  for (const [ms, want] of cases) assert.equal(formatDuration(ms), want, `formatDuration(${ms})`);
});

test('formatDurationCompact writes budgets as they are typed', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [720_000, '12m'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_661_001, '1h1m1s1ms'],
  ];
  for (const [ms, want] of cases) assert.equal(formatDurationCompact(ms), want, `formatDurationCompact(${ms})`);
});

test('parseDuration reads the spec forms and plain seconds', () => {
  const cases: [string, number][] = [
    ['500ms', 500],
    ['90s', 90_000],
    ['12m', 720_000],
    ['1h30m', 5_400_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['12.5s', 12_500],
    ['1m02.3s', 62_300],
    ['.5s', 500],
    ['0', 0],
    ['90', 90_000],
    ['1.5', 1_500],
    ['  45s  ', 45_000],
  ];
  for (const [text, want] of cases) assert.equal(parseDuration(text), want, `parseDuration(${JSON.stringify(text)})`);
});

test('parseDuration rejects what it cannot read exactly', () => {
  const bad = [
    '',
    '   ',
    'abc',
    's',
    'ms',
    '10x',
    '-5s',
    '-5',
    '5 m',
    '1m1h',
    '30s1m',
    '1h1h',
    '1.2.3s',
    '1e3',
    '1e3s',
    'Infinity',
    '5S',
    '1h 30m',
    '1,5s',
    'm5',
  ];
  for (const text of bad) assert.equal(parseDuration(text), undefined, `parseDuration(${JSON.stringify(text)})`);
});

test('what formatDuration and formatDurationCompact write, parseDuration reads back', () => {
  for (const ms of [0, 850, 1_000, 12_300, 62_300, 754_100, 720_000, 5_400_000, 3_661_001]) {
    assert.equal(parseDuration(formatDurationCompact(ms)), ms, `compact ${ms}`);
    const approx = parseDuration(formatDuration(ms));
    assert.ok(approx !== undefined && Math.abs(approx - ms) <= 30_000, `formatDuration ${ms} -> ${approx}`);
  }
});
