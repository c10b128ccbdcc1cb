import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { registerTestComponents, type Capture, type TestSource } from '../../test/helpers/components.js';
import { BackpressureError } from '../component.js';
import { loadConfig } from '../config/config.js';
import type { MeterRecord } from '../data/meter-record.js';
import { ComponentRegistry } from '../registry.js';
import { Service } from '../service.js';
import { Graph } from '../graph.js';
import type { Consumer } from '../component.js';
import { Registry } from 'prom-client';
import { DurableStage } from './durable-stage.js';
import { encodeRecord } from './codec.js';
import { LLM_CALLS_TAG } from './llm-calls-codec.js';
import { WriteAheadLog, readCheckpointFile } from './wal.js';
import { formatStatus } from '../cli.js';

const root = mkdtempSync(join(tmpdir(), 'spanmeter-durable-'));
let n = 0;

async function service(dataDir: string, capture: string, durability = '') {
  const p = join(root, `d${n++}.yaml`);
  writeFileSync(
    p,
    `receivers:
  test_source:
exporters:
  test_capture:
${capture}
service:
  data_dir: ${dataDir}
  durability:
    enabled: true
    sync_delay: 1ms
    checkpoint_interval: 20ms
${durability}
  pipelines:
    p:
      receivers: [test_source]
      exporters: [test_capture]
`,
  );
  const r = new ComponentRegistry();
  registerTestComponents(r);
  const { config, errors } = await loadConfig([p], r, { env: {} });
  assert.deepEqual(errors, []);
  const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
  const find = (id: string) => svc.graph.nodes.find((x) => x.id === id)!.instance;
  return { svc, source: () => find('test_source') as TestSource, capture: () => find('test_capture') as Capture };
}

const rec = (i: number): MeterRecord => ({ meterApiName: 'llm_api_call', meterTimeInMillis: 1_700_000_000_000 + i, meterValue: 1, uniqueId: `call-${i}` });

/** Emits records 0..n-1 one per call, many in flight at once (a few event-loop turns apart). */
async function emitConcurrently(source: TestSource, n: number): Promise<void> {
  const sends: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    sends.push(source.emit([rec(i)]));
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(sends);
}

describe('durable pipelines (write-ahead log)', () => {
  it('sits in front of the first stage that receives llm_calls, else meter_events', () => {
    assert.equal(Graph.walPosition(['spans', 'llm_calls', 'llm_calls', 'meter_events']), 1);
    assert.equal(Graph.walPosition(['meter_events', 'meter_events']), 0);
    assert.equal(Graph.walPosition(['spans']), -1);
    assert.equal(Graph.walPosition(['logs']), -1, 'forwarded logs are best-effort: no log');
    // After the last processor that decides from outside state (enrich), so replays bill as decided.
    assert.equal(Graph.walPosition(['spans', 'llm_calls', 'llm_calls', 'meter_events'], [1]), 2);
    assert.equal(Graph.walPosition(['spans', 'llm_calls', 'llm_calls', 'meter_events', 'meter_events'], [1, 2]), 3);
    assert.equal(Graph.walPosition(['spans', 'llm_calls', 'meter_events'], [0]), 1);
  });

  it('is placed before the processors it feeds', async () => {
    const dataDir = mkdtempSync(join(root, 'o-'));
    const p = join(root, `d${n++}.yaml`);
    writeFileSync(
      p,
      `receivers:\n  test_source:\nprocessors:\n  test_tag:\nexporters:\n  test_capture:\nservice:\n  data_dir: ${dataDir}\n  pipelines:\n    p:\n      receivers: [test_source]\n      processors: [test_tag]\n      exporters: [test_capture]\n`,
    );
    const r = new ComponentRegistry();
    registerTestComponents(r);
    const { config } = await loadConfig([p], r, { env: {} });
    const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
    assert.deepEqual(
      svc.graph.nodes.filter((x) => x.kind === 'processor').map((x) => x.id),
      ['wal', 'test_tag'],
    );
    await svc.start();
    await (svc.graph.nodes.find((x) => x.id === 'test_source')!.instance as TestSource).emit([rec(1)]);
    await svc.shutdown(5_000);
    const capture = svc.graph.nodes.find((x) => x.id === 'test_capture')!.instance as Capture;
    assert.ok(capture.contexts[0]?.hold, 'test_tag passed the hold from the log on');
  });

  it('places the log before the first meter_events stage and acknowledges after it', async () => {
    const dataDir = mkdtempSync(join(root, 'a-'));
    const { svc, source, capture } = await service(dataDir, '');
    assert.deepEqual(
      svc.graph.nodes.filter((x) => x.kind === 'processor').map((x) => x.id),
      ['wal'],
    );
    await svc.start();
    for (let i = 0; i < 20; i++) await source().emit([rec(i)]);
    const status = svc.status() as { wal: { pipeline: string; lastSeq: number }[]; durability: { usedBytes: number } };
    assert.equal(status.wal[0]!.pipeline, 'p');
    assert.equal(status.wal[0]!.lastSeq, 20);
    assert.ok(status.durability.usedBytes > 0);
    const used = await svc.metrics.registry.getSingleMetricAsString('spanmeter_disk_budget_used_bytes');
    assert.match(used, new RegExp(`spanmeter_disk_budget_used_bytes ${status.durability.usedBytes}\\b`));
    assert.match(await svc.metrics.registry.getSingleMetricAsString('spanmeter_disk_budget_max_bytes'), /spanmeter_disk_budget_max_bytes 1073741824\b/);
    assert.match(formatStatus(status), /^pipeline p: write-ahead log \d+\.\d MiB, \d+ record\(s\) waiting to be processed/m);
    await svc.shutdown(5_000);
    const got = capture().received.flat() as MeterRecord[];
    assert.deepEqual(
      got.map((r) => r.uniqueId),
      Array.from({ length: 20 }, (_, i) => `call-${i}`),
    );
    assert.ok(
      capture().contexts.every((c) => c?.hold),
      'every forwarded chunk carries a hold',
    );
    assert.equal(readCheckpointFile(join(dataDir, 'wal', 'p', 'checkpoint')).seq, 20, 'checkpoint covers everything delivered');
  });

  it('keeps acknowledged data across a stop with a dead downstream, and replays it at the next start', async () => {
    const dataDir = mkdtempSync(join(root, 'b-'));
    const first = await service(dataDir, '    refuse: true');
    await first.svc.start();
    for (let i = 0; i < 10; i++) await first.source().emit([rec(i)]); // acknowledged: in the log
    await first.svc.shutdown(200); // downstream never took them
    assert.equal(first.capture().received.length, 0);

    const second = await service(dataDir, '');
    await second.svc.start();
    const deadline = Date.now() + 30_000;
    while (second.capture().received.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await second.svc.shutdown(5_000);
    assert.deepEqual(
      (second.capture().received.flat() as MeterRecord[]).map((r) => r.uniqueId),
      Array.from({ length: 10 }, (_, i) => `call-${i}`),
    );
  });

  it('absorbs a backlog on disk and refuses new data once max_disk_bytes is reached', async () => {
    const dataDir = mkdtempSync(join(root, 'c-'));
    const { svc, source, capture } = await service(dataDir, '    refuse: true', '    max_disk_bytes: 4KiB');
    await svc.start();
    let accepted = 0;
    let refusal: unknown;
    for (let i = 0; i < 200 && !refusal; i++) {
      try {
        await source().emit([rec(i)]);
        accepted++;
      } catch (e) {
        refusal = e;
      }
    }
    assert.ok(refusal instanceof BackpressureError, `expected back-pressure, got ${String(refusal)}`);
    assert.match((refusal as Error).message, /disk budget full/);
    assert.ok(accepted > 10 && accepted < 200, `accepted ${accepted}`);
    // Downstream comes back: the backlog drains and new data is accepted again.
    capture().refuse = false;
    const deadline = Date.now() + 30_000;
    while ((capture().received.flat() as MeterRecord[]).length < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 60)); // a checkpoint interval: covered segments are deleted
    await source().emit([rec(1000)]);
    await svc.shutdown(5_000);
    const ids = (capture().received.flat() as MeterRecord[]).map((r) => r.uniqueId);
    assert.deepEqual(ids, [...Array.from({ length: accepted }, (_, i) => `call-${i}`), 'call-1000']);
  });

  it('refuses data with a clear reason while its directory is unusable, and recovers without a restart', { timeout: 60_000 }, async () => {
    const base = mkdtempSync(join(root, 'ro-'));
    writeFileSync(join(base, 'blocker'), 'a file where the data directory should be');
    const { svc, source, capture } = await service(join(base, 'blocker', 'data'), '');
    await svc.start(); // starts anyway: no crash loop
    await assert.rejects(
      source().emit([rec(1)]),
      (e: Error) => e instanceof BackpressureError && /cannot open the write-ahead log in .*blocker/.test(e.message),
    );
    const status = svc.status() as { state: string };
    assert.equal(status.state, 'running');
    // The operator fixes the directory: the log opens on its own and data flows.
    rmSync(join(base, 'blocker'));
    mkdirSync(join(base, 'blocker'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await source().emit([rec(2)]);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await svc.shutdown(5_000);
    assert.deepEqual(
      (capture().received.flat() as MeterRecord[]).map((r) => r.uniqueId),
      ['call-2'],
    );
  });

  it('forwards every acknowledged record while appends are still being synced (disk path only)', { timeout: 60_000 }, async () => {
    // memory_buffer 0: the forwarder always reads the log back from disk, racing the group commits.
    const dataDir = mkdtempSync(join(root, 'race-'));
    const { svc, source, capture } = await service(dataDir, '', '    memory_buffer: 0');
    await svc.start();
    await emitConcurrently(source(), 400);
    await svc.shutdown(20_000);
    const ids = new Set((capture().received.flat() as MeterRecord[]).map((r) => r.uniqueId));
    const missing = Array.from({ length: 400 }, (_, i) => `call-${i}`).filter((id) => !ids.has(id));
    assert.deepEqual(missing, []);
  });

  it('with room in memory, forwards concurrent appends from memory, not by reading the log back', { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(root, 'mem-'));
    const { svc, source, capture } = await service(dataDir, '');
    await svc.start();
    await emitConcurrently(source(), 400);
    const stage = svc.graph.durable[0]!;
    await svc.shutdown(20_000);
    assert.equal(new Set((capture().received.flat() as MeterRecord[]).map((r) => r.uniqueId)).size, 400);
    assert.equal(stage.diskReads, 0, 'every record came from the in-memory window');
  });

  it('lets the acknowledgement go first, and forwards one record per event-loop turn', { timeout: 60_000 }, async () => {
    const log: string[] = [];
    const next: Consumer<unknown> = {
      async consume(data) {
        const id = (data as MeterRecord[])[0]!.uniqueId;
        log.push(`forward ${id}`);
        // An I/O callback that becomes due while this record is forwarded (an fdatasync done, a new request).
        setImmediate(() => log.push(`io after ${id}`));
      },
    };
    const dir = join(root, `order${n++}`);
    const stage = new DurableStage({
      pipeline: 'p',
      dir,
      next,
      logger: pino({ level: 'silent' }),
      registry: new Registry(),
      syncDelayMs: 0,
      segmentBytes: 1 << 20,
      memoryBytes: 1 << 20,
      checkpointIntervalMs: 1000,
    });
    await stage.start();
    // The receiver's continuation after `consume` (where it writes the 200) runs before the
    // record is handed downstream.
    await stage.consume([rec(1)]);
    log.push('acknowledged 1');
    // Three appends in one group commit: all three are in memory when the forwarder wakes, and
    // other callbacks run between them instead of after the lot.
    await Promise.all([stage.consume([rec(2)]), stage.consume([rec(3)]), stage.consume([rec(4)])]);
    log.push('acknowledged 2-4');
    for (let i = 0; i < 20 && !log.includes('io after call-4'); i++) await new Promise((r) => setImmediate(r));
    await stage.shutdown(Date.now() + 5000);
    await stage.finalize();
    assert.deepEqual(log, [
      'acknowledged 1',
      'forward call-1',
      'io after call-1',
      'acknowledged 2-4',
      'forward call-2',
      'io after call-2',
      'forward call-3',
      'io after call-3',
      'forward call-4',
      'io after call-4',
    ]);
  });

  it('times every group commit in spanmeter_wal_commit_duration_seconds, one observation per fdatasync', async () => {
    const got: string[] = [];
    const next: Consumer<unknown> = {
      async consume(data) {
        got.push((data as MeterRecord[])[0]!.uniqueId ?? '');
      },
    };
    const registry = new Registry();
    const stage = new DurableStage({
      pipeline: 'p',
      dir: join(root, `commits${n++}`),
      next,
      logger: pino({ level: 'silent' }),
      registry,
      syncDelayMs: 0,
      segmentBytes: 1 << 20,
      memoryBytes: 1 << 20,
      checkpointIntervalMs: 10,
    });
    await stage.start();
    for (let i = 0; i < 5; i++) await stage.consume([rec(i)]);
    for (let i = 0; i < 200 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 5));
    await stage.shutdown(Date.now() + 5000);
    await stage.finalize();
    assert.equal(got.length, 5);
    const text = await registry.metrics();
    const syncs = Number(/^spanmeter_wal_syncs_total\{pipeline="p"\} (\d+)$/m.exec(text)?.[1]);
    const observed = Number(/^spanmeter_wal_commit_duration_seconds_count\{pipeline="p"\} (\d+)$/m.exec(text)?.[1]);
    // Five appends awaited one after another: five commits at least (the shutdown may add none).
    assert.ok(syncs >= 5, `syncs ${syncs}`);
    assert.equal(observed, syncs);
    const sum = Number(/^spanmeter_wal_commit_duration_seconds_sum\{pipeline="p"\} (\S+)$/m.exec(text)?.[1]);
    assert.ok(sum > 0 && sum < 60, `sum ${sum}`);
  });

  it('moves a record it cannot decode (a newer format) to the dead-letter folder, bytes intact, and forwards the rest', { timeout: 60_000 }, async () => {
    const got: string[] = [];
    const next: Consumer<unknown> = {
      async consume(data) {
        got.push((data as MeterRecord[])[0]!.uniqueId ?? '');
      },
    };
    const dir = join(root, `unreadable${n++}`);
    // A log written before this start (replayed from disk): a record, one in a format version this
    // build does not read (checksum intact), and another record.
    const newer = Buffer.from([LLM_CALLS_TAG, 99, 1, 0]);
    const wal = await WriteAheadLog.open({ dir });
    await wal.append([encodeRecord([rec(1)]), newer, encodeRecord([rec(3)])]);
    await wal.close();
    const registry = new Registry();
    const stage = new DurableStage({
      pipeline: 'p',
      dir,
      next,
      logger: pino({ level: 'silent' }),
      registry,
      syncDelayMs: 0,
      segmentBytes: 1 << 20,
      memoryBytes: 0,
      checkpointIntervalMs: 10,
    });
    await stage.start();
    for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    await stage.shutdown(Date.now() + 5000);
    await stage.finalize();
    assert.deepEqual(got, ['call-1', 'call-3']);
    const dead = join(dir, 'dead-letter');
    assert.deepEqual(readdirSync(dead).sort(), ['00000000000000000002.json', '00000000000000000002.record']);
    assert.deepEqual(readFileSync(join(dead, '00000000000000000002.record')), newer);
    assert.match(JSON.parse(readFileSync(join(dead, '00000000000000000002.json'), 'utf8')).error, /format version 99 is not one this build reads/);
    assert.match(await registry.metrics(), /spanmeter_wal_dead_letter_records_total\{pipeline="p"\} 1/);
    // Nothing is left to replay: the next start forwards nothing again.
    got.length = 0;
    const again = new DurableStage({
      pipeline: 'p',
      dir,
      next,
      logger: pino({ level: 'silent' }),
      registry: new Registry(),
      syncDelayMs: 0,
      segmentBytes: 1 << 20,
      memoryBytes: 0,
      checkpointIntervalMs: 10,
    });
    await again.start();
    await new Promise((r) => setTimeout(r, 50));
    await again.shutdown(Date.now() + 5000);
    await again.finalize();
    assert.deepEqual(got, []);
  });
});
