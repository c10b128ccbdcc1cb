import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, sleep } from './backoff.js';

test('backoffDelay: without jitter the wait doubles from initialMs and stops at maxMs', () => {
  const p = { initialMs: 50, maxMs: 2000, multiplier: 2, jitter: 0 };
  const waits = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(p, n));
  assert.deepEqual(waits, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
});

test('backoffDelay: jitter spreads the wait over [w·(1-j), w·(1+j)]', () => {
  const p = { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.5 };
  assert.equal(
    backoffDelay(p, 3, () => 0),
    2000,
  );
  assert.equal(
    backoffDelay(p, 3, () => 0.5),
    4000,
  );
  assert.equal(
    backoffDelay(p, 3, () => 1),
    6000,
  );
});

test('sleep: resolves after the wait, rejects at once when the signal aborts', async () => {
  await sleep(1);
  const ctl = new AbortController();
  const started = Date.now();
  const waiting = sleep(60_000, ctl.signal);
  ctl.abort(new Error('stopped'));
  await assert.rejects(waiting, /stopped/);
  assert.ok(Date.now() - started < 10_000);
  await assert.rejects(sleep(1, ctl.signal), /stopped/);
});
