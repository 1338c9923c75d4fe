// Whether a password is the one a PostgreSQL SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from, checked
// here so that `up` re-sets a user's password only when it differs: the verifier never leaves this process and the
// password is never sent. Hand-written (RFC 5802/7677, as PostgreSQL's scram_verify_plain_password) because pg's
// client exposes no verifier check; node:crypto does the PBKDF2 and HMAC.

import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';

/**
 * True when `verifier` (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`) was made from `password`.
 * False for any other form (md5, plain, none) and for passwords outside printable ASCII, whose SASLprep
 * normalisation PostgreSQL applies is not repeated here: the caller then sets the password again.
 */
export function scramVerifierMatches(verifier: string, password: string): boolean {
  if (!/^[\x20-\x7e]*$/.test(password)) return false;
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (!m) return false;
  const iterations = Number(m[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 1e7) return false;
  const salt = Buffer.from(m[2]!, 'base64');
  const storedKey = Buffer.from(m[3]!, 'base64');
  const serverKey = Buffer.from(m[4]!, 'base64');
  if (storedKey.length !== 32 || serverKey.length !== 32) return false;
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const stored = createHash('sha256').update(clientKey).digest();
  const server = createHmac('sha256', salted).update('Server Key').digest();
  return timingSafeEqual(stored, storedKey) && timingSafeEqual(server, serverKey);
}
