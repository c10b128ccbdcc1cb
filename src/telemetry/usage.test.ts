import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { MAX_USAGE_PAIRS, MeteredUsage, UsageWindow, meteredUsage } from './usage.js';

const MIN = 60_000;

describe('metered usage', () => {
  it('the last hour holds the minutes that ended in it; the last day all of them', () => {
    const u = new MeteredUsage();
    const t0 = Date.UTC(2026, 10, 1);
    const w = new UsageWindow(u, t0);
    u.add('a', 'm1', false, 100, 10);
    w.tick(t0 + MIN); // minute 1
    u.add('a', 'm1', true, 0, 0);
    u.add('b', 'm2', false, 50, 5);
    w.tick(t0 + 90 * MIN); // a minute closed 89 minutes later
    u.add('b', 'm1', false, 7, 1); // not yet in a closed minute
    const s = w.snapshot(t0 + 120 * MIN);
    assert.deepEqual(s.hour.total, { calls: 3, errors: 1, inputTokens: 57, outputTokens: 6 });
    assert.deepEqual(s.day.total, { calls: 4, errors: 1, inputTokens: 157, outputTokens: 16 });
    assert.deepEqual(
      s.day.byTeam.map((g) => [g.name, g.calls, g.inputTokens + g.outputTokens]),
      [
        ['a', 2, 110],
        ['b', 2, 63],
      ],
    );
    assert.deepEqual(
      s.hour.byModel.map((g) => [g.name, g.calls]),
      [
        ['m2', 1],
        ['m1', 2],
      ],
    );
    assert.equal(s.hour.coveredMinutes, 60);
  });

  it('counts (team, model) pairs beyond the limit as "(other)", and the metrics say the same', async () => {
    const registry = new Registry();
    const u = meteredUsage(registry);
    assert.equal(meteredUsage(registry), u, 'one accumulator per registry');
    for (let i = 0; i < MAX_USAGE_PAIRS + 5; i++) u.add(`t${i}`, null, false, 1, 0);
    assert.equal(u.totals.size, MAX_USAGE_PAIRS + 1);
    const text = await registry.metrics();
    assert.match(text, /^spanmeter_metered_calls_total\{team="\(other\)",model="\(other\)"\} 5$/m);
    assert.match(text, /^spanmeter_metered_calls_total\{team="t0",model="unknown"\} 1$/m);
    assert.match(text, /^spanmeter_metered_tokens_total\{team="t0",model="unknown",direction="in"\} 1$/m);
  });
});
