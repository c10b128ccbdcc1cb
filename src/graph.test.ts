import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { type Capture, events, registerTestComponents, type TestSource } from '../test/helpers/components.js';
import { BackpressureError } from './component.js';
import { loadConfig } from './config/config.js';
import { ComponentRegistry } from './registry.js';
import { Service } from './service.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-graph-'));
let n = 0;

async function service(yaml: string, opts: { metricsAddress?: string | null; durable?: boolean } = {}) {
  const p = join(dir, `g${n++}.yaml`);
  writeFileSync(p, yaml);
  // A second file merged on top: its own data dir, durability on or off.
  const overlay = join(dir, `g${n++}.yaml`);
  writeFileSync(overlay, `service:\n  data_dir: ${mkdtempSync(join(dir, 'data-'))}\n  durability:\n    enabled: ${opts.durable ?? false}\n`);
  const r = new ComponentRegistry();
  registerTestComponents(r);
  const { config, errors } = await loadConfig([p, overlay], r, { env: {} });
  assert.deepEqual(errors, []);
  const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: opts.metricsAddress ?? null, processMetrics: false });
  const node = (kind: string, id: string) => svc.graph.nodes.find((x) => x.kind === kind && x.id === id)!.instance;
  return { svc, source: (id = 'test_source') => node('receiver', id) as TestSource, capture: (id: string) => node('exporter', id) as Capture };
}

const FANOUT = `receivers:
  test_source:
  test_source/b:
processors:
  test_tag:
exporters:
  test_capture/one:
  test_capture/two:
  test_capture/three:
service:
  pipelines:
    p1:
      receivers: [test_source, test_source/b]
      processors: [test_tag]
      exporters: [test_capture/one, test_capture/two]
    p2:
      receivers: [test_source]
      processors: [test_tag]
      exporters: [test_capture/two, test_capture/three]
`;

beforeEach(() => {
  events.length = 0;
});

describe('graph', () => {
  it('starts exporters, then processors, then receivers; stops in the reverse direction', async () => {
    const { svc } = await service(FANOUT);
    await svc.start();
    const startEvents = [...events];
    events.length = 0;
    await svc.shutdown(5_000);
    const idx = (list: string[], prefix: string) => list.findIndex((e) => e.startsWith(prefix));
    const lastIdx = (list: string[], prefix: string) => list.map((e) => e.startsWith(prefix)).lastIndexOf(true);
    assert.equal(startEvents.length, 7, startEvents.join(', '));
    assert.ok(lastIdx(startEvents, 'start exporter') < idx(startEvents, 'start processor'), startEvents.join(', '));
    assert.ok(lastIdx(startEvents, 'start processor') < idx(startEvents, 'start receiver'), startEvents.join(', '));
    assert.equal(events.length, 7, events.join(', '));
    assert.ok(lastIdx(events, 'shutdown receiver') < idx(events, 'shutdown processor'), events.join(', '));
    assert.ok(lastIdx(events, 'shutdown processor') < idx(events, 'shutdown exporter'), events.join(', '));
  });

  it('creates processors per pipeline and shares receivers and exporters', async () => {
    const { svc } = await service(FANOUT);
    const kinds = svc.graph.nodes.map((x) => `${x.kind}:${x.pipeline ? `${x.pipeline}/` : ''}${x.id}`).sort();
    assert.deepEqual(kinds, [
      'exporter:test_capture/one',
      'exporter:test_capture/three',
      'exporter:test_capture/two',
      'processor:p1/test_tag',
      'processor:p2/test_tag',
      'receiver:test_source',
      'receiver:test_source/b',
    ]);
  });

  it('fans out from one receiver to several pipelines and from a pipeline to several exporters', async () => {
    const { svc, source, capture } = await service(FANOUT);
    await svc.start();
    const rec = [{ meterApiName: 'm', meterTimeInMillis: 1, meterValue: 1 }];
    await source().emit(rec);
    await source('test_source/b').emit(rec);
    await svc.shutdown(5_000);
    assert.equal(capture('test_capture/one').received.length, 2); // p1 from both receivers
    assert.equal(capture('test_capture/two').received.length, 3); // p1 twice + p2 once
    assert.equal(capture('test_capture/three').received.length, 1); // p2 only
    const metrics = await svc.metrics.registry.getSingleMetricAsString('spanmeter_processor_incoming_items_total');
    assert.match(metrics, /processor="test_tag",pipeline="p1"\} 2/);
    assert.match(metrics, /processor="test_tag",pipeline="p2"\} 1/);
  });

  it('propagates back-pressure from a busy exporter to the receiver', async () => {
    const { svc, source } = await service(`receivers:
  test_source:
exporters:
  test_capture:
    delay_ms: 200
    max_in_flight: 1
service:
  pipelines:
    p:
      receivers: [test_source]
      exporters: [test_capture]
`);
    await svc.start();
    const rec = [{ meterApiName: 'm', meterTimeInMillis: 1, meterValue: 1 }];
    const first = source().emit(rec);
    await assert.rejects(source().emit(rec), (e: Error) => e instanceof BackpressureError && /busy/.test(e.message));
    await first;
    await svc.shutdown(5_000);
  });

  it('serves /metrics and readiness only once every component has started', async () => {
    const { svc } = await service(FANOUT, { metricsAddress: '127.0.0.1:0' });
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const [host, port] = svc.adminAddress!.split(':');
        request({ host, port: Number(port), path }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
          .on('error', reject)
          .end();
      });
    await svc.start();
    const ready = await get('/health/ready');
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.body) as { components: Record<string, string> }).components['processor:p1/test_tag'], 'started');
    assert.equal((await get('/health/live')).status, 200);
    const metrics = await get('/metrics');
    assert.match(metrics.body, /spanmeter_build_info\{version="/);
    assert.match(metrics.body, /# TYPE spanmeter_receiver_accepted_spans_total counter/);
    assert.match(metrics.body, /spanmeter_component_up\{kind="exporter",id="test_capture\/one"\} 1/);
    assert.equal((await get('/nope')).status, 404);
    await svc.shutdown(5_000);
  });

  it('stops the components that started when a later one fails to start', async () => {
    const r = new ComponentRegistry();
    registerTestComponents(r);
    r.register({
      kind: 'receiver',
      type: 'broken',
      description: 'fails to start',
      stability: 'development',
      produces: 'meter_events',
      configSchema: { type: 'object', additionalProperties: false },
      defaultConfig: () => ({}),
      create: () => ({
        start: async () => {
          throw new Error('port in use');
        },
      }),
    });
    const p = join(dir, `g${n++}.yaml`);
    writeFileSync(
      p,
      `receivers:\n  broken:\nexporters:\n  test_capture:\nservice:\n  pipelines:\n    p:\n      receivers: [broken]\n      exporters: [test_capture]\n`,
    );
    const { config } = await loadConfig([p], r, { env: {} });
    const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
    await assert.rejects(svc.start(), /receiver "broken" failed to start: port in use/);
    assert.ok(events.includes('start exporter:test_capture'));
    assert.ok(events.includes('shutdown exporter:test_capture'));
  });
});
