/**
 * OTLP forward exporter, end to end through the pipeline engine: spans from a test receiver are
 * forwarded unchanged (protobuf over HTTP) to a local OTLP endpoint; a dead downstream never blocks
 * the pipeline, and a full queue drops the oldest batch and counts it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { formatError, loadConfig } from '../src/config/config.js';
import type { SpanBatch } from '../src/data/span.js';
import { decodeOtlpProto, fromOtlpJson, toOtlpJson } from '../src/otlp/index.js';
import { createRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { registerTestComponents, type TestSource } from './helpers/components.js';
import { otlpRequest } from './helpers/litellm-spans.js';

const tmpRoot = mkdtempSync(join(tmpdir(), 'spanmeter-otlp-fwd-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

const batchOf = (i: number): SpanBatch => fromOtlpJson(otlpRequest([{ responseId: `chatcmpl-${i}`, promptTokens: 10 + i, completionTokens: 5 }]));
const canon = (b: SpanBatch) => JSON.stringify(toOtlpJson(b));

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

let seq = 0;
async function start(endpoint: string, extra = '') {
  const file = join(tmpRoot, `p${++seq}.yaml`);
  writeFileSync(
    file,
    `receivers:
  test_span_source:
exporters:
  otlp:
    endpoint: ${endpoint}
    timeout: 2s
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms, max_elapsed_time: 10s }${extra}
service:
  data_dir: ${join(tmpRoot, `d${seq}`)}
  pipelines:
    forward:
      receivers: [test_span_source]
      exporters: [otlp]
`,
  );
  const registry = await createRegistry();
  registerTestComponents(registry);
  const { config, errors } = await loadConfig([file], registry, { env: {} });
  assert.deepEqual(errors.map(formatError), []);
  const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
  await svc.start();
  return { svc, source: svc.graph.nodes.find((n) => n.id === 'test_span_source')!.instance as TestSource };
}

describe('otlp exporter (forward), end to end', () => {
  let server: Server;
  let port = 0;
  const received: SpanBatch[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse, body: Buffer, n: number) => void;
  let n = 0;
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handler(req, res, Buffer.concat(chunks), ++n));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('forwards every span unchanged as OTLP/HTTP protobuf (gzip), retrying 503s', async () => {
    received.length = 0;
    n = 0;
    handler = (req, res, body, i) => {
      assert.equal(req.url, '/v1/traces');
      assert.equal(req.headers['content-type'], 'application/x-protobuf');
      assert.equal(req.headers['content-encoding'], 'gzip');
      assert.equal(req.headers.authorization, 'Bearer t0k3n');
      if (i % 3 === 1) {
        res.writeHead(503, { 'retry-after': '0' });
        return res.end();
      }
      received.push(decodeOtlpProto(gunzipSync(body)));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    };
    const { svc, source } = await start(`http://127.0.0.1:${port}`, '\n    headers: { Authorization: "Bearer t0k3n" }');
    const sent = Array.from({ length: 20 }, (_, i) => batchOf(i));
    for (const b of sent) await source.emit(b);
    await svc.shutdown(10_000);
    assert.deepEqual(received.map(canon).sort(), sent.map(canon).sort());
    const reg = svc.metrics.registry;
    assert.equal(await metric(reg, 'spanmeter_exporter_sent_records_total', { exporter: 'otlp' }), 20 * 3);
    assert.ok((await metric(reg, 'spanmeter_exporter_retries_total', { exporter: 'otlp' })) > 0);
  });

  it('a downstream that never answers does not block the pipeline; a full queue drops the oldest and counts it', async () => {
    const hanging: ServerResponse[] = [];
    handler = (_req, res) => void hanging.push(res); // never answers
    const { svc, source } = await start(`http://127.0.0.1:${port}`, '\n    queue_size: 5');
    // Every emit resolves although nothing is ever acknowledged downstream.
    for (let i = 0; i < 50; i++) await source.emit(batchOf(i));
    const reg = svc.metrics.registry;
    const dropped = await metric(reg, 'spanmeter_exporter_dropped_batches_total', { exporter: 'otlp', reason: 'queue_full' });
    assert.ok(dropped >= 50 - 5 - 1, `dropped ${dropped} oldest batches`);
    assert.ok((await metric(reg, 'spanmeter_exporter_queue_size', { exporter: 'otlp' })) <= 5 * 3);
    await svc.shutdown(300);
    for (const r of hanging) r.destroy();
    assert.equal(await metric(reg, 'spanmeter_exporter_sent_records_total', { exporter: 'otlp' }), 0);
    assert.equal(await metric(reg, 'spanmeter_exporter_send_failed_records_total', { exporter: 'otlp' }), 50 * 3, 'every span accounted for as not forwarded');
  });
});
