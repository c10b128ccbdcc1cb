import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { registerTestComponents, type Capture, type TestSource } from '../test/helpers/components.js';
import { loadConfig, type ResolvedConfig } from './config/config.js';
import type { MeterRecord } from './data/meter-record.js';
import { ComponentRegistry } from './registry.js';
import { Service } from './service.js';

const root = mkdtempSync(join(tmpdir(), 'spanmeter-reload-'));
let n = 0;

function registry(): ComponentRegistry {
  const r = new ComponentRegistry();
  registerTestComponents(r);
  r.register({
    kind: 'exporter',
    type: 'broken_exporter',
    description: 'fails to start',
    stability: 'development',
    consumes: 'meter_events',
    configSchema: { type: 'object', additionalProperties: false },
    defaultConfig: () => ({}),
    create: () => ({
      start: async () => {
        throw new Error('cannot connect');
      },
      consume: async () => undefined,
    }),
  });
  return r;
}

async function config(yaml: string, dataDir: string, durable = false): Promise<ResolvedConfig> {
  const p = join(root, `r${n++}.yaml`);
  writeFileSync(p, `${yaml}\n  data_dir: ${dataDir}\n  durability:\n    enabled: ${durable}\n    checkpoint_interval: 20ms\n`);
  const { config: c, errors } = await loadConfig([p], registry(), { env: {} });
  assert.deepEqual(errors, []);
  return c!;
}

const pipeline = (exporter: string, capture = '', receiverCfg = '') => `receivers:
  test_source:${receiverCfg}
exporters:
  ${exporter}:${capture}
service:
  pipelines:
    p:
      receivers: [test_source]
      exporters: [${exporter}]`;

const rec = (i: number): MeterRecord => ({ meterApiName: 'llm_api_call', meterTimeInMillis: i, meterValue: 1, uniqueId: `c${i}` });
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the type of the component it configured
const find = <T>(svc: Service, id: string) => svc.graph.nodes.find((x) => x.id === id)!.instance as T;

describe('configuration reload', () => {
  it('re-points a running receiver at the new pipelines without restarting it', async () => {
    const dataDir = mkdtempSync(join(root, 'd-'));
    const svc = new Service(await config(pipeline('test_capture/one'), dataDir), {
      logger: pino({ level: 'silent' }),
      metricsAddress: null,
      processMetrics: false,
    });
    await svc.start();
    const source = find<TestSource>(svc, 'test_source');
    await source.emit([rec(1)]);
    const one = find<Capture>(svc, 'test_capture/one');
    await svc.reload(await config(pipeline('test_capture/two'), dataDir));
    assert.equal(find<TestSource>(svc, 'test_source'), source, 'the same receiver instance keeps running');
    assert.ok(source.started);
    await source.emit([rec(2)]);
    const two = find<Capture>(svc, 'test_capture/two');
    await svc.shutdown(5_000);
    assert.deepEqual(
      (one.received.flat() as MeterRecord[]).map((r) => r.uniqueId),
      ['c1'],
    );
    assert.deepEqual(
      (two.received.flat() as MeterRecord[]).map((r) => r.uniqueId),
      ['c2'],
    );
  });

  it('hands the write-ahead log over: data accepted before the reload is delivered after it', async () => {
    const dataDir = mkdtempSync(join(root, 'd-'));
    const svc = new Service(await config(pipeline('test_capture', '\n    refuse: true'), dataDir, true), {
      logger: pino({ level: 'silent' }),
      metricsAddress: null,
      processMetrics: false,
    });
    await svc.start();
    const source = find<TestSource>(svc, 'test_source');
    for (let i = 0; i < 5; i++) await source.emit([rec(i)]); // acknowledged (in the log), not delivered
    svc.config.service.shutdownTimeoutMs = 300;
    await svc.reload(await config(pipeline('test_capture'), dataDir, true));
    await source.emit([rec(5)]);
    const capture = find<Capture>(svc, 'test_capture');
    const deadline = Date.now() + 30_000;
    while ((capture.received.flat() as MeterRecord[]).length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await svc.shutdown(5_000);
    assert.deepEqual(
      (capture.received.flat() as MeterRecord[]).map((r) => r.uniqueId),
      ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'],
    );
  });

  it('restarts a receiver whose settings changed', async () => {
    const dataDir = mkdtempSync(join(root, 'd-'));
    const svc = new Service(await config(pipeline('test_capture'), dataDir), {
      logger: pino({ level: 'silent' }),
      metricsAddress: null,
      processMetrics: false,
    });
    await svc.start();
    const before = find<TestSource>(svc, 'test_source');
    // test_source has no settings; a different receiver id stands in for "changed".
    await svc.reload(await config(pipeline('test_capture').replace(/test_source/g, 'test_source/renamed'), dataDir));
    const after = find<TestSource>(svc, 'test_source/renamed');
    assert.notEqual(after, before);
    assert.equal(before.started, false, 'the old receiver was stopped');
    assert.equal(after.started, true);
    await svc.shutdown(5_000);
  });

  it('goes back to the running configuration when the new one fails to start', async () => {
    const dataDir = mkdtempSync(join(root, 'd-'));
    const svc = new Service(await config(pipeline('test_capture'), dataDir), {
      logger: pino({ level: 'silent' }),
      metricsAddress: null,
      processMetrics: false,
    });
    await svc.start();
    const source = find<TestSource>(svc, 'test_source');
    await assert.rejects(svc.reload(await config(pipeline('broken_exporter'), dataDir)), /exporter "broken_exporter" failed to start: cannot connect/);
    await source.emit([rec(7)]);
    const capture = find<Capture>(svc, 'test_capture');
    await svc.shutdown(5_000);
    assert.deepEqual(
      (capture.received.flat() as MeterRecord[]).map((r) => r.uniqueId),
      ['c7'],
    );
  });
});
