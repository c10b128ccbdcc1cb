import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { MeterRecord } from '../data/meter-record.js';
import { ServiceMetrics } from '../telemetry/metrics.js';
import { DEFAULT_CONCURRENT_UPLOADS, ObjectExporter, lazySink, type Destination, type ObjectExporterOptions, type ObjectSink } from './delivery.js';
import { joinKey, stableGzipAsync, type EncodedObject, type ObjectFormat } from './encode.js';

const rec = (i: number): MeterRecord => ({ meterApiName: 'llm_api_call', meterTimeInMillis: 1_764_355_422_941 + i, meterValue: 1, uniqueId: `u${i}` });
const policy = { enabled: true, initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0, maxElapsedMs: 0, attemptTimeoutMs: 1000 };

/** A format for the delivery core alone: JSON arrays keyed by their SHA-256, chunks by count. */
const testFormat: ObjectFormat = {
  split: (records, max) => Array.from({ length: Math.ceil(records.length / max) }, (_, i) => records.slice(i * max, (i + 1) * max)),
  async encode(records, { path, gzipLevel }) {
    const json = Buffer.from(JSON.stringify(records));
    const key = joinKey(path, `${createHash('sha256').update(json).digest('hex').slice(0, 16)}.json.gz`);
    const body = await stableGzipAsync(json, gzipLevel);
    return {
      key,
      body,
      records: records.length,
      rawBytes: json.length,
      firstRecordTimeMs: records[0]!.meterTimeInMillis,
      contentType: 'application/json',
      contentEncoding: 'gzip',
    };
  },
  alternateKey: (key, attempt) => `${key}.${attempt}`,
};

function exporter(sink: ObjectSink<Destination>, dataDir: string, over: Partial<ObjectExporterOptions<Destination>> = {}) {
  const metrics = new ServiceMetrics('t', { processMetrics: false });
  return new ObjectExporter<Destination>({
    id: 'x',
    logger: pino({ level: 'silent' }),
    registry: metrics.registry,
    metrics: metrics.forComponent('exporter', 'x'),
    sink,
    format: testFormat,
    destination: () => ({ path: 'p', label: 'test' }),
    retry: policy,
    maxRecordsPerObject: 100,
    dataDir,
    storage: { durable: true },
    ...over,
  });
}

/** Polls `cond` every 10 ms, at most `tries` times. */
async function until(cond: () => boolean, tries = 400): Promise<void> {
  for (let t = 0; !cond() && t < tries; t++) await new Promise((r) => setTimeout(r, 10));
}

describe('ObjectExporter, durable mode', () => {
  it('idle periods of the uploader leave no abort listeners behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-delivery-'));
    const put: string[] = [];
    const x = exporter({ put: async (o: EncodedObject) => void put.push(o.key) }, dir);
    try {
      await x.start();
      for (let i = 0; i < 30; i++) {
        await x.consume([rec(i)]); // spooled, then uploaded; the uploader goes idle again
        await until(() => put.length >= i + 1);
      }
      assert.equal(put.length, 30);
      const signal = (x as unknown as { stop: AbortController }).stop.signal;
      // One per idle uploader at most, however many idle periods there were.
      assert.ok(
        getEventListeners(signal, 'abort').length <= DEFAULT_CONCURRENT_UPLOADS,
        `${getEventListeners(signal, 'abort').length} abort listeners after 30 idle periods`,
      );
    } finally {
      await x.shutdown(Date.now() + 2000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ObjectExporter, durable mode, concurrent uploads', () => {
  it('uploads up to max_concurrent_uploads spooled objects at once, each exactly once, and retries failures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-delivery-'));
    let inFlight = 0;
    let peak = 0;
    let failures = 3;
    const put = new Map<string, number>();
    const sink: ObjectSink<Destination> = {
      async put(o) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        // Held until three are in flight (or 500 ms): on a loaded machine a fixed 10 ms could let
        // the first upload end before the third starts.
        for (const t0 = Date.now(); inFlight < 3 && Date.now() - t0 < 500;) await new Promise((r) => setTimeout(r, 2));
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (failures > 0) {
          failures--;
          throw new Error('store down');
        }
        put.set(o.key, (put.get(o.key) ?? 0) + 1);
      },
    };
    const x = exporter(sink, dir, { retry: { ...policy, initialMs: 5, maxMs: 10 }, maxConcurrentUploads: 3 });
    try {
      await x.start();
      for (let i = 0; i < 12; i++) await x.consume([rec(i)]);
      await until(() => put.size >= 12);
      assert.equal(put.size, 12, 'every object uploaded');
      assert.ok(
        [...put.values()].every((n) => n === 1),
        'each once',
      );
      assert.equal(peak, 3);
      await until(() => x.spool!.count === 0);
      assert.equal(x.spool!.count, 0);
      assert.equal(x.status().spoolRecords, 0, 'record count back to zero (no double decrement)');
    } finally {
      await x.shutdown(Date.now() + 2000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ObjectExporter, durable mode, a sink with durable writes (file)', () => {
  it('writes directly (no spool copy), and still uploads what a spool holds from before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-delivery-'));
    const put: string[] = [];
    try {
      // An earlier version spooled an object and stopped before uploading it.
      const before = exporter({ put: async () => Promise.reject(new Error('down')) }, dir);
      await before.start();
      await before.consume([rec(1)]);
      assert.equal(before.spool!.count, 1);
      await before.shutdown(Date.now() + 50);

      const sink: ObjectSink<Destination> = { durableWrites: true, put: async (o: EncodedObject) => void put.push(o.key) };
      const x = exporter(sink, dir);
      await x.start();
      await x.consume([rec(2)]);
      assert.equal(put.length >= 1, true);
      await until(() => put.length >= 2 && x.spool!.count === 0);
      assert.equal(put.length, 2, 'the new object and the leftover one');
      assert.equal(x.spool!.count, 0, 'the leftover was uploaded and removed; nothing new was spooled');
      await x.shutdown(Date.now() + 1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lazySink', () => {
  it('loads the real sink on start, delegates put and close, and refuses put before start', async () => {
    let loaded = 0;
    const calls: string[] = [];
    const s = lazySink<Destination>(async () => {
      loaded++;
      return { start: async () => void calls.push('start'), put: async (o) => void calls.push(`put ${o.key}`), close: async () => void calls.push('close') };
    });
    const obj = { key: 'k' } as EncodedObject;
    await assert.rejects(s.put(obj, { path: '', label: '' }, new AbortController().signal), /before start/);
    assert.equal(loaded, 0, 'nothing is loaded until start');
    await s.start!();
    await s.put(obj, { path: '', label: '' }, new AbortController().signal);
    await s.close!();
    assert.equal(loaded, 1);
    assert.deepEqual(calls, ['start', 'put k', 'close']);
  });
});
