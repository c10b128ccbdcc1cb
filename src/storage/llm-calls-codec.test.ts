import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import type { LlmCall } from '../data/llm-call.js';
import { llmCall } from '../../test/helpers/llm-call.js';
import { decodeRecord, encodeRecord, recordMemoryBytes } from './codec.js';
import { LLM_CALLS_TAG, decodeLlmCalls, encodeLlmCalls, llmCallsCodec } from './llm-calls-codec.js';

/** A call with every kind of field filled: ids, a model id, a key hash, nested metadata, a cost. */
function call(over: Partial<LlmCall> = {}): LlmCall {
  return llmCall({
    traceId: '000000014c721c77d71f4e3f65a45a98',
    spanId: '59ee87ba88a176ce',
    modelId: 'a1b2',
    keyHash: 'e81624a1cf7a20164f808bcbe2b8b649c8a89a54000000000000000000000000',
    keyMetadata: { business_unit_id: 'bu-0', nested: { list: [1, 'two', null, true], n: -0.5 } },
    teamId: 'team-0',
    responseCost: 0.0001,
    stream: false,
    ...over,
  });
}

/** Equal values and the same key order everywhere (JSON shows the order; deepStrictEqual does not check it). */
function assertSame(actual: unknown, expected: unknown): void {
  assert.deepStrictEqual(actual, expected);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected));
}

const str = fc.oneof(fc.constant(null), fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('gpt-4o', 'openai', 'team-1'));
const num = fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double(), fc.constantFrom(-0, 2 ** 31, -1, Number.MAX_SAFE_INTEGER));
const json = fc.jsonValue() as fc.Arbitrary<unknown>;
const dict = fc.oneof(fc.constant(null), fc.dictionary(fc.string(), json, { noNullPrototype: true }));
const arbCall: fc.Arbitrary<LlmCall> = fc.record(
  {
    source: fc.constantFrom('span' as const, 'slo' as const),
    layout: str,
    id: fc.string(),
    callId: str,
    traceId: str,
    spanId: str,
    startTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
    endTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
    startTimeMs: num,
    durationMs: num,
    callType: str,
    model: str,
    provider: str,
    modelMapKey: str,
    modelMapProvider: str,
    modelId: str,
    modelGroup: str,
    apiBase: str,
    region: str,
    batch: fc.boolean(),
    n: fc.oneof(fc.constant(null), num),
    usage: fc.record(
      { promptTokens: num, completionTokens: num, totalTokens: num, cachedReadTokens: num, cacheCreationTokens: num, reasoningTokens: num },
      { noNullPrototype: true },
    ),
    keyHash: str,
    keyAlias: str,
    keyMetadata: dict,
    teamId: str,
    teamAlias: str,
    teamMetadata: dict,
    userId: str,
    orgId: str,
    endUser: str,
    error: fc.oneof(
      fc.constant(null),
      fc.record(
        { type: str, code: str, message: str, provider: str, traceback: str, limitSubject: str, limitRate: str, limitValue: str, guardrail: str },
        { noNullPrototype: true },
      ),
    ),
    guardrails: fc.oneof(fc.constant(null), fc.array(json)),
    requestTags: fc.oneof(fc.constant(null), fc.array(fc.string())),
    responseCost: fc.oneof(fc.constant(null), num),
    stream: fc.constantFrom(null, true, false),
    droppedAttributes: num,
  },
  { noNullPrototype: true },
);

describe('llm_calls log records', () => {
  it('round-trip any LlmCall exactly, in the compact format (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { minLength: 1, maxLength: 8 }), (calls) => {
        const bytes = encodeRecord(calls, llmCallsCodec);
        assert.equal(bytes[0], LLM_CALLS_TAG);
        assertSame(decodeRecord(bytes), calls);
      }),
      { numRuns: 1500 },
    );
  });

  it('are a fraction of V8 format, and the decoded calls share repeated strings', () => {
    const calls = Array.from({ length: 170 }, (_, i) => call({ id: `chatcmpl-${i}`, spanId: String(i).padStart(16, '0') }));
    const compact = encodeRecord(calls, llmCallsCodec);
    const v8 = serialize(calls);
    assert.ok(compact.length * 3 < v8.length, `${compact.length} bytes against V8's ${v8.length}`);
    const back = decodeRecord(compact) as LlmCall[];
    assertSame(back, calls);
    assert.equal(back[0]!.keyHash, back[169]!.keyHash);
    assert.notEqual(back[0]!.keyMetadata, back[1]!.keyMetadata, 'objects are not shared: a consumer may change one');
  });

  it('fall back to V8 format for a call that does not fit exactly (as before this format)', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    class Meta {
      x = 1;
    }
    const odd: Array<[string, unknown[]]> = [
      ['an extra key', [{ ...call(), extra: 1 }]],
      ['a missing key', [(({ region: _r, ...rest }) => rest)(call())]],
      ['undefined for null', [call({ model: undefined as unknown as null })]],
      ['a bigint in metadata', [call({ keyMetadata: { budget: 10n } })]],
      ['undefined in metadata', [call({ keyMetadata: { gone: undefined } })]],
      ['a lone surrogate', [call({ keyAlias: 'ab\ud800' })]],
      ['a lone surrogate in a metadata key', [call({ keyMetadata: { '\udc00': 1 } })]],
      ['a cycle', [call({ keyMetadata: cyclic })]],
      ['a class instance', [call({ keyMetadata: new Meta() as unknown as Record<string, unknown> })]],
      ['a Map', [call({ guardrails: [new Map([[1, 2]])] })]],
      // eslint-disable-next-line no-sparse-arrays -- the hole is the case under test
      ['a sparse array', [call({ guardrails: [1, , 3] })]],
      ['a non-string tag', [call({ requestTags: [1 as unknown as string] })]],
      ['a string number', [call({ durationMs: '5' as unknown as number })]],
      ['an unknown source', [call({ source: 'other' as 'span' })]],
      ['a second call that does not fit', [call(), call({ usage: { ...call().usage, extra: 1 } as LlmCall['usage'] })]],
    ];
    for (const [why, calls] of odd) {
      assert.equal(encodeLlmCalls(calls), null, why);
      const bytes = encodeRecord(calls, llmCallsCodec);
      assert.equal(bytes[0], 0xff, why);
      // What V8 format gives (a class instance comes back as a plain object there too).
      assert.deepStrictEqual(decodeRecord(bytes), deserialize(serialize(calls)), why);
    }
  });

  it('keep "__proto__" as an own key, as V8 format does', () => {
    const meta = JSON.parse('{"__proto__": {"x": 1}, "a": 2}') as Record<string, unknown>;
    const calls = [call({ keyMetadata: meta })];
    const back = decodeRecord(encodeRecord(calls, llmCallsCodec)) as LlmCall[];
    assert.deepEqual(Object.keys(back[0]!.keyMetadata!), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(back[0]!.keyMetadata), Object.prototype);
    assertSame(back, calls);
  });

  it('give back small integers as small integers, so decoded calls share the hidden classes of new ones', () => {
    // A decoded number stored as a heap number where the span conversion's objects hold small
    // integers would make V8 generalise their shared hidden class and deprecate the one their
    // literals use (then every new call is migrated at its first read). V8's own view, in a child.
    const codec = new URL('./llm-calls-codec.js', import.meta.url).href;
    const script = `
      const { encodeLlmCalls, decodeLlmCalls } = await import(${JSON.stringify(codec)});
      const usage = (p) => ({ promptTokens: p, completionTokens: 2, totalTokens: p + 2, cachedReadTokens: 0, cacheCreationTokens: 0, reasoningTokens: 0 });
      const before = usage(11);
      const call = JSON.parse(process.argv[1]);
      call.usage = usage(4000);
      call.droppedAttributes = 0;
      const [back] = decodeLlmCalls(encodeLlmCalls([call]));
      const after = usage(12);
      console.log(JSON.stringify([%HaveSameMap(before, after), %HaveSameMap(after, back.usage)]));
    `;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script, JSON.stringify(call())], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [true, true]);
  });

  it('throw on damaged bytes rather than return other calls', () => {
    const bytes = encodeLlmCalls([
      call(),
      call({
        id: 'x',
        error: { type: 'E', code: '429', message: 'm', provider: 'p', traceback: 't', limitSubject: null, limitRate: null, limitValue: null, guardrail: null },
      }),
    ])!;
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeLlmCalls(bytes.subarray(0, n)), RangeError, `cut at ${n}`);
    assert.throws(() => decodeLlmCalls(Buffer.concat([bytes, Buffer.from([0])])), /trailing bytes/);
    const newer = Buffer.from(bytes);
    newer[1] = 3;
    assert.throws(() => decodeLlmCalls(newer), /format version 3 is not one this build reads/);
  });

  it('count the memory of the calls they hold, not their bytes', () => {
    const calls = Array.from({ length: 100 }, () => call());
    const compact = encodeRecord(calls, llmCallsCodec);
    assert.equal(recordMemoryBytes(compact), 100 * 1024);
    const v8 = serialize([{ a: 1 }]);
    assert.equal(recordMemoryBytes(v8), v8.length);
  });

  it('round-trip records larger than the writer buffer, and smaller ones after them', () => {
    // Distinct multi-byte texts (3 bytes per character in UTF-8): ~6 MB, past the 256 KiB buffer
    // and the 4 MiB beyond which it is not kept.
    const big = Array.from({ length: 2000 }, (_, i) =>
      call({
        id: `chatcmpl-${i}`,
        error: {
          type: 'E',
          code: '500',
          message: `€${i}`,
          provider: 'p',
          traceback: `${i}:` + '€'.repeat(1000),
          limitSubject: null,
          limitRate: null,
          limitValue: null,
          guardrail: null,
        },
      }),
    );
    const bytes = encodeRecord(big, llmCallsCodec);
    assert.equal(bytes[0], LLM_CALLS_TAG);
    assert.ok(bytes.length > 5_000_000, `${bytes.length} bytes`);
    assertSame(decodeRecord(bytes), big);
    // Each payload is its own copy, not the writer's buffer, which the next record reuses.
    const medium = big.slice(0, 100);
    const mediumBytes = encodeRecord(medium, llmCallsCodec);
    const small = [call()];
    assertSame(decodeRecord(encodeRecord(small, llmCallsCodec)), small);
    assertSame(decodeRecord(mediumBytes), medium);
    assertSame(decodeRecord(bytes), big);
  });

  it('do not stop earlier logs being read: calls an earlier version wrote in V8 format still decode', () => {
    const calls = [
      call(),
      call({
        id: 'chatcmpl-2',
        error: {
          type: 'RateLimitError',
          code: '429',
          message: 'm',
          provider: 'openai',
          traceback: 't',
          limitSubject: null,
          limitRate: null,
          limitValue: null,
          guardrail: null,
        },
      }),
    ];
    assertSame(decodeRecord(serialize(calls)), calls);
  });

  it('leave other records to V8 format (meter events, empty arrays, objects)', () => {
    for (const v of [[{ meterApiName: 'x', meterValue: 1 }], [], { source: 'span' }, ['span']]) {
      const bytes = encodeRecord(v, llmCallsCodec);
      assert.equal(bytes[0], 0xff);
      assert.deepStrictEqual(decodeRecord(bytes), v);
    }
  });
});
