/**
 * OTLP logs forwarded end to end: a Service with the otlp receiver and a `logs` pipeline to the otlp
 * exporter, pointed at a local HTTP server that records what it gets. Logs posted in OTLP/JSON,
 * protobuf and over gRPC arrive as protobuf at /v1/logs with the same records; spans still go to
 * /v1/traces; without a logs pipeline the receiver answers as before (not kept).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { BackpressureError, defineFactory } from '../src/component.js';
import { formatError, loadConfig } from '../src/config/config.js';
import type { LogsBatch } from '../src/data/logs.js';
import { spanCount } from '../src/data/span.js';
import { decodeOtlpJson, decodeOtlpProto, encodeOtlpProto } from '../src/otlp/index.js';
import { createRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { logsServiceDefinition } from '../receivers/otlp/grpc.js';
import { ExportLogsServiceRequest } from '../receivers/otlp/logs.js';
import type { OtlpReceiver } from '../receivers/otlp/otlp.js';
import { request } from '../receivers/otlp/testing.js';
import { registerTestComponents } from './helpers/components.js';
import { otlpRequest } from './helpers/litellm-spans.js';

const tmpRoot = mkdtempSync(join(tmpdir(), 'spanmeter-logs-fwd-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

const PB = { 'content-type': 'application/x-protobuf' };
const JSONH = { 'content-type': 'application/json' };

/** An OTLP/JSON logs request in canonical form (int64 as strings, enums as numbers, hex ids): `n` records, numbered from `from`. */
function logsJson(n: number, from = 0): Record<string, unknown> {
  const records = Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      timeUnixNano: String(1764355422941051904n + BigInt(i)),
      observedTimeUnixNano: String(1764355422941060000n + BigInt(i)),
      severityNumber: 9,
      severityText: 'INFO',
      body: { kvlistValue: { values: [{ key: 'content', value: { stringValue: `prompt ${i}` } }] } },
      attributes: [
        { key: 'event_name', value: { stringValue: 'gen_ai.content.prompt' } },
        { key: 'seq', value: { intValue: String(i) } },
      ],
      flags: 1,
      traceId: '30fc9e3356c21227177859ff28b14452',
      spanId: i % 2 ? '3b488ee8568c08bd' : undefined,
      eventName: 'gen_ai.content.prompt',
    };
  });
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'litellm' } }] },
        scopeLogs: [{ scope: { name: 'litellm', version: '1.0' }, logRecords: records }],
      },
    ],
  };
}

/** A protobuf logs request read back as canonical OTLP/JSON (for comparison with what was sent). */
function asJson(pb: Uint8Array): Record<string, unknown> {
  const obj = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(pb), { longs: String, enums: Number, bytes: String }) as Record<
    string,
    unknown
  >;
  return JSON.parse(
    JSON.stringify(obj, (k, v: unknown) => ((k === 'traceId' || k === 'spanId') && typeof v === 'string' ? Buffer.from(v, 'base64').toString('hex') : v)),
  ) as Record<string, unknown>;
}
/** The canonical JSON as sent, without the absent fields. */
const sent = (doc: Record<string, unknown>) => JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;

/** Records what the downstream Collector gets: path and (gunzipped) body. */
class Downstream {
  server!: Server;
  got: { path: string; body: Buffer }[] = [];
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        this.got.push({ path: req.url ?? '', body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  /** Waits until `n` requests arrived at `path`. */
  async waitFor(path: string, n: number): Promise<Buffer[]> {
    for (;;) {
      const at = this.got.filter((g) => g.path === path);
      if (at.length >= n) return at.map((g) => g.body);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

let seq = 0;
async function configFile(text: string): Promise<string> {
  const file = join(tmpRoot, `p${++seq}.yaml`);
  writeFileSync(file, text);
  return file;
}

const receivers = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
      grpc:
        endpoint: 127.0.0.1:0
`;

async function startService(text: string, extra?: (r: Awaited<ReturnType<typeof createRegistry>>) => void) {
  const registry = await createRegistry();
  registerTestComponents(registry);
  extra?.(registry);
  const { config, errors } = await loadConfig([await configFile(text)], registry, { env: {} });
  assert.deepEqual(errors.map(formatError), []);
  const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
  await svc.start();
  const rx = svc.graph.nodes.find((n) => n.kind === 'receiver' && n.id === 'otlp')!.instance as OtlpReceiver;
  return { svc, rx, http: `http://${rx.boundAddresses().http}`, grpcAddress: rx.boundAddresses().grpc!, registry, config: config! };
}

function grpcLogs(address: string, body: Uint8Array): Promise<Buffer> {
  const client = new (grpc.makeGenericClientConstructor(logsServiceDefinition, 'LogsService'))(address, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest(
      logsServiceDefinition.Export!.path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      (err: grpc.ServiceError | null, out?: Buffer) => {
        client.close();
        if (err) reject(err);
        else resolve(out!);
      },
    ),
  );
}

describe('otlp logs forwarded by a logs pipeline', () => {
  const down = new Downstream();
  let endpoint = '';
  before(async () => {
    endpoint = await down.start();
  });
  after(() => new Promise<void>((r) => down.server.close(() => r())));

  const forwarding = (dataDir: string, logs = true) => `${receivers}exporters:
  otlp/forward:
    endpoint: ${endpoint}
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms, max_elapsed_time: 5s }
service:
  data_dir: ${join(tmpRoot, dataDir)}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp/forward]
${logs ? '    logs:\n      receivers: [otlp]\n      exporters: [otlp/forward]\n' : ''}`;

  it('forwards logs posted as JSON, protobuf and over gRPC to <endpoint>/v1/logs as protobuf with the same records, answering plain success', async () => {
    down.got = [];
    const { svc, rx, http, grpcAddress } = await startService(forwarding('d-fwd'));
    try {
      assert.equal(rx.forwardsLogs, true);
      assert.equal(svc.graph.durable.length, 0, 'no write-ahead log for forwarded data');
      const doc = logsJson(3);
      // JSON: converted to protobuf once, by the receiver.
      let res = await request(`${http}/v1/logs`, { headers: JSONH, body: JSON.stringify(doc) });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body.toString()), {}, 'a plain success, no partialSuccess');
      // Protobuf (gzip on the wire): passed on as received.
      const pb = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(asJsonInput(logsJson(2, 10)))).finish();
      res = await request(`${http}/v1/logs`, { headers: { ...PB, 'content-encoding': 'gzip' }, body: gzipSync(pb) });
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 0, 'an empty ExportLogsServiceResponse');
      // gRPC.
      const grpcPb = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(asJsonInput(logsJson(4, 20)))).finish();
      const reply = await grpcLogs(grpcAddress, grpcPb);
      assert.equal(reply.length, 0, 'no partial_success over gRPC');

      const bodies = await down.waitFor('/v1/logs', 3);
      assert.equal(bodies.length, 3);
      const byFirst = new Map(bodies.map((b) => [String((asJson(b) as any).resourceLogs[0].scopeLogs[0].logRecords[0].attributes[1].value.intValue), b]));
      assert.deepEqual(asJson(byFirst.get('0')!), sent(doc), 'the JSON request arrives with the same records');
      assert.deepEqual(byFirst.get('10'), Buffer.from(pb), 'the protobuf request arrives byte for byte');
      assert.deepEqual(byFirst.get('20'), Buffer.from(grpcPb), 'the gRPC request arrives byte for byte');
      assert.equal(down.got.filter((g) => g.path === '/v1/traces').length, 0, 'logs never go to /v1/traces');

      // Spans still go down the traces pipeline to /v1/traces.
      const batch = decodeOtlpJson(JSON.stringify(otlpRequest([{ responseId: 'fwd-1' }])));
      res = await request(`${http}/v1/traces`, { headers: PB, body: encodeOtlpProto(batch) });
      assert.equal(res.status, 200);
      const [traces] = await down.waitFor('/v1/traces', 1);
      assert.equal(spanCount(decodeOtlpProto(traces!)), spanCount(batch));
      assert.equal(down.got.filter((g) => g.path === '/v1/logs').length, 3, 'spans never go to /v1/logs');

      const sentBy = async (signal: string) => {
        const m = await svc.metrics.registry.getSingleMetric('spanmeter_exporter_forwarded_items_total')!.get();
        return m.values.filter((v) => v.labels.signal === signal && v.labels.outcome === 'sent').reduce((s, v) => s + v.value, 0);
      };
      // The exporter counts a batch once the downstream's answer is back, a moment after the downstream got it.
      for (let i = 0; i < 500 && (await sentBy('spans')) < spanCount(batch); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await sentBy('logs'), 9);
      assert.equal(await sentBy('spans'), spanCount(batch));
    } finally {
      await svc.shutdown(5_000);
    }
  });

  it('without a logs pipeline answers as before: partial_success, nothing forwarded; a reload adding one forwards them', async () => {
    down.got = [];
    const { svc, rx, http, grpcAddress, registry } = await startService(forwarding('d-nologs', false));
    try {
      assert.equal(rx.forwardsLogs, false);
      const res = await request(`${http}/v1/logs`, { headers: JSONH, body: JSON.stringify(logsJson(2)) });
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body.toString()).partialSuccess.rejectedLogRecords, '2');
      const pb = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(asJsonInput(logsJson(1)))).finish();
      assert.ok((await grpcLogs(grpcAddress, pb)).length > 0, 'partial_success over gRPC');

      // The same receiver (kept running by the reload) is re-pointed at the new logs pipeline.
      const { config, errors } = await loadConfig([await configFile(forwarding('d-nologs'))], registry, { env: {} });
      assert.deepEqual(errors.map(formatError), []);
      await svc.reload(config!);
      const rx2 = svc.graph.nodes.find((n) => n.kind === 'receiver' && n.id === 'otlp')!.instance;
      assert.equal(rx2, rx, 'the receiver kept running');
      assert.equal(rx.forwardsLogs, true);
      const again = await request(`${http}/v1/logs`, { headers: PB, body: pb });
      assert.equal(again.status, 200);
      assert.equal(again.body.length, 0);
      const [got] = await down.waitFor('/v1/logs', 1);
      assert.deepEqual(got, Buffer.from(pb));
      assert.equal(down.got.filter((g) => g.path === '/v1/logs').length, 1, 'only the request made after the reload was forwarded');
    } finally {
      await svc.shutdown(5_000);
    }
  });

  it('answers back-pressure from a logs pipeline as for traces: 429 with Retry-After, RESOURCE_EXHAUSTED', async () => {
    const received: LogsBatch[] = [];
    let refuse = true;
    const { svc, http, grpcAddress } = await startService(
      `${receivers}exporters:
  logs_sink:
service:
  data_dir: ${join(tmpRoot, 'd-bp')}
  pipelines:
    events:
      receivers: [otlp]
      exporters: [logs_sink]
`,
      (r) =>
        r.register(
          defineFactory({
            kind: 'exporter',
            type: 'logs_sink',
            description: 'Test exporter taking logs only.',
            stability: 'development',
            consumes: 'logs',
            configSchema: { type: 'object', additionalProperties: false },
            defaultConfig: () => ({}),
            create: () => ({
              async consume(b: LogsBatch) {
                if (refuse) throw new BackpressureError('full', 3);
                received.push(b);
              },
            }),
          }),
          'test',
        ),
    );
    try {
      const body = JSON.stringify(logsJson(2));
      const res = await request(`${http}/v1/logs`, { headers: JSONH, body });
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '3');
      await assert.rejects(
        grpcLogs(grpcAddress, ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(asJsonInput(logsJson(1)))).finish()),
        (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED,
      );
      assert.equal(received.length, 0);
      refuse = false;
      const ok = await request(`${http}/v1/logs`, { headers: JSONH, body });
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body.toString()), {});
      assert.equal(received.length, 1);
      assert.equal(received[0]!.logRecords, 2);
      assert.deepEqual(asJson(received[0]!.protobuf), sent(logsJson(2)));
      // The pipeline carries only logs: spans from this receiver are answered as not kept.
      const tr = await request(`${http}/v1/traces`, { headers: JSONH, body: JSON.stringify(otlpRequest([{ responseId: 'x' }])) });
      assert.equal(tr.status, 200);
      assert.equal(
        JSON.parse(tr.body.toString()).partialSuccess.rejectedSpans,
        String(spanCount(decodeOtlpJson(JSON.stringify(otlpRequest([{ responseId: 'x' }]))))),
      );
    } finally {
      await svc.shutdown(5_000);
    }
  });

  it('refuses malformed JSON logs with 400 when forwarding (bad ids, wrong shapes)', async () => {
    down.got = [];
    const { svc, http } = await startService(forwarding('d-bad'));
    try {
      const doc = logsJson(1) as any;
      doc.resourceLogs[0].scopeLogs[0].logRecords[0].traceId = 'xyz';
      let res = await request(`${http}/v1/logs`, { headers: JSONH, body: JSON.stringify(doc) });
      assert.equal(res.status, 400);
      assert.match(JSON.parse(res.body.toString()).message, /traceId must be 32 hex characters/);
      res = await request(`${http}/v1/logs`, {
        headers: JSONH,
        body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: 5 }] }] }] }),
      });
      assert.equal(res.status, 400);
      assert.equal(down.got.length, 0);
    } finally {
      await svc.shutdown(5_000);
    }
  });
});

/** Canonical OTLP/JSON → the object protobufjs' fromObject takes (ids as bytes). */
function asJsonInput(doc: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(doc), (k, v: unknown) =>
    (k === 'traceId' || k === 'spanId') && typeof v === 'string' ? Buffer.from(v, 'hex').toString('base64') : v,
  ) as Record<string, unknown>;
}
