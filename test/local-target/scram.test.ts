import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scramVerifierMatches } from '../../src/targets/local/scram.js';

// Made by PostgreSQL 15.18 (password_encryption scram-sha-256, its default):
//   CREATE ROLE castle_test LOGIN PASSWORD 'Castle-test-pw 1'; SELECT rolpassword FROM pg_authid WHERE rolname = 'castle_test';
const VERIFIER = 'SCRAM-SHA-256$4096:VOkPNXnhm/pmSILYcniwNA==$33b3Zg8ecmwR/HCHl4uJgCjX242ci6aX0cOkMMHWZTI=:Un1xwJJ6y9Ru6E0AIPywAvyyVgJlf5/qwkJN4aNZCt0=';

test('a PostgreSQL SCRAM verifier matches the password it was made from, and no other', () => {
  assert.equal(scramVerifierMatches(VERIFIER, 'Castle-test-pw 1'), true);
  for (const other of ['Castle-test-pw 2', 'castle-test-pw 1', 'Castle-test-pw 1 ', '', 'Castle-test-pw'])
    assert.equal(scramVerifierMatches(VERIFIER, other), false, `'${other}' must not match`);
});

test('what is not a SCRAM-SHA-256 verifier never matches: the password is set again', () => {
  // an md5 verifier of the same password (password_encryption = md5), a plain text one, a truncated key, no verifier
  for (const v of ['md5a6f0b2c1f7b8c7e2e1c7b9a3b5d4e6f1', 'Castle-test-pw 1', VERIFIER.slice(0, -8), VERIFIER.replace('4096', '0'), ''])
    assert.equal(scramVerifierMatches(v, 'Castle-test-pw 1'), false, v);
  // outside printable ASCII PostgreSQL normalises the password (SASLprep) first: not repeated here, so never a match
  assert.equal(scramVerifierMatches(VERIFIER, 'Castle-test-pw 1\u00a0'), false);
});
