import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { USAGE_KEYS, decodeMetadataValue, scanUsageRepr, usageFromMetadataValue, usageFromObject } from './values.js';

const LITELLM_USAGE =
  "{'completion_tokens': 225, 'completion_tokens_details': {'accepted_prediction_tokens': 0, 'audio_tokens': 0, 'reasoning_tokens': 17, 'rejected_prediction_tokens': 0, 'text_tokens': None}, 'prompt_tokens': 3893, 'prompt_tokens_details': {'audio_tokens': 0, 'cached_tokens': 2048, 'image_tokens': None, 'text_tokens': None}, 'total_tokens': 4118}";

const general = (v: unknown) => usageFromObject(decodeMetadataValue(v));

// A Python-repr-like printer for usage dicts, with the odd values and spacings the general parser accepts.
type V =
  | { t: 'int'; v: bigint; lead0?: boolean }
  | { t: 'none' }
  | { t: 'bool'; v: boolean }
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  | { t: 'dict'; v: [string, V][] }
  | { t: 'list'; v: V[] };
const keyPool = fc.constantFrom(...USAGE_KEYS, 'audio_tokens', '__proto__', 'x y', "it's");
// Keys the fast path must not take for known ones: of a known key's length, with a backslash (two spell
// known keys with an escape), a double quote, a newline.
const anyKey = fc.oneof(
  { weight: 20, arbitrary: keyPool },
  {
    weight: 1,
    arbitrary: fc.constantFrom('total_toke\\s', 'total\\x5ftokens', 'prompt\\u005ftokens', 'cached_toke"s', 'prompt_token\ns', 'prompt_tokenz', 'audio_tokens'),
  },
);
const { value } = fc.letrec<{ value: V }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.bigInt({ min: -5n, max: 2n ** 60n }).map<V>((v) => ({ t: 'int', v })),
    fc.nat({ max: 5000 }).map<V>((v) => ({ t: 'int', v: BigInt(v) })),
    fc.nat({ max: 99 }).map<V>((v) => ({ t: 'int', v: BigInt(v), lead0: true })),
    fc.constant<V>({ t: 'none' }),
    fc.boolean().map<V>((v) => ({ t: 'bool', v })),
    fc.double({ min: -10, max: 1e6, noNaN: true }).map<V>((v) => ({ t: 'float', v })),
    fc.constantFrom('12', 'x', '').map<V>((v) => ({ t: 'str', v })),
    fc.array(fc.tuple(keyPool, tie('value')), { maxLength: 5 }).map<V>((v) => ({ t: 'dict', v })),
    fc.array(tie('value'), { maxLength: 2 }).map<V>((v) => ({ t: 'list', v })),
  ),
}));
const quote = (k: string) => (k.includes("'") ? `"${k}"` : `'${k}'`);
function repr(x: V, sep: string, colon: string): string {
  switch (x.t) {
    case 'int':
      return x.lead0 ? `0${x.v}` : String(x.v);
    case 'none':
      return 'None';
    case 'bool':
      return x.v ? 'True' : 'False';
    case 'float':
      return Number.isInteger(x.v) ? `${x.v}.0` : String(x.v);
    case 'str':
      return `'${x.v}'`;
    case 'list':
      return `[${x.v.map((y) => repr(y, sep, colon)).join(sep)}]`;
    case 'dict':
      return `{${x.v.map(([k, y]) => `${quote(k)}${colon}${repr(y, sep, colon)}`).join(sep)}}`;
  }
}
const usageText = fc
  .tuple(
    fc.array(fc.tuple(anyKey, value), { maxLength: 8 }),
    fc.constantFrom(', ', ',', ' , ', ',\n'),
    fc.constantFrom(': ', ':', ' : '),
    fc.constantFrom('', ' ', ',', '\n'),
  )
  .map(([entries, sep, colon, tail]) => `{${entries.map(([k, v]) => `${quote(k)}${colon}${repr(v, sep, colon)}`).join(sep)}${tail}}`);

// The shapes LiteLLM writes (plain ints, None, booleans, details dicts), in any key order and with duplicates.
const simple: fc.Arbitrary<V> = fc.oneof(
  fc.nat({ max: 100_000 }).map<V>((v) => ({ t: 'int', v: BigInt(v) })),
  fc.constant<V>({ t: 'none' }),
  fc.boolean().map<V>((v) => ({ t: 'bool', v })),
);
const simpleText = fc
  .array(
    fc.tuple(
      anyKey,
      fc.oneof(
        simple,
        fc.array(fc.tuple(anyKey, simple), { maxLength: 5 }).map<V>((v) => ({ t: 'dict', v })),
      ),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((entries) => `{${entries.map(([k, v]) => `${quote(k)}: ${repr(v, ', ', ': ')}`).join(', ')}}`);

describe('usage_object fast path', () => {
  it("takes the fast path for LiteLLM's Usage repr and reads it as the general parser does", () => {
    const fast = scanUsageRepr(LITELLM_USAGE);
    assert.ok(fast, 'the fast path applies');
    assert.deepEqual(fast, general(LITELLM_USAGE));
    assert.deepEqual(fast, {
      promptTokens: 3893,
      completionTokens: 225,
      totalTokens: 4118,
      cachedReadTokens: 2048,
      cacheCreationTokens: 0,
      reasoningTokens: 17,
    });
  });

  it('gives the same usage as the general parser for any dict-like text (property)', () => {
    let fastHits = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          { weight: 4, arbitrary: simpleText },
          { weight: 4, arbitrary: usageText },
          { weight: 1, arbitrary: fc.string() },
          { weight: 1, arbitrary: usageText.chain((t) => fc.nat({ max: t.length }).map((cut) => t.slice(0, cut))) },
        ),
        (text) => {
          if (scanUsageRepr(text)) fastHits++;
          assert.deepEqual(usageFromMetadataValue(text), general(text), text);
        },
      ),
      { numRuns: 6000 },
    );
    assert.ok(fastHits > 1000, `the fast path was taken ${fastHits} times`);
  });

  it('a repeated key: the last one wins, whole (as in a Python dict)', () => {
    for (const text of [
      "{'prompt_tokens_details': {'cached_tokens': 5}, 'prompt_tokens_details': None}",
      "{'prompt_tokens_details': {'cached_tokens': 5}, 'prompt_tokens_details': {'audio_tokens': 1}}",
      "{'prompt_tokens': 7, 'prompt_tokens': {'a': 1}}",
      "{'completion_tokens_details': {'reasoning_tokens': 3}, 'completion_tokens_details': 4}",
    ]) {
      assert.ok(scanUsageRepr(text), text);
      assert.deepEqual(usageFromMetadataValue(text), general(text), text);
    }
    assert.equal(usageFromMetadataValue("{'prompt_tokens_details': {'cached_tokens': 5}, 'prompt_tokens_details': None}").cachedReadTokens, 0);
  });

  it('non-string values go the general way', () => {
    for (const v of [undefined, null, 5n, 3, '', 'None']) assert.deepEqual(usageFromMetadataValue(v), general(v));
  });
});
