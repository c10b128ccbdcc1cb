import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { delayStats, EVENT_LOOP_DELAY_STATS, registerEventLoopDelay } from './eventloop.js';
import { EVENT_LOOP_METRICS } from './metadata.js';
import { ServiceMetrics } from './metrics.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The value of an unlabelled gauge in the text exposition. */
function value(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} is missing from\n${text}`);
  return Number(m[1]);
}

describe('event-loop delay gauges', () => {
  it('subtract the sampling interval from what the histogram holds, never below 0, and say nothing without samples', () => {
    const ms = 1e6; // ns
    const h = {
      count: 4,
      min: 99 * ms,
      max: 350 * ms,
      mean: 120 * ms,
      stddev: 3 * ms,
      percentile: (p: number) => (p === 50 ? 101 * ms : p === 90 ? 110 * ms : 300 * ms),
    };
    const s = delayStats(h, 100)!;
    assert.equal(s.min, 0); // a timer that fired a little early is not negative delay
    assert.ok(Math.abs(s.max - 0.25) < 1e-9);
    assert.ok(Math.abs(s.mean - 0.02) < 1e-9);
    assert.ok(Math.abs(s.stddev - 0.003) < 1e-9); // a spread: nothing subtracted
    assert.ok(Math.abs(s.p50 - 0.001) < 1e-9);
    assert.ok(Math.abs(s.p90 - 0.01) < 1e-9);
    assert.ok(Math.abs(s.p99 - 0.2) < 1e-9);
    assert.equal(delayStats({ ...h, count: 0 }, 100), null);
  });

  it('read ~0 on an idle loop and the length of a block after one', async () => {
    const registry = new Registry();
    const stop = registerEventLoopDelay(registry, 20);
    try {
      await sleep(300);
      let text = await registry.metrics();
      // prom-client's own gauges read at least the interval (20 ms) here, even the minimum.
      assert.ok(value(text, 'spanmeter_nodejs_eventloop_lag_min_seconds') < 0.01, text);
      assert.ok(value(text, 'spanmeter_nodejs_eventloop_lag_p50_seconds') < 0.02, text);

      // Node does not record the first interval after a reset (the scrape's): block the loop for
      // 150 ms after a few samples.
      await sleep(60);
      const until = performance.now() + 150;
      while (performance.now() < until);
      await sleep(100);
      text = await registry.metrics();
      const max = value(text, 'spanmeter_nodejs_eventloop_lag_max_seconds');
      assert.ok(max >= 0.11 && max < 5, `max ${max} after a 150 ms block`);
      // Each scrape starts a new window: the block is not reported twice.
      await sleep(200);
      text = await registry.metrics();
      assert.ok(value(text, 'spanmeter_nodejs_eventloop_lag_max_seconds') < 0.1, text);
    } finally {
      stop();
    }
  });

  it("replace prom-client's gauges of the same names in the service's registry, once each", async () => {
    const m = new ServiceMetrics('test');
    try {
      await sleep(250);
      const text = await m.registry.metrics();
      for (const stat of EVENT_LOOP_DELAY_STATS) {
        const { name } = EVENT_LOOP_METRICS[stat];
        assert.equal(text.split('\n').filter((l) => l === `# TYPE ${name} gauge`).length, 1, name);
        assert.match(text, new RegExp(`^# HELP ${name} .* since the last scrape`, 'm'));
      }
      assert.ok(value(text, 'spanmeter_nodejs_eventloop_lag_min_seconds') < 0.05, text);
      // prom-client's setImmediate lag stays.
      assert.match(text, /^spanmeter_nodejs_eventloop_lag_seconds \S+$/m);
    } finally {
      m.close();
    }
  });
});
