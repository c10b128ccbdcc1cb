import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Writable } from 'node:stream';
import type { LlmCall } from './llm-call.js';
import { checkLlmCall, DEFAULT_LLM_CALL_LIMITS, hashId } from './llm-call-checks.js';
import { LlmCallGate } from './llm-call-gate.js';
import { llmCall } from '../../test/helpers/llm-call.js';

const NOW = Date.UTC(2026, 5, 1);

/** The test helper's call, a minute before NOW, with `over` and `usage` on top. */
function call(over: Partial<LlmCall> = {}, usage: Partial<LlmCall['usage']> = {}): LlmCall {
  const startTimeMs = over.startTimeMs ?? NOW - 60_000;
  const base = llmCall();
  return llmCall({
    startTimeUnixNano: `${startTimeMs}000000`,
    endTimeUnixNano: `${startTimeMs + 1200}000000`,
    startTimeMs,
    durationMs: 1200,
    teamId: 'team-a',
    usage: { ...base.usage, ...usage },
    ...over,
  });
}

describe('checkLlmCall', () => {
  it('passes a normal call unchanged (the same object)', () => {
    const c = call();
    const r = checkLlmCall(c, DEFAULT_LLM_CALL_LIMITS, NOW);
    assert.ok(r.ok);
    assert.equal(r.call, c);
    assert.deepEqual(r.adjusted, []);
  });

  it('keeps years-old history: a backfill from 2001 still bills', () => {
    const r = checkLlmCall(call({ startTimeMs: Date.UTC(2001, 2, 3) }), DEFAULT_LLM_CALL_LIMITS, NOW);
    assert.ok(r.ok);
  });

  it('drops start times at epoch 0, before the window, in the far future, and not finite', () => {
    for (const startTimeMs of [0, Date.UTC(1999, 11, 31), NOW + 2 * 24 * 3600_000, 18446744073709, Number.NaN]) {
      const r = checkLlmCall(call({ startTimeMs }), DEFAULT_LLM_CALL_LIMITS, NOW);
      assert.ok(!r.ok, `start ${startTimeMs} dropped`);
      assert.equal(r.reason, 'time_out_of_range');
      assert.match(r.detail, /outside/);
    }
    assert.ok(checkLlmCall(call({ startTimeMs: NOW + 3600_000 }), DEFAULT_LLM_CALL_LIMITS, NOW).ok, 'an hour of clock skew is fine');
  });

  it('the window is configurable', () => {
    const limits = { ...DEFAULT_LLM_CALL_LIMITS, earliestMs: Date.UTC(2020, 0, 1) };
    const r = checkLlmCall(call({ startTimeMs: Date.UTC(2019, 0, 1) }), limits, NOW);
    assert.ok(!r.ok && r.reason === 'time_out_of_range');
  });

  it('clamps an absurd duration (an 18-trillion-ms latency, a negative one) and keeps the call', () => {
    const r = checkLlmCall(call({ durationMs: 18446744073709 }), DEFAULT_LLM_CALL_LIMITS, NOW);
    assert.ok(r.ok);
    assert.equal(r.call.durationMs, DEFAULT_LLM_CALL_LIMITS.maxDurationMs);
    assert.deepEqual(r.adjusted, ['duration_clamped']);
    assert.equal(BigInt(r.call.endTimeUnixNano) - BigInt(r.call.startTimeUnixNano), BigInt(DEFAULT_LLM_CALL_LIMITS.maxDurationMs) * 1_000_000n);
    const neg = checkLlmCall(call({ durationMs: -5 }), DEFAULT_LLM_CALL_LIMITS, NOW);
    assert.ok(neg.ok);
    assert.equal(neg.call.durationMs, 0);
  });

  it('drops negative, fractional, imprecise (int64 max) and enormous token counts', () => {
    const bad: Partial<LlmCall['usage']>[] = [{ promptTokens: -1 }, { completionTokens: 1.5 }, { totalTokens: 2 ** 63 }, { cachedReadTokens: 2e12 }, { reasoningTokens: Number.NaN }];
    for (const u of bad) {
      const r = checkLlmCall(call({}, u), DEFAULT_LLM_CALL_LIMITS, NOW);
      assert.ok(!r.ok, JSON.stringify(u));
      assert.equal(r.reason, 'invalid_tokens');
    }
    const n = checkLlmCall(call({ n: -2 }), DEFAULT_LLM_CALL_LIMITS, NOW);
    assert.ok(!n.ok && n.reason === 'invalid_count');
  });

  it('hashes a 15 MB id and over-long dimensions, stably, leaving the input untouched', () => {
    const huge = 'x'.repeat(15 * 1024 * 1024);
    const c = call({ id: huge, teamId: 't'.repeat(300) });
    const r = checkLlmCall(c, DEFAULT_LLM_CALL_LIMITS, NOW);
    assert.ok(r.ok);
    assert.equal(r.call.id, hashId(huge));
    assert.match(r.call.id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(r.call.teamId, hashId('t'.repeat(300)));
    assert.deepEqual(r.adjusted, ['id_hashed']);
    assert.equal(c.id.length, huge.length, 'input not modified');
    assert.equal(checkLlmCall(call({ id: 'y'.repeat(256) }), DEFAULT_LLM_CALL_LIMITS, NOW).ok && 'kept', 'kept');
  });
});

describe('LlmCallGate', () => {
  it('forwards good calls, drops bad ones with a reason metric and a log line', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, cb) => {
        lines.push(c.toString());
        cb();
      } }));
    const registry = new Registry();
    const got: LlmCall[][] = [];
    const gate = new LlmCallGate({ consume: async (x) => void got.push(x as LlmCall[]) }, DEFAULT_LLM_CALL_LIMITS, 'p', logger, registry);
    const now = Date.now();
    await gate.consume([
      call({ startTimeMs: now - 1000, id: 'a' }),
      call({ startTimeMs: 0, id: 'epoch' }),
      call({ startTimeMs: now - 1000, id: 'neg' }, { promptTokens: -3 }),
      call({ startTimeMs: now - 1000, id: 'z'.repeat(1000) }),
    ]);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.map((c) => c.id), ['a', hashId('z'.repeat(1000))]);
    const dropped = (await registry.getSingleMetric('spanmeter_llm_calls_dropped_total')!.get()).values;
    assert.deepEqual(dropped.map((v) => [v.labels.reason, v.value]).sort(), [['invalid_tokens', 1], ['time_out_of_range', 1]]);
    const adjusted = (await registry.getSingleMetric('spanmeter_llm_calls_adjusted_total')!.get()).values;
    assert.deepEqual(adjusted.map((v) => [v.labels.reason, v.value]), [['id_hashed', 1]]);
    assert.equal(lines.length, 2);
    assert.match(lines.join(''), /LLM call dropped \(time_out_of_range\)/);
    assert.match(lines.join(''), /LLM call dropped \(invalid_tokens\)/);

    // A batch of only bad calls is acknowledged without reaching downstream; the log is rate-limited.
    await gate.consume([call({ startTimeMs: 0 }), call({ startTimeMs: 1 })]);
    assert.equal(got.length, 1);
    assert.equal(lines.length, 2, 'no new line within the interval');
    const d2 = (await registry.getSingleMetric('spanmeter_llm_calls_dropped_total')!.get()).values.find((v) => v.labels.reason === 'time_out_of_range');
    assert.equal(d2?.value, 3, 'every drop counted');
  });
});
