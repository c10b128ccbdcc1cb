import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32, gunzipSync } from 'node:zlib';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { DEFAULT_GZIP_LEVEL, joinKey } from '../../src/output/encode.js';
import { meterRecord as rec } from '../../test/helpers/meter-record.js';
import { contentSuffix, encodeBatch, encodeBatchAsync, recordsJson, recordsJsonBytes, minutePartition, splitRecords } from './objects.js';

describe('encodeBatch', () => {
  it('produces the object key of docs/mapping.md, a gzip JSON array, and the content headers', () => {
    const rs = [rec(1), rec(2)];
    const o = encodeBatch(rs, { path: 'litellm-metering' });
    assert.match(o.key, /^litellm-metering\/2026\/01\/02\/03\/04\/merged_logs_[0-9a-f]{8}\.json\.gz$/);
    assert.deepEqual(JSON.parse(gunzipSync(o.body).toString()), rs);
    assert.equal(o.records, 2);
    assert.equal(o.contentType, 'application/json');
    assert.equal(o.contentEncoding, 'gzip');
    assert.equal(o.firstRecordTimeMs, rs[0]!.meterTimeInMillis);
  });

  it('is deterministic: same records → same bytes and key; different content → different key', () => {
    const a = encodeBatch([rec(1), rec(2)], { path: 'p' });
    const b = encodeBatch([rec(1), rec(2)], { path: 'p' });
    assert.deepEqual(a.body, b.body);
    assert.equal(a.key, b.key);
    assert.equal(a.body.readUInt32LE(4), 0, 'gzip mtime is 0');
    assert.equal(a.body[9], 3, 'gzip OS byte is pinned');
    assert.notEqual(encodeBatch([rec(2), rec(1)], { path: 'p' }).key, a.key);
  });

  it('the key suffix is the CRC-32 of the uncompressed JSON, whatever compressed it', () => {
    const rs = Array.from({ length: 50 }, (_, i) => rec(i, { dimensions: Object.freeze({ team: `t${i % 3}` }) }));
    for (const level of [1, 3, 9]) {
      const o = encodeBatch(rs, { path: 'p', gzipLevel: level });
      const json = gunzipSync(o.body);
      assert.equal(o.key.match(/merged_logs_([0-9a-f]{8})\.json\.gz$/)?.[1], crc32(json).toString(16).padStart(8, '0'));
      assert.equal(contentSuffix(json), crc32(json).toString(16).padStart(8, '0'));
    }
    // Pinned: the check value of CRC-32 (ISO 3309 / ITU-T V.42) is cbf43926 for "123456789".
    assert.equal(contentSuffix('123456789'), 'cbf43926');
    assert.equal(contentSuffix(''), '00000000');
  });

  it('the asynchronous encoder (thread pool) gives the same key and bytes as the synchronous one', async () => {
    for (const [n, level] of [
      [1, undefined],
      [7, 1],
      [500, 9],
    ] as const) {
      const rs = Array.from({ length: n }, (_, i) => rec(i, { dimensions: Object.freeze({ team: `t${i % 5}` }) }));
      const sync = encodeBatch(rs, { path: 'p', gzipLevel: level });
      const async = await encodeBatchAsync(rs, { path: 'p', gzipLevel: level });
      assert.deepEqual(async, sync);
    }
    await assert.rejects(encodeBatchAsync([], { path: 'p' }), /empty batch/);
  });

  it('compression level changes the bytes, never the key or the content', () => {
    const rs = Array.from({ length: 200 }, (_, i) => rec(i, { dimensions: { team: `team-${i % 7}`, model: 'gpt-4o' } }));
    const fast = encodeBatch(rs, { path: 'p', gzipLevel: 1 });
    const small = encodeBatch(rs, { path: 'p', gzipLevel: 9 });
    const dflt = encodeBatch(rs, { path: 'p' });
    assert.equal(fast.key, small.key);
    assert.equal(dflt.key, small.key);
    assert.ok(small.body.length < fast.body.length, `level 9 (${small.body.length} B) is smaller than level 1 (${fast.body.length} B)`);
    assert.deepEqual(gunzipSync(fast.body), gunzipSync(small.body));
    assert.deepEqual(dflt.body, encodeBatch(rs, { path: 'p', gzipLevel: DEFAULT_GZIP_LEVEL }).body);
  });

  it('serialises records exactly as JSON.stringify does, whatever their shape (property)', () => {
    const str = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('llm_api_call', '"q"', '\\', '\u2028', '\ud800'));
    const num = fc.oneof(
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double(),
      fc.constantFrom(
        NaN,
        Infinity,
        -Infinity,
        -0,
        1e21,
        5e-7,
        9,
        10,
        99,
        100,
        Number.MAX_SAFE_INTEGER,
        2 ** 53,
        99_999_999,
        1e8,
        100_000_001,
        1_000_000_000_000_000,
        1_764_355_422_941,
        2 ** 31,
        2 ** 32 + 7,
      ),
    );
    const dims = fc.dictionary(str, fc.option(str, { nil: null }), { maxKeys: 6 });
    const standard = fc.record(
      { dimensions: dims, meterApiName: str, meterTimeInMillis: num, meterValue: num, uniqueId: str },
      { requiredKeys: ['dimensions', 'meterApiName', 'meterTimeInMillis', 'meterValue'] },
    );
    const record = fc.oneof(
      standard,
      standard.map((r) => ({ ...r, dimensions: Object.freeze({ ...r.dimensions }) })), // the fast path
      standard.map((r) => ({ ...r, uniqueId: undefined })), // an undefined value is left out
      standard.map((r) => ({
        meterValue: r.meterValue,
        dimensions: Object.freeze({ ...r.dimensions }),
        meterApiName: r.meterApiName,
        meterTimeInMillis: r.meterTimeInMillis,
      })), // another key order
      standard.map((r) => ({ ...r, customerId: 'c' })), // another key
      standard.map((r) => ({ ...r, meterValue: String(r.meterValue) })), // a wrong type
      standard.map((r) => Object.assign(Object.create({ toJSON: () => 'custom' }), r)), // not a plain object
      fc.anything(),
    );
    fc.assert(
      fc.property(fc.array(record, { maxLength: 8 }), (rs) => {
        const shared = Object.freeze({ team: 't' }); // one frozen set in several records (its JSON is cached)
        const withShared = [
          ...rs,
          { dimensions: shared, meterApiName: 'm', meterTimeInMillis: 1, meterValue: 2 },
          { dimensions: shared, meterApiName: 'n', meterTimeInMillis: 3, meterValue: 4, uniqueId: 'u' },
        ];
        assert.equal(recordsJson(withShared as MeterRecord[]), JSON.stringify(withShared));
        assert.equal(recordsJsonBytes(withShared as MeterRecord[]).toString('utf8'), JSON.stringify(withShared));
      }),
      { numRuns: 3000 },
    );
  });

  it('partitions by the UTC minute of the first record; empty path = no prefix', () => {
    assert.equal(minutePartition(Date.UTC(2025, 11, 31, 23, 59, 59, 999)), '2025/12/31/23/59');
    assert.match(encodeBatch([rec(0)], { path: '' }).key, /^2026\/01\/02\/03\/04\/merged_logs_/);
    assert.equal(joinKey('/a/', '', 'b//c'), 'a/b/c');
    assert.throws(() => encodeBatch([], { path: 'p' }));
  });

  it('splits by record count and by JSON bytes, keeping order', () => {
    const rs = Array.from({ length: 25 }, (_, i) => rec(i));
    assert.deepEqual(
      splitRecords(rs, 10).map((c) => c.length),
      [10, 10, 5],
    );
    const one = Buffer.byteLength(JSON.stringify(rs[0])) + 1;
    const chunks = splitRecords(rs, 1000, 2 + one * 4);
    assert.ok(chunks.every((c) => Buffer.byteLength(JSON.stringify(c)) <= 2 + one * 4 + 4));
    assert.deepEqual(chunks.flat(), rs);
    // One chunk without a byte limit: the records themselves; none: no chunk.
    assert.equal(splitRecords(rs, 25)[0], rs);
    assert.deepEqual(splitRecords(rs.slice(0, 0), 10), []);
  });
});
