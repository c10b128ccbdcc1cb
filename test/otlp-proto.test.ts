import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kvlist, newAttributes, type Attributes, type SpanBatch } from '../src/data/span.js';
import {
  OtlpDecodeError,
  decodeExportResponseProto,
  decodeOtlpJson,
  decodeOtlpProto,
  decodeRpcStatusProto,
  encodeExportResponseProto,
  encodeOtlpProto,
  encodeRpcStatusProto,
  toOtlpJson,
} from '../src/otlp/index.js';
import { otlpDescriptor } from '../src/otlp/proto/descriptor.generated.js';
import { descriptorFromProtoFiles } from '../src/otlp/proto/generate.js';
import { ExportTraceServiceRequest } from '../src/otlp/proto.js';

function attrs(entries: Record<string, Attributes[string]>): Attributes {
  return Object.assign(newAttributes(), entries);
}

/** A batch that uses every field and every AnyValue type, with edge values. */
function richBatch(): SpanBatch {
  const every = attrs({
    str: 'héllo ✓',
    empty_str: '',
    t: true,
    f: false,
    int: 42n,
    zero: 0n,
    neg: -7n,
    int_max: 9223372036854775807n,
    int_min: -9223372036854775808n,
    dbl: 3.25,
    dbl_zero: 0,
    dbl_neg: -1e-300,
    nan: NaN,
    inf: Infinity,
    bytes: new Uint8Array([0, 1, 254, 255]),
    empty_bytes: new Uint8Array(0),
    arr: ['a', 1n, 2.5, true, null, [1n, [2n]], kvlist([['k', 'v']])],
    empty_arr: [],
    kv: kvlist([
      ['nested', kvlist([['deep', 1n]])],
      ['list', ['x']],
    ]),
    empty_kv: kvlist([]),
    nothing: null,
  });
  return {
    resourceSpans: [
      {
        resource: { attributes: attrs({ 'service.name': 'litellm' }), droppedAttributesCount: 1 },
        schemaUrl: 'https://opentelemetry.io/schemas/1.25.0',
        scopeSpans: [
          {
            scope: { name: 'litellm', version: '1.81.0', attributes: attrs({ s: 1n }), droppedAttributesCount: 0 },
            schemaUrl: '',
            spans: [
              {
                traceId: '0af7651916cd43dd8448eb211c80319c',
                spanId: 'b7ad6b7169203331',
                traceState: 'congo=t61rcWkgMzE',
                parentSpanId: '00f067aa0ba902b7',
                flags: 0x301,
                name: 'litellm_request',
                kind: 3,
                startTimeUnixNano: 1764355422941051904n,
                endTimeUnixNano: 18446744073709551615n,
                attributes: every,
                droppedAttributesCount: 2,
                events: [
                  {
                    timeUnixNano: 1764355422941051905n,
                    name: 'exception',
                    attributes: attrs({ 'exception.type': 'RateLimitError' }),
                    droppedAttributesCount: 3,
                  },
                ],
                droppedEventsCount: 4,
                links: [
                  {
                    traceId: 'ffffffffffffffffffffffffffffffff',
                    spanId: '0000000000000001',
                    traceState: '',
                    attributes: attrs({ l: 'x' }),
                    droppedAttributesCount: 0,
                    flags: 1,
                  },
                ],
                droppedLinksCount: 5,
                status: { code: 2, message: 'boom' },
              },
              {
                traceId: '0af7651916cd43dd8448eb211c80319c',
                spanId: 'b7ad6b7169203332',
                traceState: '',
                parentSpanId: '',
                flags: 0,
                name: '',
                kind: 0,
                startTimeUnixNano: 0n,
                endTimeUnixNano: 0n,
                attributes: attrs({}),
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

describe('OTLP protobuf codec', () => {
  it('round-trips every field and every AnyValue type without loss', () => {
    const batch = richBatch();
    const back = decodeOtlpProto(encodeOtlpProto(batch));
    assert.deepStrictEqual(back, batch);
    const a = back.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
    assert.equal(typeof a.int, 'bigint');
    assert.equal(typeof a.dbl_zero, 'number', 'a double 0 stays a double');
    assert.equal(typeof a.zero, 'bigint', 'an int 0 stays an int');
    assert.ok(a.bytes instanceof Uint8Array);
  });

  it('agrees with the JSON codec (protobuf → SpanBatch → OTLP/JSON → SpanBatch)', () => {
    const batch = richBatch();
    // JSON cannot carry NaN/Infinity as numbers but OTLP/JSON writes them as strings; json.ts handles both.
    assert.deepStrictEqual(decodeOtlpJson(JSON.stringify(toOtlpJson(decodeOtlpProto(encodeOtlpProto(batch))))), batch);
  });

  it('decodes ids as lower-case hex and times as exact bigint nanoseconds', () => {
    const buf = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: Buffer.from('ABCDEF0123456789ABCDEF0123456789', 'hex'),
                    spanId: Buffer.from('FEDCBA9876543210', 'hex'),
                    startTimeUnixNano: '1764355422941051903',
                    endTimeUnixNano: '1764355422941051999',
                  },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const s = decodeOtlpProto(buf).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(s.traceId, 'abcdef0123456789abcdef0123456789');
    assert.equal(s.spanId, 'fedcba9876543210');
    assert.equal(s.startTimeUnixNano, 1764355422941051903n);
    assert.equal(s.endTimeUnixNano - s.startTimeUnixNano, 96n);
    assert.deepEqual(s.status, { code: 0, message: '' });
    assert.deepEqual(s.events, []);
  });

  it('replaces invalid UTF-8 with U+FFFD instead of refusing the request (as the JSON path does)', () => {
    const batch = richBatch();
    const sp = batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    sp.name = 'nameMARK';
    (sp.attributes as Record<string, unknown>).str = 'attrMARK';
    const buf = Buffer.from(encodeOtlpProto(batch));
    for (let i = buf.indexOf('MARK'); i >= 0; i = buf.indexOf('MARK', i + 1)) buf[i] = 0xff;
    const got = decodeOtlpProto(buf).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(got.name, 'name\ufffdARK');
    assert.equal(got.attributes.str, 'attr\ufffdARK');
  });

  it('decodes an empty body as an empty request', () => {
    assert.deepStrictEqual(decodeOtlpProto(new Uint8Array(0)), { resourceSpans: [] });
  });

  it('throws OtlpDecodeError on truncated, garbage and wrong-length-id input', () => {
    const full = encodeOtlpProto(richBatch());
    for (const cut of [1, 7, full.length >> 1, full.length - 1]) {
      assert.throws(() => decodeOtlpProto(full.subarray(0, cut)), OtlpDecodeError, `cut at ${cut}`);
    }
    assert.throws(() => decodeOtlpProto(Buffer.from('{"resourceSpans":[]}')), OtlpDecodeError);
    const badId = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(5), spanId: Buffer.alloc(8) }] }] }] }),
    ).finish();
    assert.throws(() => decodeOtlpProto(badId), /traceId: must be 16 bytes, got 5/);
  });

  it('encodes and decodes ExportTraceServiceResponse and google.rpc.Status with RetryInfo', () => {
    assert.equal(encodeExportResponseProto().length, 0);
    assert.deepEqual(decodeExportResponseProto(encodeExportResponseProto({ partialSuccess: { rejectedSpans: 3, errorMessage: 'x' } })), {
      partialSuccess: { rejectedSpans: 3, errorMessage: 'x' },
    });
    assert.deepEqual(decodeRpcStatusProto(encodeRpcStatusProto(8, 'full', 7)), { code: 8, message: 'full', retryAfterSeconds: 7 });
    assert.deepEqual(decodeRpcStatusProto(encodeRpcStatusProto(3, 'bad')), { code: 3, message: 'bad' });
  });

  it('the generated descriptor matches the vendored .proto files', () => {
    assert.deepStrictEqual(JSON.parse(JSON.stringify(descriptorFromProtoFiles())), JSON.parse(JSON.stringify(otlpDescriptor)));
  });
});
