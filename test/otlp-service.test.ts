/** The otlp receiver inside a real Service, configured from pipeline.yaml (env expansion, validation, wiring). */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { formatError, loadConfig } from '../src/config/config.js';
import { ComponentRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { decodeOtlpJson, encodeOtlpProto } from '../src/otlp/index.js';
import otlpFactory from '../receivers/otlp/index.js';
import type { OtlpReceiver } from '../receivers/otlp/otlp.js';
import litellmFactory from '../processors/litellm/index.js';
import { SPAN_ATTRIBUTES, SPAN_SELECTORS } from '../integrations/litellm/span.js';
import type { LlmCall } from '../src/data/llm-call.js';
import { spanCount, type SpanBatch } from '../src/data/span.js';
import { request } from '../receivers/otlp/testing.js';
import { registerTestComponents, type Capture } from './helpers/components.js';
import { otlpRequest } from './helpers/litellm-spans.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-otlp-svc-'));

function registry(): ComponentRegistry {
  const r = new ComponentRegistry();
  r.register(otlpFactory, 'receivers/otlp');
  r.register(litellmFactory, 'processors/litellm');
  registerTestComponents(r);
  return r;
}

const yaml = (receiver: string) => `receivers:
  otlp:
${receiver}
exporters:
  test_capture:
service:
  data_dir: ${dir}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [test_capture]
`;

describe('otlp receiver in a Service', () => {
  it('starts from pipeline.yaml on port 0, exposes its addresses, delivers spans and stops', async () => {
    const p = join(dir, 'ok.yaml');
    writeFileSync(
      p,
      yaml(`    protocols:
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 1MiB
      grpc:
        endpoint: 127.0.0.1:0
    auth:
      bearer_token: \${env:OTLP_TOKEN}`),
    );
    const { config, errors } = await loadConfig([p], registry(), { env: { OTLP_TOKEN: 'tok' } });
    assert.deepEqual(errors.map(formatError), []);
    const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
    await svc.start();
    try {
      const rx = svc.graph.nodes.find((n) => n.kind === 'receiver' && n.id === 'otlp')!.instance as OtlpReceiver;
      const addr = rx.boundAddresses();
      assert.match(addr.http!, /^127\.0\.0\.1:\d+$/);
      assert.match(addr.grpc!, /^127\.0\.0\.1:\d+$/);
      const body = gzipSync(encodeOtlpProto(decodeOtlpJson(JSON.stringify(otlpRequest([{ responseId: 'svc-1' }])))));
      const denied = await request(`http://${addr.http}/v1/traces`, {
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
        body,
      });
      assert.equal(denied.status, 401);
      const res = await request(`http://${addr.http}/v1/traces`, {
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: 'Bearer tok' },
        body,
      });
      assert.equal(res.status, 200);
      const capture = svc.graph.nodes.find((n) => n.id === 'test_capture')!.instance as Capture;
      assert.equal(capture.received.length, 1);
      const metrics = await svc.metrics.registry.metrics();
      assert.match(metrics, /spanmeter_receiver_accepted_spans_total\{receiver="otlp",transport="http"\} 3/);
      assert.match(metrics, /spanmeter_receiver_requests_total\{receiver="otlp",transport="http",outcome="unauthorized"\} 1/);
    } finally {
      await svc.shutdown(5_000);
    }
  });

  it('decodes only the span attributes and spans its pipelines read: those of litellm, or all when a pipeline takes the spans as they are', async () => {
    const pipelines = (spansToo: boolean) => `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
      grpc:
        enabled: false
processors:
  litellm:
exporters:
  test_capture/calls:
  test_capture/spans:
service:
  data_dir: ${join(dir, `data-${spansToo}`)}
  pipelines:
    metering:
      receivers: [otlp]
      processors: [litellm]
      exporters: [test_capture/calls]
${spansToo ? '    forward:\n      receivers: [otlp]\n      exporters: [test_capture/spans]\n' : ''}`;
    const body = encodeOtlpProto(decodeOtlpJson(JSON.stringify(otlpRequest([{ responseId: 'proj-1' }]))));
    const counts: number[][] = [];
    for (const spansToo of [false, true]) {
      const p = join(dir, `projection-${spansToo}.yaml`);
      writeFileSync(p, pipelines(spansToo));
      const { config, errors } = await loadConfig([p], registry(), { env: {} });
      assert.deepEqual(errors.map(formatError), []);
      const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
      await svc.start();
      try {
        const rx = svc.graph.nodes.find((n) => n.kind === 'receiver' && n.id === 'otlp')!.instance as OtlpReceiver;
        assert.equal(rx.spanAttributes === undefined, spansToo);
        if (!spansToo) assert.deepEqual([...rx.spanAttributes!].sort(), [...SPAN_ATTRIBUTES].sort());
        // Spans that are not LLM calls are not built unless another pipeline takes them.
        assert.equal(rx.spanSelector, spansToo ? undefined : SPAN_SELECTORS);
        const res = await request(`http://${rx.boundAddresses().http}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body });
        assert.equal(res.status, 200);
        // Counted the same either way: spans accepted, examined by litellm, and dropped as not LLM calls.
        const metric = async (name: string, labels: Record<string, string>) => {
          const m = await svc.metrics.registry.getSingleMetric(name)!.get();
          return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
        };
        counts.push([
          await metric('spanmeter_receiver_accepted_spans_total', { receiver: 'otlp' }),
          await metric('spanmeter_litellm_spans_seen_total', { pipeline: 'metering' }),
          await metric('spanmeter_processor_dropped_total', { processor: 'litellm', pipeline: 'metering', reason: 'not_llm_call' }),
        ]);
        const capture = (id: string) => svc.graph.nodes.find((n) => n.id === id)!.instance as Capture;
        const calls = capture('test_capture/calls').received.flat() as unknown as LlmCall[];
        assert.equal(calls.length, 1);
        assert.equal(calls[0]!.id, 'proj-1');
        if (spansToo) {
          // The forwarded spans keep every attribute, among them ones litellm does not read.
          const spans = (capture('test_capture/spans').received as unknown as SpanBatch[]).flatMap((b) =>
            b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
          );
          assert.ok(spans.some((sp) => Object.keys(sp.attributes).some((k) => !SPAN_ATTRIBUTES.has(k))));
        }
      } finally {
        await svc.shutdown(5_000);
      }
    }
    const spans = spanCount(decodeOtlpJson(JSON.stringify(otlpRequest([{ responseId: 'proj-1' }]))));
    assert.ok(spans > 1, 'the request has spans that are not LLM calls');
    assert.deepEqual(counts, [
      [spans, spans, spans - 1],
      [spans, spans, spans - 1],
    ]);
  });

  it('reports config mistakes with their path', async () => {
    const p = join(dir, 'bad.yaml');
    writeFileSync(
      p,
      yaml(`    protocols:
      http:
        endpoint: 127.0.0.1:0
        max_body: 5
      grpc:
        enabled: false
    cors: {}`),
    );
    const { errors } = await loadConfig([p], registry(), { env: {} });
    const text = errors.map(formatError).join('\n');
    assert.match(text, /max_body/);
    assert.match(text, /unknown key/);
    assert.match(text, /cors/);
    const p2 = join(dir, 'none.yaml');
    writeFileSync(p2, yaml(`    protocols:\n      http:\n        enabled: false\n      grpc:\n        enabled: false`));
    const r2 = await loadConfig([p2], registry(), { env: {} });
    assert.match(r2.errors.map(formatError).join('\n'), /at least one protocol/);
  });
});
