import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeRecord, encodeRecord } from './codec.js';

describe('write-ahead log record codec', () => {
  // (Dates are left out: assert's deep equality cannot compare an invalid Date with itself inside a Set.)
  it('round-trips any structured value exactly (property)', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withNullPrototype: false,
          withTypedArray: true,
          withSparseArray: false,
          withMap: true,
          withSet: true,
          withDate: false,
        }),
        (v) => {
          assert.deepStrictEqual(decodeRecord(encodeRecord(v)), v);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps what JSON would lose: bigint, -0, NaN, undefined members, key order', () => {
    const v = [{ b: 1n, z: -0, n: NaN, u: undefined, a: 'x' }];
    const back = decodeRecord(encodeRecord(v)) as (typeof v)[number][];
    assert.deepStrictEqual(back, v);
    assert.deepEqual(Object.keys(back[0]!), ['b', 'z', 'n', 'u', 'a']);
  });

  it('reads the JSON records earlier versions wrote', () => {
    const legacy = Buffer.from(JSON.stringify([{ source: 'span', id: 'chatcmpl-1', usage: { promptTokens: 3 } }]));
    assert.deepEqual(decodeRecord(legacy), [{ source: 'span', id: 'chatcmpl-1', usage: { promptTokens: 3 } }]);
  });

  it('writes JSON for data V8 cannot serialise (functions are dropped, as JSON.stringify does)', () => {
    const v = { a: 1, f: () => 1 };
    const buf = encodeRecord(v);
    assert.equal(buf[0], '{'.charCodeAt(0));
    assert.deepEqual(decodeRecord(buf), { a: 1 });
  });
});
