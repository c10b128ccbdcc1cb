import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import { configOf } from '../../src/config/component-config.js';
import { ConditionError, parseCondition } from './condition.js';
import { validate } from './config.js';
import { FilterProcessor } from './filter.js';
import factory from './index.js';

const r = (meterApiName: string, meterValue: number, dims: Record<string, string | null> = {}): MeterRecord => ({
  dimensions: dims,
  meterApiName,
  meterTimeInMillis: 1,
  meterValue,
});

describe('filter conditions', () => {
  it('== and != on strings, numbers, null', () => {
    assert.equal(parseCondition('meterApiName == "llm_api_call_ms"')(r('llm_api_call_ms', 1)), true);
    assert.equal(parseCondition('meterApiName != "llm_api_call_ms"')(r('llm_api_call_ms', 1)), false);
    assert.equal(parseCondition('meterValue == 0')(r('x', 0)), true);
    assert.equal(parseCondition('dimensions.team == null')(r('x', 0)), true, 'absent is null');
    assert.equal(parseCondition('dimensions.team == null')(r('x', 0, { team: null })), true);
    assert.equal(parseCondition('dimensions.team == "t1"')(r('x', 0, { team: 't1' })), true);
    assert.equal(parseCondition('dimensions.limit == 500')(r('x', 0, { limit: '500' })), true, 'numeric strings compare as numbers');
  });

  it('in / not in, regex, numeric comparisons', () => {
    assert.equal(parseCondition('dimensions.type in ["in", "out"]')(r('x', 1, { type: 'in' })), true);
    assert.equal(parseCondition('dimensions.type not in ["in"]')(r('x', 1, { type: 'in' })), false);
    assert.equal(parseCondition('meterApiName =~ "^llm_.*_ms$"')(r('llm_api_call_ms', 1)), true);
    assert.equal(parseCondition('meterApiName !~ "^aflo\\\\."')(r('aflo.object_metadata', 1)), false);
    assert.equal(parseCondition('meterValue < 10')(r('x', 9)), true);
    assert.equal(parseCondition('meterValue >= 10')(r('x', 9)), false);
    assert.equal(parseCondition('dimensions.user > 1')(r('x', 9, { user: 'abc' })), false, 'non-numbers never compare');
  });

  it('clear errors for what it cannot read', () => {
    const msg = (c: string) => {
      try {
        parseCondition(c);
      } catch (e) {
        assert.ok(e instanceof ConditionError);
        return e.message;
      }
      assert.fail(`${c} should be rejected`);
    };
    assert.match(msg('meterApiName = "x"'), /cannot read condition/);
    assert.match(msg('meterApiName == llm_api_call'), /quote strings: meterApiName == "llm_api_call"/);
    assert.match(msg('name == "x"'), /unknown field "name"/);
    assert.match(msg('meterValue in 3'), /needs a JSON array/);
    assert.match(msg('meterValue =~ "("'), /bad regular expression/);
    assert.match(msg('meterValue < "a"'), /compares numbers/);
    assert.match(msg('meterValue == '), /missing value|cannot read/);
  });
});

describe('filter processor', () => {
  it('drops on any drop condition, keeps only records matching all keep conditions, counts drops', async () => {
    const metrics = new ServiceMetrics('t', { processMetrics: false });
    const got: MeterRecord[][] = [];
    const config = configOf(factory, { drop: ['meterApiName == "llm_api_call_ms"'], keep: ['meterValue > 0'] });
    const p = factory.create(
      {
        id: 'filter',
        pipeline: 'p',
        config,
        logger: pino({ level: 'silent' }),
        registry: metrics.registry,
        metrics: metrics.forComponent('processor', 'filter', 'p'),
        dataDir: '/x',
        instanceId: 'i',
      },
      { consume: async (rs: MeterRecord[]) => void got.push(rs) },
    );
    await p.consume([r('llm_api_call', 1), r('llm_api_call_ms', 30), r('llm_text_tokens', 0)]);
    await p.consume([r('llm_api_call_ms', 1)]);
    assert.deepEqual(got, [[r('llm_api_call', 1)]]);
    const dropped = (await metrics.core.processorDropped.get()).values.reduce((n, v) => n + v.value, 0);
    assert.equal(dropped, 3);
  });

  it('validate reports each bad condition with its index; the loader refuses them', () => {
    assert.deepEqual(
      validate({ drop: ['ok == 1', 'meterValue > 1'], keep: ['x'] }).map((p) => p.path),
      ['drop.0', 'keep.0'],
    );
    assert.throws(
      () => configOf(factory, { keep: ['meterValue > 1', 'meterApiName == llm_api_call'] }),
      /keep\.1: value llm_api_call is not a JSON value; quote strings/,
    );
  });

  it('with the defaults (no conditions) hands every record on and sends nothing for an empty batch', async () => {
    const metrics = new ServiceMetrics('t', { processMetrics: false });
    const got: MeterRecord[][] = [];
    const p = new FilterProcessor(
      configOf(factory),
      { metrics: metrics.forComponent('processor', 'filter', 'p') },
      { consume: async (rs: MeterRecord[]) => void got.push(rs) },
    );
    const batch = [r('llm_api_call', 1), r('llm_text_tokens', 0)];
    await p.consume(batch);
    await p.consume([]);
    assert.deepEqual(got, [batch]);
    assert.equal((await metrics.core.processorDropped.get()).values.length, 0, 'nothing dropped');
  });
});
