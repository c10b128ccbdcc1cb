import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError } from '../component.js';
import { meterRecord as rec } from '../../test/helpers/meter-record.js';
import { groupByRoute } from './routing.js';
import { DeliveryError, RetryableError, backoffDelay, parseRetryAfter, withRetry, type RetryPolicy } from './retry.js';
import { isActive, whenProblems } from './when.js';

describe('routing', () => {
  it('groups by dimension value; unknown or missing values go to the default route', () => {
    const rs = [rec(1, { dimensions: { bu: 'a' } }), rec(2, { dimensions: { bu: 'z' } }), rec(3), rec(4, { dimensions: { bu: 'a' } })];
    const g = groupByRoute(rs, { dimension: 'bu', routes: { a: {} } });
    assert.deepEqual(
      g.get('a')!.map((r) => r.uniqueId),
      ['u1', 'u4'],
    );
    assert.deepEqual(
      g.get(undefined)!.map((r) => r.uniqueId),
      ['u2', 'u3'],
    );
    assert.equal(groupByRoute(rs, undefined).get(undefined)!.length, 4);
  });
});

describe('when', () => {
  it('activates by value and rejects values outside allowed', () => {
    assert.equal(isActive(undefined), true);
    assert.equal(isActive({ value: 's3', in: ['s3'] }), true);
    assert.equal(isActive({ value: '', in: ['s3'] }), false);
    assert.deepEqual(
      whenProblems({ value: 's4', in: ['s3'], allowed: ['', 's3'] }).map((p) => p.path),
      ['when.value'],
    );
    assert.deepEqual(whenProblems({ value: '', in: ['s3'], allowed: ['', 's3'] }), []);
  });
});

const policy = (p: Partial<RetryPolicy> = {}): RetryPolicy => ({
  enabled: true,
  initialMs: 1,
  maxMs: 4,
  multiplier: 2,
  jitter: 0,
  maxElapsedMs: 10_000,
  attemptTimeoutMs: 0,
  ...p,
});

describe('withRetry', () => {
  it('retries transient failures with growing, capped backoff', async () => {
    const delays: number[] = [];
    let n = 0;
    const v = await withRetry(async () => (++n < 5 ? Promise.reject(new Error('boom')) : 'ok'), policy(), { onRetry: (_e, _a, d) => delays.push(d) });
    assert.equal(v, 'ok');
    assert.deepEqual(delays, [1, 2, 4, 4]);
  });

  it('jitter stays within [w(1-f), w(1+f)]', () => {
    const p = policy({ initialMs: 1000, maxMs: 1000, jitter: 0.5 });
    assert.equal(
      backoffDelay(p, 1, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(p, 1, () => 1),
      1500,
    );
  });

  it('honours Retry-After (at least that long) and gives up when it exceeds max elapsed time', async () => {
    const delays: number[] = [];
    let n = 0;
    await withRetry(async () => (++n === 1 ? Promise.reject(new RetryableError('429', 30)) : 'ok'), policy(), { onRetry: (_e, _a, d) => delays.push(d) });
    assert.deepEqual(delays, [30]);
    await assert.rejects(
      withRetry(() => Promise.reject(new RetryableError('429', 60_000)), policy({ maxElapsedMs: 1000 })),
      (e: Error) => e instanceof DeliveryError && !e.permanent && e.attempts === 1,
    );
  });

  it('never retries a PermanentError', async () => {
    let n = 0;
    await assert.rejects(
      withRetry(() => (n++, Promise.reject(new PermanentError('400'))), policy()),
      (e: Error) => e instanceof DeliveryError && e.permanent && e.cause instanceof PermanentError,
    );
    assert.equal(n, 1);
  });

  it('aborts an attempt at the per-attempt timeout and retries', async () => {
    let n = 0;
    const v = await withRetry(
      (signal) =>
        ++n === 1
          ? new Promise((_r, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))))
          : Promise.resolve('second'),
      policy({ attemptTimeoutMs: 20 }),
    );
    assert.equal(v, 'second');
    assert.equal(n, 2);
  });

  it('stops waiting when the stop signal fires', async () => {
    const stop = new AbortController();
    const p = withRetry(
      () => Promise.reject(new Error('down')),
      policy({ initialMs: 60_000, maxMs: 60_000, maxElapsedMs: 0 }),
      { onRetry: () => stop.abort() },
      stop.signal,
    );
    await assert.rejects(p, (e: Error) => e instanceof DeliveryError && /stopped/.test(e.message));
  });

  it('parses Retry-After in seconds and as an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
});
