import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withRetries } from '../../src/os/retry.js';

const backoff = { attempts: 4, firstMs: 1, maxMs: 4 };

test('withRetries: tries again while the result is retryable, reports each wait, returns the first result it does not take', async () => {
  const waits: [number, number][] = [];
  const r = await withRetries(async (n) => (n < 3 ? `busy ${n}` : `done ${n}`), {
    backoff,
    retryable: (r) => r.startsWith('busy'),
    onRetry: (_r, n, delay) => waits.push([n, delay]),
  });
  assert.equal(r, 'done 3');
  assert.deepEqual(waits, [
    [1, 1],
    [2, 2],
  ]);
});

test('withRetries: stops after the last attempt with its result, the waits doubling up to the cap', async () => {
  const delays: number[] = [];
  let calls = 0;
  const r = await withRetries(async (n) => ((calls = n), `busy ${n}`), {
    backoff: { ...backoff, attempts: 5 },
    retryable: () => true,
    onRetry: (_r, _n, d) => delays.push(d),
  });
  assert.equal(r, 'busy 5');
  assert.equal(calls, 5);
  assert.deepEqual(delays, [1, 2, 4, 4]);
});

test('withRetries: an aborted signal ends the waiting and returns the last result without another attempt', async () => {
  const ac = new AbortController();
  let calls = 0;
  const r = await withRetries(
    async () => {
      calls++;
      return 'busy';
    },
    { backoff: { attempts: 10, firstMs: 60_000, maxMs: 60_000 }, retryable: () => true, onRetry: () => ac.abort(), signal: ac.signal },
  );
  assert.equal(r, 'busy');
  assert.equal(calls, 1);
});
