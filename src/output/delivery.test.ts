import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { MeterRecord } from '../data/meter-record.js';
import { ServiceMetrics } from '../telemetry/metrics.js';
import { ObjectExporter, lazySink, type Destination, type ObjectSink } from './delivery.js';
import type { EncodedObject } from './encode.js';

const rec = (i: number): MeterRecord => ({ meterApiName: 'llm_api_call', meterTimeInMillis: 1_764_355_422_941 + i, meterValue: 1, uniqueId: `u${i}` });
const policy = { enabled: true, initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0, maxElapsedMs: 0, attemptTimeoutMs: 1000 };

function exporter(sink: ObjectSink<Destination>, dataDir: string) {
  const metrics = new ServiceMetrics('t', { processMetrics: false });
  return new ObjectExporter<Destination>({
    id: 'x',
    logger: pino({ level: 'silent' }),
    registry: metrics.registry,
    metrics: metrics.forComponent('exporter', 'x'),
    sink,
    destination: () => ({ path: 'p', label: 'test' }),
    retry: policy,
    maxRecordsPerObject: 100,
    dataDir,
    storage: { durable: true },
  });
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
        for (let t = 0; put.length < i + 1 && t < 200; t++) await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(put.length, 30);
      const signal = (x as unknown as { stop: AbortController }).stop.signal;
      assert.ok(getEventListeners(signal, 'abort').length <= 1, `${getEventListeners(signal, 'abort').length} abort listeners after 30 idle periods`);
    } finally {
      await x.shutdown(Date.now() + 2000);
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
