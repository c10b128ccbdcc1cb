/**
 * Every layout fixture (integrations/litellm/testdata) through the real OTLP receiver in a Service,
 * over HTTP/protobuf, HTTP/JSON and gRPC: the records equal the processors' own for the request,
 * which the layout tests hold to the scenario's records. The receiver builds only the spans and
 * attributes the litellm processor reads; nothing billable may be lost to that.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { formatError, loadConfig } from '../src/config/config.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import { decodeOtlpJson, encodeOtlpProto } from '../src/otlp/index.js';
import { ComponentRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import otlpFactory from '../receivers/otlp/index.js';
import type { OtlpReceiver } from '../receivers/otlp/otlp.js';
import { traceServiceDefinition } from '../receivers/otlp/grpc.js';
import { request } from '../receivers/otlp/testing.js';
import litellmFactory from '../processors/litellm/index.js';
import amberfloFactory from '../processors/amberflo/index.js';
import { committed, recordsOf, requestPath } from '../integrations/litellm/testdata/fixtures.js';
import { LAYOUTS } from '../integrations/litellm/testdata/render.js';
import { SCENARIOS } from '../integrations/litellm/testdata/scenarios.js';
import { registerTestComponents, type Capture } from './helpers/components.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-layouts-'));
const GrpcClient = grpc.makeGenericClientConstructor(traceServiceDefinition, 'TraceService');

function registry(): ComponentRegistry {
  const r = new ComponentRegistry();
  r.register(otlpFactory, 'receivers/otlp');
  r.register(litellmFactory, 'processors/litellm');
  r.register(amberfloFactory, 'processors/amberflo');
  registerTestComponents(r);
  return r;
}

type Transport = 'http-protobuf' | 'http-json' | 'grpc';

/** A collector of its own per layout: the layouts of one scenario share call and response ids, so one collector would drop them as duplicates. */
async function service(transport: Transport, layout: string): Promise<{ svc: Service; rx: OtlpReceiver; capture: Capture }> {
  const p = join(dir, `${transport}-${layout}.yaml`);
  writeFileSync(
    p,
    `receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
      grpc: { endpoint: 127.0.0.1:0 }
processors:
  litellm:
  amberflo: { mode: clean, hosted_env: prod, send_object_metadata: true }
exporters:
  test_capture:
service:
  data_dir: ${join(dir, `data-${transport}-${layout}`)}
  durability:
    sync_delay: 0ms
  pipelines:
    metering:
      receivers: [otlp]
      processors: [litellm, amberflo]
      exporters: [test_capture]
`,
  );
  const { config, errors } = await loadConfig([p], registry(), { env: {} });
  assert.deepEqual(errors.map(formatError), []);
  const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
  await svc.start();
  const rx = svc.graph.nodes.find((n) => n.kind === 'receiver' && n.id === 'otlp')!.instance as OtlpReceiver;
  const capture = svc.graph.nodes.find((n) => n.id === 'test_capture')!.instance as Capture;
  return { svc, rx, capture };
}

function grpcExport(address: string, body: Uint8Array): Promise<void> {
  const client = new GrpcClient(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      traceServiceDefinition.Export!.path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      (err: grpc.ServiceError | null) => {
        client.close();
        if (err) reject(err);
        else resolve();
      },
    );
  });
}

async function send(transport: Transport, rx: OtlpReceiver, json: object): Promise<void> {
  const text = JSON.stringify(json);
  const addr = rx.boundAddresses();
  if (transport === 'grpc') return grpcExport(addr.grpc!, encodeOtlpProto(decodeOtlpJson(text)));
  const res =
    transport === 'http-json'
      ? await request(`http://${addr.http}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: text })
      : await request(`http://${addr.http}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body: encodeOtlpProto(decodeOtlpJson(text)) });
  assert.equal(res.status, 200, res.body.toString());
}

/** Records arrive in batches after the write-ahead log: wait for them (bounded). */
async function drain(capture: Capture, want: number): Promise<MeterRecord[]> {
  const deadline = Date.now() + 10_000;
  let got = capture.received.flat() as MeterRecord[];
  while (got.length < want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
    got = capture.received.flat() as MeterRecord[];
  }
  await new Promise((r) => setTimeout(r, 20)); // nothing more than expected arrives
  return capture.received.splice(0).flat() as MeterRecord[];
}

for (const transport of ['http-protobuf', 'http-json', 'grpc'] as const) {
  describe(`layout fixtures through the otlp receiver over ${transport}`, () => {
    for (const layout of LAYOUTS) {
      it(`${layout}: every scenario yields its records`, async () => {
        const ctx = await service(transport, layout);
        try {
          for (const s of SCENARIOS) {
            const json = committed(requestPath(s.name, layout)) as object;
            const want = await recordsOf(json);
            await send(transport, ctx.rx, json);
            assert.deepEqual(await drain(ctx.capture, want.length), want, `${s.name}.${layout}`);
          }
        } finally {
          await ctx.svc.shutdown(5_000);
        }
      });
    }
  });
}
