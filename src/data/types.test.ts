import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../config/config.js';
import { createRegistry } from '../registry.js';
import { Service } from '../service.js';
import { DATA_TYPES, defineFactory } from '../component.js';
import { Graph } from '../graph.js';
import { llmCall } from '../../test/helpers/llm-call.js';
import { decodeRecord, encodeRecord } from '../storage/codec.js';
import { LLM_CALLS_TAG, llmCallsCodec } from '../storage/llm-calls-codec.js';
import { DATA_TYPE_INFO, RECORD_CODECS } from './types.js';

describe('data-type registry', () => {
  it('describes every data type under its own name', () => {
    assert.deepEqual(Object.keys(DATA_TYPE_INFO).sort(), [...DATA_TYPES].sort());
    for (const t of DATA_TYPES) assert.equal(DATA_TYPE_INFO[t].name, t);
    assert.deepEqual(
      DATA_TYPES.filter((t) => DATA_TYPE_INFO[t].durable),
      ['llm_calls', 'meter_events'],
    );
  });

  it('counts the items of a batch of its type, and nothing of another shape', () => {
    const calls = [llmCall(), llmCall()];
    assert.equal(DATA_TYPE_INFO.llm_calls.count(calls), 2);
    assert.equal(DATA_TYPE_INFO.meter_events.count([{ meterApiName: 'x', meterTimeInMillis: 1, meterValue: 1 }]), 1);
    assert.equal(DATA_TYPE_INFO.spans.count(calls), 0);
    assert.equal(DATA_TYPE_INFO.logs.count(calls), 0);
    assert.equal(DATA_TYPE_INFO.spans.count({ resourceSpans: [] }), 0);
  });

  it('gives each compact codec a tag of its own that is neither V8 format nor JSON text', () => {
    const tags = RECORD_CODECS.map((c) => c.tag);
    assert.equal(new Set(tags).size, tags.length);
    for (const t of tags) {
      assert.notEqual(t, 0xff);
      assert.throws(() => JSON.parse(Buffer.from([t, 0x31]).toString('latin1')), SyntaxError, `tag ${t} starts JSON text`);
    }
    assert.equal(DATA_TYPE_INFO.llm_calls.codec, llmCallsCodec);
  });

  it('writes a compact record only with the type given, never by guessing from the data', () => {
    const calls = [llmCall()];
    assert.equal(encodeRecord(calls)[0], 0xff, 'no codec: V8 format');
    const compact = encodeRecord(calls, DATA_TYPE_INFO.llm_calls.codec);
    assert.equal(compact[0], LLM_CALLS_TAG);
    assert.deepEqual(decodeRecord(compact), decodeRecord(encodeRecord(calls)));
  });

  it('places the write-ahead log before the first stage that receives a durable type', () => {
    assert.equal(Graph.walPosition(['spans', 'llm_calls', 'meter_events']), 1);
    assert.equal(Graph.walPosition(['llm_calls', 'llm_calls', 'meter_events'], [0]), 1);
    assert.equal(Graph.walPosition(['spans', 'spans']), -1);
  });

  it("gives each pipeline's log the codec of the type it logs", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'types-'));
    try {
      const p = join(dir, 'p.yaml');
      writeFileSync(
        p,
        `receivers:\n  calls_source: {}\nexporters:\n  debug: {}\nservice:\n  data_dir: ${join(dir, 'data')}\n  pipelines:\n    calls:\n      receivers: [calls_source]\n      exporters: [debug]\n`,
      );
      const registry = await createRegistry();
      // A receiver of LLM calls that is never started: only the graph is built.
      registry.register(
        defineFactory({
          kind: 'receiver',
          type: 'calls_source',
          description: 'Test receiver of LLM calls.',
          stability: 'development',
          produces: 'llm_calls',
          configSchema: { type: 'object', additionalProperties: false, properties: {} },
          defaultConfig: () => ({}),
          create: () => ({}),
        }),
        'test',
      );
      const { config, errors } = await loadConfig([p], registry, { env: {} });
      assert.deepEqual(errors, []);
      const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
      const wal = svc.graph.nodes.find((x) => x.id === 'wal' && x.pipeline === 'calls');
      assert.ok(wal, 'the pipeline has a log');
      assert.equal((wal.instance as unknown as { o: { codec?: unknown } }).o.codec, llmCallsCodec);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
