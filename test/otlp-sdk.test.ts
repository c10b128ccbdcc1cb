/**
 * The official OpenTelemetry JS SDK exports to the receiver with each official OTLP exporter
 * (protobuf over HTTP, JSON over HTTP, gRPC), with and without gzip; what arrives must equal what
 * was sent, field by field, with attribute types.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, context, trace, type AttributeValue, type Attributes as OtelAttributes, type HrTime } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { newAttributes, type AttrValue, type Attributes, type Span, type SpanBatch } from '../src/data/span.js';
import { metricValue, startTestReceiver, type TestReceiver } from '../receivers/otlp/testing.js';

const ns = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

/** What the OTLP JS transformer makes of an attribute value: integers → intValue, other numbers → doubleValue. */
function expectedValue(v: AttributeValue | undefined | null): AttrValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return (v as unknown[]).map((x) => expectedValue(x as AttributeValue));
  return v;
}

function expectedAttrs(a: OtelAttributes): Attributes {
  const out: Record<string, AttrValue> = newAttributes();
  for (const [k, v] of Object.entries(a)) out[k] = expectedValue(v);
  return out;
}

/** Makes a small trace with every attribute kind, events, a link, statuses and nanosecond times. */
function makeSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'litellm', 'deployment.environment': 'test', 'host.cpus': 2 }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('litellm', '1.81.0');
  const t0: HrTime = [1764355422, 941051903];
  const root = tracer.startSpan('Received Proxy Server Request', { kind: SpanKind.SERVER, startTime: t0 });
  const ctx = trace.setSpan(context.active(), root);
  const call = tracer.startSpan(
    'litellm_request',
    {
      kind: SpanKind.CLIENT,
      startTime: [1764355422, 941051999],
      attributes: {
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 11,
        'gen_ai.usage.output_tokens': 2,
        'gen_ai.cost.total_cost': 0.0000475,
        'metadata.user_api_key_spend': 0.5,
        'big.int': Number.MAX_SAFE_INTEGER,
        'neg.int': -42,
        'llm.is_streaming': false,
        'metadata.tags': ['a', 'b', ''],
        'int.list': [1, 2, 3],
        'double.list': [1.5, -2.25],
        'bool.list': [true, false],
        'empty.string': '',
        unicode: 'héllo ✓ 日本',
      },
      links: [{ context: root.spanContext(), attributes: { 'link.kind': 'parent-ish', n: 7 } }],
    },
    ctx,
  );
  call.addEvent('first_token', { 'delay.ms': 12.5, 'chunk.count': 1 }, [1764355423, 1]);
  call.addEvent('bare', [1764355423, 999999999]);
  call.setStatus({ code: SpanStatusCode.ERROR, message: 'RateLimitError: slow down' });
  call.end([1764355426, 431803904]);
  const db = tracer.startSpan('postgres', { kind: SpanKind.INTERNAL, startTime: [1764355422, 1] }, ctx);
  db.setStatus({ code: SpanStatusCode.OK });
  db.end([1764355422, 2]);
  tracer.startSpan('producer', { kind: SpanKind.PRODUCER, startTime: t0 }, ctx).end(t0);
  tracer.startSpan('consumer', { kind: SpanKind.CONSUMER, startTime: t0 }, ctx).end(t0);
  root.end([1764355426, 500000000]);
  return memory.getFinishedSpans();
}

function assertArrivedEqual(sent: ReadableSpan[], batches: SpanBatch[]): void {
  const got = new Map<string, { span: Span; resource: Attributes; scope: { name: string; version: string } }>();
  for (const b of batches)
    for (const rs of b.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const s of ss.spans) got.set(s.spanId, { span: s, resource: rs.resource.attributes, scope: { name: ss.scope.name, version: ss.scope.version } });
  assert.equal(got.size, sent.length, 'every span arrived exactly once');
  for (const r of sent) {
    const sc = r.spanContext();
    const g = got.get(sc.spanId);
    assert.ok(g, `span ${r.name} arrived`);
    const s = g.span;
    assert.equal(s.name, r.name);
    assert.equal(s.traceId, sc.traceId);
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.equal(s.parentSpanId, r.parentSpanContext?.spanId ?? '');
    assert.equal(s.flags & 0xff, sc.traceFlags);
    assert.equal(s.kind, r.kind + 1, `kind of ${r.name}`);
    assert.equal(s.startTimeUnixNano, ns(r.startTime), `start of ${r.name} to the nanosecond`);
    assert.equal(s.endTimeUnixNano, ns(r.endTime), `end of ${r.name} to the nanosecond`);
    assert.deepStrictEqual(s.attributes, expectedAttrs(r.attributes), `attributes (with types) of ${r.name}`);
    assert.deepStrictEqual(s.status, { code: r.status.code, message: r.status.message ?? '' });
    assert.deepStrictEqual(
      s.events,
      r.events.map((e) => ({
        timeUnixNano: ns(e.time),
        name: e.name,
        attributes: expectedAttrs(e.attributes ?? {}),
        droppedAttributesCount: e.droppedAttributesCount ?? 0,
      })),
    );
    assert.deepStrictEqual(
      s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: l.attributes })),
      r.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: expectedAttrs(l.attributes ?? {}) })),
    );
    assert.equal(s.droppedAttributesCount, r.droppedAttributesCount);
    assert.equal(s.droppedEventsCount, r.droppedEventsCount);
    assert.equal(s.droppedLinksCount, r.droppedLinksCount);
    assert.deepStrictEqual(g.resource, expectedAttrs(r.resource.attributes));
    assert.deepStrictEqual(g.scope, { name: r.instrumentationScope.name, version: r.instrumentationScope.version ?? '' });
  }
}

async function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<void> {
  try {
    const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve));
    assert.equal(result.code, 0, `export failed: ${result.error?.message ?? ''}`);
  } finally {
    await exporter.shutdown();
  }
}

async function exportWithResult(exporter: SpanExporter, spans: ReadableSpan[]): Promise<number> {
  try {
    return (await new Promise<{ code: number }>((resolve) => exporter.export(spans, resolve))).code;
  } finally {
    await exporter.shutdown();
  }
}

type Compression = 'none' | 'gzip';
const compressionOpt = (c: Compression) => ({ compression: c as never });

describe('official OpenTelemetry JS exporters → otlp receiver', () => {
  let r: TestReceiver;
  const spans = makeSpans();
  before(async () => {
    r = await startTestReceiver();
  });
  after(() => r.stop());

  for (const compression of ['none', 'gzip'] as const) {
    it(`exporter-trace-otlp-proto (HTTP protobuf), compression ${compression}`, async () => {
      r.next.batches.length = 0;
      const bytes = () =>
        Promise.all([
          metricValue(r.metrics.registry, 'spanmeter_receiver_wire_bytes_total', { transport: 'http' }),
          metricValue(r.metrics.registry, 'spanmeter_receiver_decoded_bytes_total', { transport: 'http' }),
        ]);
      const [wire0, dec0] = await bytes();
      await exportWith(new ProtoExporter({ url: `${r.httpBase}/v1/traces`, ...compressionOpt(compression) }), spans);
      assertArrivedEqual(
        spans,
        r.next.batches.map((b) => b.batch),
      );
      const [wire1, dec1] = await bytes();
      if (compression === 'gzip') assert.ok(wire1 - wire0 < dec1 - dec0, 'the body really was compressed');
      else assert.equal(wire1 - wire0, dec1 - dec0);
      assert.deepEqual(r.next.batches[0]!.ctx, { receiver: 'otlp', transport: 'http' });
    });

    it(`exporter-trace-otlp-http (HTTP JSON), compression ${compression}`, async () => {
      r.next.batches.length = 0;
      await exportWith(new JsonExporter({ url: `${r.httpBase}/v1/traces`, ...compressionOpt(compression) }), spans);
      assertArrivedEqual(
        spans,
        r.next.batches.map((b) => b.batch),
      );
    });

    it(`exporter-trace-otlp-grpc, compression ${compression}`, async () => {
      r.next.batches.length = 0;
      await exportWith(new GrpcExporter({ url: `http://${r.grpcAddress}`, ...compressionOpt(compression) }), spans);
      assertArrivedEqual(
        spans,
        r.next.batches.map((b) => b.batch),
      );
      assert.deepEqual(r.next.batches[0]!.ctx, { receiver: 'otlp', transport: 'grpc' });
    });
  }
});

describe('official exporters with auth', () => {
  let r: TestReceiver;
  const spans = makeSpans();
  before(async () => {
    r = await startTestReceiver({ auth: { bearer_token: 's3cret-token' } });
  });
  after(() => r.stop());

  it('HTTP protobuf with the bearer token succeeds; without it the export fails and nothing arrives', async () => {
    await exportWith(new ProtoExporter({ url: `${r.httpBase}/v1/traces`, headers: { Authorization: 'Bearer s3cret-token' } }), spans);
    assertArrivedEqual(
      spans,
      r.next.batches.map((b) => b.batch),
    );
    r.next.batches.length = 0;
    const exporter = new ProtoExporter({ url: `${r.httpBase}/v1/traces` });
    const result = await new Promise<{ code: number }>((resolve) => exporter.export(spans, resolve));
    await exporter.shutdown();
    assert.equal(result.code, 1, 'export without credentials fails');
    assert.equal(r.next.batches.length, 0);
  });

  it('gRPC with the token in metadata succeeds; with a wrong token it fails', async () => {
    r.next.batches.length = 0;
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer s3cret-token');
    await exportWith(new GrpcExporter({ url: `http://${r.grpcAddress}`, metadata: md }), spans);
    assertArrivedEqual(
      spans,
      r.next.batches.map((b) => b.batch),
    );
    r.next.batches.length = 0;
    const bad = new grpc.Metadata();
    bad.set('authorization', 'Bearer nope');
    const exporter = new GrpcExporter({ url: `http://${r.grpcAddress}`, metadata: bad });
    const result = await new Promise<{ code: number }>((resolve) => exporter.export(spans, resolve));
    await exporter.shutdown();
    assert.equal(result.code, 1);
    assert.equal(r.next.batches.length, 0);
  });
});

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed certificate for localhost and 127.0.0.1 made with openssl (`extra`: more openssl arguments). */
function selfSigned(prefix: string, extra: string[]): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const subject = ['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', ...subject, ...extra], {
    stdio: 'ignore',
  });
  return { cert, key };
}

describe(
  'official exporters over TLS (self-signed certificate made with openssl)',
  { skip: haveOpenssl() ? false : 'openssl is not installed on this machine: TLS tests skipped' },
  () => {
    let r: TestReceiver;
    let ca: Buffer;
    const spans = makeSpans();
    before(async () => {
      const { cert, key } = selfSigned('spanmeter-otlp-tls-', []);
      ca = readFileSync(cert);
      r = await startTestReceiver({ tls: { cert_file: cert, key_file: key } });
    });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    after(() => r?.stop());

    it('HTTP protobuf over https', async () => {
      assert.match(r.httpBase, /^https:/);
      r.next.batches.length = 0;
      await exportWith(new ProtoExporter({ url: `${r.httpBase}/v1/traces`, httpAgentOptions: { ca }, ...compressionOpt('gzip') }), spans);
      assertArrivedEqual(
        spans,
        r.next.batches.map((b) => b.batch),
      );
    });

    it('gRPC over TLS', async () => {
      r.next.batches.length = 0;
      await exportWith(new GrpcExporter({ url: `https://${r.grpcAddress}`, credentials: grpc.credentials.createSsl(ca), ...compressionOpt('gzip') }), spans);
      assertArrivedEqual(
        spans,
        r.next.batches.map((b) => b.batch),
      );
    });

    it('mutual TLS: client_ca_file requires a client certificate', async () => {
      const { cert, key } = selfSigned('spanmeter-otlp-mtls-', ['-addext', 'basicConstraints=critical,CA:TRUE']);
      const m = await startTestReceiver({ tls: { cert_file: cert, key_file: key, client_ca_file: cert }, protocols: { grpc: { enabled: false } } });
      try {
        const pem = readFileSync(cert);
        const withCert = await exportWithResult(
          new ProtoExporter({ url: `${m.httpBase}/v1/traces`, httpAgentOptions: { ca: pem, cert: pem, key: readFileSync(key) } }),
          spans,
        );
        assert.equal(withCert, 0);
        assertArrivedEqual(
          spans,
          m.next.batches.map((b) => b.batch),
        );
        m.next.batches.length = 0;
        const without = await exportWithResult(
          new ProtoExporter({ url: `${m.httpBase}/v1/traces`, httpAgentOptions: { ca: pem }, timeoutMillis: 3000 }),
          spans,
        );
        assert.equal(without, 1, 'no client certificate: the handshake fails');
        assert.equal(m.next.batches.length, 0);
      } finally {
        await m.stop();
      }
    });

    it('a plain-text gRPC client cannot talk to the TLS endpoint', async () => {
      r.next.batches.length = 0;
      const exporter = new GrpcExporter({ url: `http://${r.grpcAddress}`, timeoutMillis: 3000 });
      const result = await new Promise<{ code: number }>((resolve) => exporter.export(spans, resolve));
      await exporter.shutdown();
      assert.equal(result.code, 1);
      assert.equal(r.next.batches.length, 0);
    });
  },
);
