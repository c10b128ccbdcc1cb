/**
 * The status as reported: merged over workers (aggregate.ts), in plain words (status-words.ts),
 * throughput from the first samples (series.ts), dormant components (metrics and /status), and
 * where `spanmeter status` finds the admin address.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { statusAddress } from '../cli.js';
import { loadConfig } from '../config/config.js';
import { createRegistry } from '../registry.js';
import { registerTestComponents } from '../../test/helpers/components.js';
import { Service } from '../service.js';
import { createLogger } from './logger.js';
import { aggregateErrors, aggregateReadyDetail, aggregateSeries, aggregateStatus, type WorkerReport } from './aggregate.js';
import { SeriesRecorder } from './series.js';
import { componentWords, duration } from './status-words.js';

const worker = (index: number, state: string, walBytes: number, used: number): WorkerReport => ({
  index,
  pid: 1000 + index,
  ready: state === 'running',
  status: {
    version: '1.2.3',
    instanceId: `host-w${index}`,
    state,
    durability: { usedBytes: used, maxDiskBytes: 100 },
    wal: [{ pipeline: 'm', bytes: walBytes }],
    states: { 'exporter:file': { state: 'started' }, 'exporter:s3': { state: 'dormant', dormant: 'dormant: why' } },
    components: {},
  },
  detail: { components: { 'exporter:file': state === 'running' ? 'started' : 'starting', 'exporter:s3': 'dormant' } },
});

describe('status over workers', () => {
  it('totals, per-worker entries and merged component states', () => {
    const s = aggregateStatus([worker(1, 'running', 20, 3), worker(0, 'running', 10, 2)], { version: '1.2.3', instanceId: 'host', workers: 2 });
    assert.equal(s.version, '1.2.3');
    assert.equal(s.instanceId, 'host');
    assert.equal(s.state, 'running');
    assert.deepEqual(s.durability, { usedBytes: 5, maxDiskBytes: 200 });
    assert.deepEqual(
      (s.workers as { worker: number; instanceId: string }[]).map((w) => [w.worker, w.instanceId]),
      [
        [0, 'host-w0'],
        [1, 'host-w1'],
      ],
    );
    assert.deepEqual((s.wal as { worker: number; bytes: number }[]).map((w) => [w.worker, w.bytes]).sort(), [
      [0, 10],
      [1, 20],
    ]);
    assert.deepEqual((s.states as Record<string, unknown>)['exporter:s3'], { state: 'dormant', dormant: 'dormant: why' });
  });

  it('says which workers differ or do not answer', () => {
    const s = aggregateStatus([worker(0, 'running', 1, 1), worker(1, 'starting', 1, 1), { index: 2, pid: 7, error: 'no answer within 2000 ms' }], {
      version: 'v',
      instanceId: 'h',
      workers: 3,
    });
    assert.equal(s.state, 'running on 1 of 3 workers, starting on 1 of 3 workers, 1 not answering');
    assert.deepEqual((s.workers as Record<string, unknown>[])[2], { worker: 2, pid: 7, state: 'not answering', error: 'no answer within 2000 ms' });
    const d = aggregateReadyDetail([worker(0, 'running', 1, 1), worker(1, 'starting', 1, 1)], 2);
    assert.equal(d.components['exporter:file'], 'started on 1 of 2 workers, starting on 1 of 2 workers');
    assert.equal(d.components['exporter:s3'], 'dormant');
    assert.deepEqual(d.workers, [
      { worker: 0, pid: 1000, ready: true },
      { worker: 1, pid: 1001, ready: false },
    ]);
  });

  it('sums throughput series sample by sample, aligned on the latest sample', () => {
    const a = { intervalMs: 1000, t: [1, 2, 3], series: { x: { kind: 'rate' as const, values: [null, 2, 4] } } };
    const b = { intervalMs: 1000, t: [2, 3], series: { x: { kind: 'rate' as const, values: [1, 1] }, y: { kind: 'level' as const, values: [5, 6] } } };
    assert.deepEqual(aggregateSeries([a, b]), {
      intervalMs: 1000,
      t: [1, 2, 3],
      series: { x: { kind: 'rate', values: [null, 3, 5] }, y: { kind: 'level', values: [null, 5, 6] } },
    });
    assert.deepEqual(aggregateSeries([]), { intervalMs: 0, t: [], series: {} });
  });

  it('merges the workers’ errors in time order, each with its worker', () => {
    const e = aggregateErrors([
      { index: 0, errors: [{ time: '2026-01-01T00:00:02Z', msg: 'b' } as { time: string }] },
      { index: 1, errors: [{ time: '2026-01-01T00:00:01Z', msg: 'a' } as { time: string }] },
    ]);
    assert.deepEqual(
      e.map((x) => [x.msg, x.worker]),
      [
        ['a', 1],
        ['b', 0],
      ],
    );
  });
});

describe('status in words', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  it('durations', () => {
    assert.deepEqual([duration(850), duration(42_000), duration(280_000), duration(7_500_000)], ['850 ms', '42 s', '4 min 40 s', '2 h 5 min']);
  });

  it('the open batch: records, size, and when it is cut', () => {
    const w = componentWords(
      { openBatch: { records: 12, bytes: 3482, openedAt: '2026-03-01T11:59:40Z', cutAt: '2026-03-01T12:04:40Z', cutAtRecords: 100 }, waitingRecords: 0 },
      { state: 'started' },
      now,
    );
    assert.equal(w.openBatch, '12 records (3.4 KiB) in the open batch, the first for 20 s; it is cut at 100 records or at 12:04:40 UTC (in 4 min 40 s)');
    const empty = componentWords({ openBatch: { records: 0, bytes: 0, openedAt: null, cutAt: null, cutAtRecords: 100 }, waitingRecords: 5 }, undefined, now);
    assert.equal(empty.openBatch, 'empty: the next file starts with the next record and is cut at 100 records; 5 records cut and waiting for the exporters');
  });

  it('the last object and the delivery lag', () => {
    const w = componentWords(
      {
        lastObject: { key: 'p/2026/03/01/11/58/merged_logs_0a1b2c3d.json.gz', records: 4, bytes: 400, at: '2026-03-01T11:59:57Z' },
        spoolObjects: 3,
        spoolRecords: 1200,
        oldestUnsent: '2026-03-01T11:57:50Z',
        queuedRecords: 0,
      },
      { state: 'started' },
      now,
    );
    assert.equal(w.lastObject, 'p/2026/03/01/11/58/merged_logs_0a1b2c3d.json.gz (4 records, 400 B) at 11:59:57 UTC, 3 s ago');
    assert.equal(w.delivery, '3 objects (1,200 records) waiting to be sent; the oldest for 2 min 10 s');
    assert.equal(componentWords({ lastObject: null, queuedRecords: 0 }, undefined, now).lastObject, 'none yet since start');
    assert.equal(componentWords({ lastObject: null, queuedRecords: 7 }, undefined, now).delivery, '7 records being sent now');
  });
});

describe('throughput series', () => {
  it('a counter first seen after the first sample shows its rate at once', async () => {
    const registry = new Registry();
    const rec = new SeriesRecorder(registry);
    const c = new Counter({ name: 'spanmeter_receiver_accepted_spans_total', help: 'h', labelNames: ['receiver', 'transport'], registers: [registry] });
    await rec.sample(10_000); // at start: no traffic, no series yet
    c.inc({ receiver: 'otlp', transport: 'http' }, 50); // traffic in the first second
    await rec.sample(11_000);
    assert.deepEqual(rec.snapshot().series['receiver otlp accepted/s']?.values, [null, 50]);
  });
});

describe('dormant components', () => {
  it('are dormant in /status, /health/ready and the metrics, never "up"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-dormant-'));
    const p = join(dir, 'p.yaml');
    writeFileSync(
      p,
      `receivers:\n  test_source: {}\nexporters:\n  file:\n    directory: ${join(dir, 'out')}\n  file/spare:\n    when: { value: "", in: [spare] }\n    directory: ${join(dir, 'spare')}\nservice:\n  data_dir: ${join(dir, 'data')}\n  pipelines:\n    m:\n      receivers: [test_source]\n      exporters: [file, file/spare]\n`,
    );
    const registry = await createRegistry();
    registerTestComponents(registry);
    const { config, errors } = await loadConfig([p], registry, { env: {} });
    assert.deepEqual(errors, []);
    const svc = new Service(config!, { logger: createLogger('silent'), metricsAddress: '127.0.0.1:0', processMetrics: false });
    await svc.start();
    try {
      const states = svc.status().states as Record<string, { state: string; dormant?: string }>;
      assert.deepEqual(states['exporter:file/spare'], { state: 'dormant', dormant: 'dormant: the selector is (unset), active only for spare' });
      assert.equal(states['exporter:file']!.state, 'started');
      assert.equal(svc.ready(), true, 'a dormant exporter does not keep the service from being ready');
      const metrics = await svc.metrics.registry.metrics();
      assert.match(metrics, /^spanmeter_component_dormant\{kind="exporter",id="file\/spare"\} 1$/m);
      assert.doesNotMatch(metrics, /spanmeter_component_up\{kind="exporter",id="file\/spare"\}/);
      assert.match(metrics, /^spanmeter_component_up\{kind="exporter",id="file"\} 1$/m);
    } finally {
      await svc.shutdown(5_000);
    }
    assert.doesNotMatch(await svc.metrics.registry.metrics(), /spanmeter_component_up\{kind="exporter",id="file\/spare"\}/, 'not "down" after a stop either');
  });
});

describe('spanmeter status: the admin address', () => {
  it('--address, else SPANMETER_METRICS_ADDRESS, else --config, else the default; all-interfaces binds are asked on the loopback', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-status-addr-'));
    const cfg = join(dir, 'p.yaml');
    writeFileSync(
      cfg,
      `receivers:\n  otlp: {}\nexporters:\n  debug: {}\nservice:\n  telemetry:\n    metrics:\n      address: 0.0.0.0:9911\n  pipelines:\n    m:\n      receivers: [otlp]\n      exporters: [debug]\n`,
    );
    assert.deepEqual(await statusAddress({ address: '10.0.0.1:1', config: [cfg] }, { SPANMETER_METRICS_ADDRESS: '127.0.0.1:2' }), {
      address: '10.0.0.1:1',
      from: '--address',
    });
    assert.deepEqual(await statusAddress({ config: [cfg] }, { SPANMETER_METRICS_ADDRESS: '0.0.0.0:2' }), {
      address: '127.0.0.1:2',
      from: 'SPANMETER_METRICS_ADDRESS',
    });
    assert.deepEqual(await statusAddress({ config: [cfg] }, {}), { address: '127.0.0.1:9911', from: cfg });
    assert.deepEqual(await statusAddress({}, {}), { address: '127.0.0.1:8888', from: 'the default' });
    assert.match((await statusAddress({}, { SPANMETER_METRICS_ADDRESS: 'off' })).error ?? '', /disabled/);
  });
});
