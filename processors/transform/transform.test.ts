import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatError, loadConfig } from '../../src/config/config.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { ComponentRegistry } from '../../src/registry.js';
import { configOf } from '../../src/config/component-config.js';
import { registerTestComponents } from '../../test/helpers/components.js';
import factory from './index.js';
import { apply } from './ops.js';
import { TransformProcessor } from './transform.js';

/** Operations as written in pipeline.yaml, resolved as the processor receives them. */
const resolved = (operations: Record<string, unknown>[]) => configOf(factory, { operations }).operations;

const rec = (): MeterRecord => ({
  dimensions: { business_unit_id: 'bu-1', team: 't1', user: 'alice' },
  meterApiName: 'llm_text_tokens',
  meterTimeInMillis: 1000,
  meterValue: 42,
  uniqueId: 'id-1',
});

describe('transform operations', () => {
  it('set with a literal, with {{references}}, with from, and if_missing', () => {
    const ops = resolved([
      { set: 'env', value: 'eu' },
      { set: 'label', value: '{{dimensions.team}}/{{meterApiName}}:{{meterValue}}' },
      { set: 'copy', from: 'uniqueId' },
      { set: 'missing', from: 'dimensions.nope' },
      { set: 'user', value: 'bob', if_missing: true },
      { set: 'region', value: 'x', if_missing: true },
    ]);
    const input = rec();
    const out = apply(ops, input);
    assert.deepEqual(out.dimensions, {
      business_unit_id: 'bu-1',
      copy: 'id-1',
      env: 'eu',
      label: 't1/llm_text_tokens:42',
      missing: null,
      region: 'x',
      team: 't1',
      user: 'alice',
    });
    assert.deepEqual(Object.keys(out.dimensions), Object.keys(out.dimensions).sort(), 'keys stay sorted');
    assert.deepEqual(input, rec(), 'the input record is not modified');
  });

  it('rename and delete (one or several), scoped by meters', () => {
    const ops = resolved([
      { rename: 'user', to: 'end_user' },
      { delete: ['team', 'absent'], meters: ['llm_api_call'] },
      { delete: 'business_unit_id', meters: ['llm_text_tokens'] },
    ]);
    assert.deepEqual(apply(ops, rec()).dimensions, { end_user: 'alice', team: 't1' });
    assert.deepEqual(apply(ops, { ...rec(), meterApiName: 'llm_api_call' }).dimensions, { business_unit_id: 'bu-1', end_user: 'alice' });
  });

  it('unchanged records keep their dimensions object', () => {
    const r = rec();
    assert.equal(apply(resolved([{ rename: 'zzz', to: 'y' }]), r).dimensions, r.dimensions);
  });
});

describe('transform processor', () => {
  it('hands each batch on transformed, leaving the input records as they were', async () => {
    const got: MeterRecord[][] = [];
    const p = new TransformProcessor(configOf(factory, { operations: [{ set: 'env', value: 'eu' }, { delete: 'user' }] }), {
      consume: async (rs: MeterRecord[]) => void got.push(rs),
    });
    const input = [rec(), { ...rec(), meterApiName: 'llm_api_call', meterValue: 1 }];
    await p.consume(input);
    assert.deepEqual(got.length, 1);
    assert.deepEqual(
      got[0]!.map((r) => r.dimensions),
      [
        { business_unit_id: 'bu-1', env: 'eu', team: 't1' },
        { business_unit_id: 'bu-1', env: 'eu', team: 't1' },
      ],
    );
    assert.deepEqual(input[0], rec());
  });

  it('without operations (the default) hands the batch on as it is', async () => {
    const got: MeterRecord[][] = [];
    const p = new TransformProcessor(configOf(factory), { consume: async (rs: MeterRecord[]) => void got.push(rs) });
    const input = [rec()];
    await p.consume(input);
    assert.equal(got[0], input);
  });
});

describe('transform config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spanmeter-transform-'));
  async function errorsFor(ops: string): Promise<string[]> {
    const p = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      p,
      `receivers:\n  test_source:\nprocessors:\n  transform:\n    operations:\n${ops}\nexporters:\n  test_capture:\nservice:\n  pipelines:\n    m:\n      receivers: [test_source]\n      processors: [transform]\n      exporters: [test_capture]\n`,
    );
    const r = new ComponentRegistry();
    registerTestComponents(r);
    r.register(factory);
    return (await loadConfig([p], r, { env: {} })).errors.map(formatError);
  }

  it('accepts valid operations', async () => {
    assert.deepEqual(
      await errorsFor(`      - set: env\n        value: "{{dimensions.team}}"\n      - rename: user\n        to: u\n      - delete: [a, b]`),
      [],
    );
  });

  it('reports bad references and malformed operations with their path', async () => {
    const e1 = await errorsFor(`      - set: env\n        value: "{{dimension.team}}"`);
    assert.ok(
      e1.some((l) => l.includes('operations.0.value') && l.includes('"dimension.team" is not a record field')),
      e1.join('\n'),
    );
    const e2 = await errorsFor(`      - set: env\n        value: a\n        from: uniqueId`);
    assert.ok(
      e2.some((l) => l.includes('set needs exactly one of value or from')),
      e2.join('\n'),
    );
    const e3 = await errorsFor(`      - rename: user`);
    assert.ok(
      e3.some((l) => l.includes('operations.0.to') && l.includes('is required with rename')),
      e3.join('\n'),
    );
    const e4 = await errorsFor(`      - set: env\n        value: "{{meterApiName"`);
    assert.ok(
      e4.some((l) => l.includes('unbalanced')),
      e4.join('\n'),
    );
    const e5 = await errorsFor(`      - set: env\n        value: a\n        to: b`);
    assert.ok(
      e5.some((l) => l.includes('operations.0.to') && l.includes('is not a key of a set operation')),
      e5.join('\n'),
    );
    const e6 = await errorsFor(`      - delete: a\n        rename: b\n        to: c`);
    assert.ok(
      e6.some((l) => l.includes('has rename and delete')),
      e6.join('\n'),
    );
    const e7 = await errorsFor(`      - meters: [llm_api_call]`);
    assert.ok(
      e7.some((l) => l.includes('needs one of set, rename, delete')),
      e7.join('\n'),
    );
  });
});
