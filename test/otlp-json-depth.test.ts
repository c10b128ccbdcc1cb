/**
 * Deeply nested OTLP/JSON: the same depth limit as OTLP/protobuf (100 nested messages), answered
 * 400 with a one-line reason and counted, never a 500 or a stack overflow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AttrValue, SpanBatch } from '../src/data/span.js';
import { newAttributes } from '../src/data/span.js';
import { decodeOtlpJson, decodeOtlpProto, encodeOtlpProto, OtlpDecodeError, toOtlpJson } from '../src/otlp/index.js';
import { metricValue, request, startTestReceiver, type TestReceiver } from '../receivers/otlp/testing.js';

/** A batch with one span whose attribute `deep` is an array nested `levels` times. */
function nestedBatch(levels: number): SpanBatch {
  let v: AttrValue = 'leaf';
  for (let i = 0; i < levels; i++) v = [v];
  const attributes = newAttributes();
  attributes.deep = v;
  return {
    resourceSpans: [
      {
        resource: { attributes: newAttributes(), droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeSpans: [
          {
            scope: { name: 's', version: '', attributes: newAttributes(), droppedAttributesCount: 0 },
            schemaUrl: '',
            spans: [
              {
                traceId: '0123456789abcdef0123456789abcdef',
                spanId: '0123456789abcdef',
                traceState: '',
                parentSpanId: '',
                flags: 0,
                name: 'x',
                kind: 1,
                startTimeUnixNano: 1n,
                endTimeUnixNano: 2n,
                attributes,
                droppedAttributesCount: 0,
                events: [],
                droppedEventsCount: 0,
                links: [],
                droppedLinksCount: 0,
                status: { code: 0, message: '' },
              },
            ],
          },
        ],
      },
    ],
  };
}

/** The raw JSON text of an attribute nested `levels` arrays deep (built as text: no recursion). */
function deepJsonText(levels: number): string {
  const open = '{"arrayValue":{"values":['.repeat(levels);
  const close = ']}}'.repeat(levels);
  return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"x","attributes":[{"key":"deep","value":${open}{"stringValue":"leaf"}${close}}]}]}]}]}`;
}

const accepted = (f: () => unknown): boolean | string => {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof OtlpDecodeError || /max depth/.test((e as Error).message)) return false;
    return (e as Error).message;
  }
};

describe('OTLP/JSON nesting depth', () => {
  it('accepts and refuses exactly the depths protobuf does', () => {
    let boundary = -1;
    for (let levels = 40; levels <= 52; levels++) {
      const b = nestedBatch(levels);
      const pb = accepted(() => decodeOtlpProto(encodeOtlpProto(b)));
      const json = accepted(() => decodeOtlpJson(JSON.stringify(toOtlpJson(b))));
      assert.equal(json, pb, `${levels} nested arrays: JSON ${json}, protobuf ${pb}`);
      if (pb === false && boundary < 0) boundary = levels;
    }
    assert.ok(boundary > 40, `a boundary was crossed in the range (first refused at ${boundary})`);
  });

  it('refuses 5,000 and 100,000 levels with a one-line reason, without a stack overflow', () => {
    for (const levels of [5_000, 100_000]) {
      assert.throws(
        () => decodeOtlpJson(deepJsonText(levels)),
        (e: Error) => e instanceof OtlpDecodeError && /max depth exceeded/.test(e.message) && !e.message.includes('\n'),
      );
    }
  });

  describe('over HTTP', () => {
    let r: TestReceiver;
    before(async () => (r = await startTestReceiver({ protocols: { grpc: { enabled: false } } })));
    after(() => r.stop());

    it('answers 400 with the reason, counted as bad_request', async () => {
      for (const levels of [5_000, 100_000]) {
        const res = await request(`${r.httpBase}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: deepJsonText(levels) });
        assert.equal(res.status, 400);
        const body = JSON.parse(res.body.toString()) as { code: number; message: string };
        assert.equal(body.code, 3);
        assert.match(body.message, /nested more than 100 messages deep/);
      }
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_requests_total', { outcome: 'bad_request', transport: 'http' }), 2);
      assert.equal(r.next.batches.length, 0);
    });
  });
});
