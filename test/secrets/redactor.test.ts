import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redactor } from '../../src/secrets/redactor.js';

test('redact masks registered values, longest first, and their base64 and URL-encoded forms', () => {
  const r = new Redactor();
  r.add('s3cr3t');
  r.add('s3cr3t-and-more');
  r.add('p@ss word');
  const out = r.redact(`a=s3cr3t-and-more b=s3cr3t c=${Buffer.from('s3cr3t').toString('base64')} d=${encodeURIComponent('p@ss word')}`);
  assert.equal(out, 'a=*** b=*** c=*** d=***');
});

test('multi-line secrets are masked whole and line by line, short lines are left alone', () => {
  const r = new Redactor();
  r.add('[global]\nrepo1-s3-key=AKIAEXAMPLE\n');
  assert.equal(r.redact('config: repo1-s3-key=AKIAEXAMPLE'), 'config: ***');
  assert.equal(r.redact('section [global] stays'), 'section [global] stays', '[global] is too short to be secret material');
});

test('empty and whitespace values are ignored; text without secrets is unchanged', () => {
  const r = new Redactor();
  r.add('');
  r.add('   ');
  r.add(undefined);
  assert.equal(r.size, 0);
  assert.equal(r.redact('nothing to hide'), 'nothing to hide');
  r.add('tok');
  assert.equal(r.redactError(new Error('bad tok given')), 'bad *** given');
});
