import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { BackpressureError, PermanentError } from '../../src/component.js';
import { configOf, resolveComponentConfig } from '../../src/config/component-config.js';
import { decodeExportResponseProto, decodeOtlpJson, decodeRpcStatusProto, encodeOtlpProto } from '../../src/otlp/index.js';
import { type BodyError, readBody } from '../../src/server/body.js';
import { configSchema, resolve } from './config.js';
import factory from './index.js';
import protobuf from 'protobufjs';
import { logsServiceDefinition, traceServiceDefinition } from './grpc.js';
import { dropInvalidSpans } from './otlp.js';
import { spanCount } from '../../src/data/span.js';
import { metricValue, request, startTestReceiver } from './testing.js';

const json = (spans: object[]) => JSON.stringify({ resourceSpans: [{ resource: {}, scopeSpans: [{ scope: { name: 's' }, spans }] }] });
const span = (i: number, over: object = {}) => ({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: (0x1000 + i).toString(16).padStart(16, '0'),
  name: `s${i}`,
  startTimeUnixNano: '1764355422941051904',
  endTimeUnixNano: '1764355422941051905',
  ...over,
});
const PB = { 'content-type': 'application/x-protobuf' };
const JSONH = { 'content-type': 'application/json' };

const GrpcClient = grpc.makeGenericClientConstructor(traceServiceDefinition, 'TraceService');
function grpcCall(address: string, body: Uint8Array, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: Buffer }> {
  const client = new GrpcClient(address, grpc.credentials.createInsecure());
  return new Promise((res) => {
    client.makeUnaryRequest(
      traceServiceDefinition.Export!.path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      md,
      (err: grpc.ServiceError | null, r?: Buffer) => {
        client.close();
        res({ err, res: r });
      },
    );
  });
}

describe('otlp receiver config', () => {
  /** The problems of a config as written in pipeline.yaml (schema and cross-key checks). */
  const check = (raw: object) => resolveComponentConfig(factory, raw).problems;
  const resolved = (raw: Record<string, unknown>) => resolve(configOf(factory, raw));

  it('accepts the defaults and a full config', () => {
    assert.deepEqual(check({}), []);
    const full = {
      protocols: {
        http: {
          endpoint: '0.0.0.0:4318',
          traces_url_path: '/otlp/v1/traces',
          max_request_body_size: 1048576,
          read_timeout: '10s',
          cors: { allowed_origins: ['https://*.example.com'], allowed_headers: ['X-Team'], max_age: 60 },
          tls: { cert_file: 'c', key_file: 'k' },
        },
        grpc: { endpoint: '[::1]:4317', max_recv_msg_size: '4MiB', tls: null },
      },
      auth: { bearer_token: 'x', headers: { 'X-Api-Key': 'y' } },
      tls: { cert_file: 'c2', key_file: 'k2', client_ca_file: 'ca' },
      retry_after: '5s',
    };
    assert.deepEqual(check(full), []);
    const r = resolved(full);
    assert.equal(r.http!.maxBody, 1048576);
    assert.equal(r.http!.readTimeoutMs, 10_000);
    assert.equal(r.grpc!.maxMessage, 4 * 1024 * 1024);
    assert.equal(r.http!.tls!.cert_file, 'c', "a protocol's own tls wins");
    assert.equal(r.grpc!.tls!.cert_file, 'c2', 'the shared tls applies otherwise');
    assert.equal(r.retryAfterSeconds, 5);
    assert.deepEqual(r.headers, [['x-api-key', 'y']]);
    assert.deepEqual(r.http!.cors, { allowed_origins: ['https://*.example.com'], allowed_headers: ['X-Team'], max_age: 60 });
  });

  it('resolves the documented defaults', () => {
    const r = resolved({});
    assert.deepEqual(r.http, {
      endpoint: '127.0.0.1:4318',
      maxBody: 20 * 1024 * 1024,
      readTimeoutMs: 30_000,
      headerTimeoutMs: 10_000,
      minBytesPerSecond: 10 * 1024,
      maxConcurrent: 64,
      maxConnections: 4096,
      tls: null,
      path: '/v1/traces',
      cors: null,
    });
    assert.deepEqual(r.grpc, { endpoint: '127.0.0.1:4317', maxMessage: 20 * 1024 * 1024, maxConcurrent: 64, tls: null });
    assert.equal(r.bearerToken, null);
    assert.deepEqual(r.headers, []);
    assert.equal(r.retryAfterSeconds, 1);
    assert.equal(r.maxDecodedInFlight, 1_000_000);
    assert.equal(resolved({ protocols: { http: { cors: { allowed_origins: [] } } } }).http!.cors, null, 'CORS off without origins');
  });

  it('rejects unknown keys, bad endpoints and bad sizes', () => {
    assert.match(JSON.stringify(check({ protocols: { http: { endpiont: 'x:1' } } })), /unknown key/);
    assert.notDeepEqual(check({ protocols: { grpc: { endpoint: 'no-port' } } }), []);
    assert.notDeepEqual(check({ protocols: { http: { max_request_body_size: '20 parsecs' } } }), []);
    assert.match(JSON.stringify(check({ protocols: { http: { max_request_body_size: '0MiB' } } })), /at least 1 byte/);
    assert.match(JSON.stringify(check({ protocols: { grpc: { max_recv_msg_size: '2GiB' } } })), /below 2GiB/);
    assert.match(JSON.stringify(check({ auth: { headers: { 'bad header': 'x' } } })), /not a valid header name/);
    // An empty token (an unset ${env:SPANMETER_OTLP_TOKEN:-}) means no token is required.
    assert.deepEqual(check({ auth: { bearer_token: '' } }), []);
    assert.equal(resolved({ auth: { bearer_token: '' } }).bearerToken, null);
    assert.notDeepEqual(check({ tls: { cert_file: 'only-cert' } }), []);
    assert.notDeepEqual(check({ protocols: { thrift: {} } }), []);
  });

  it('every schema key has a description', () => {
    const missing: string[] = [];
    const walk = (s: unknown, path: string) => {
      if (!s || typeof s !== 'object') return;
      const o = s as Record<string, unknown>;
      if (o.properties) {
        for (const [k, v] of Object.entries(o.properties as Record<string, Record<string, unknown>>)) {
          if (!v.description) missing.push(`${path}${k}`);
          walk(v, `${path}${k}.`);
        }
      }
      for (const alt of (o.anyOf as unknown[] | undefined) ?? []) walk(alt, path);
    };
    walk(configSchema, '');
    assert.deepEqual(missing, []);
  });

  it('can turn a protocol off, but not both; `http:` / `grpc:` empty keep the defaults; `tls: null` is plain text', () => {
    const off = resolved({ protocols: { grpc: { enabled: false } } });
    assert.equal(off.grpc, null);
    assert.ok(off.http);
    assert.match(check({ protocols: { grpc: { enabled: false }, http: { enabled: false } } })[0]!.message, /at least one protocol/);
    assert.equal(resolved({ protocols: { grpc: null } }).grpc!.endpoint, '127.0.0.1:4317');
    const empty = resolved({ protocols: { http: null, grpc: null } });
    assert.equal(empty.http!.endpoint, '127.0.0.1:4318');
    assert.equal(empty.http!.maxConcurrent, 64, '`http:` empty keeps the default');
    assert.equal(resolved({ protocols: null }).grpc!.endpoint, '127.0.0.1:4317');
    assert.equal(resolved({ tls: null }).http!.tls, null);
    assert.match(check({ protocols: { grpc: { endpoint: '127.0.0.1:4318' } } })[0]!.message, /cannot both listen/);
  });

  it('max_concurrent_requests: default 64 per protocol, a positive integer', () => {
    const r2 = resolved({ protocols: { http: { max_concurrent_requests: 8 }, grpc: { max_concurrent_requests: 2 } } });
    assert.equal(r2.http!.maxConcurrent, 8);
    assert.equal(r2.grpc!.maxConcurrent, 2);
    for (const bad of [0, -1, 1.5, '64', null]) {
      assert.notDeepEqual(check({ protocols: { http: { max_concurrent_requests: bad } } }), [], `http ${String(bad)}`);
      assert.notDeepEqual(check({ protocols: { grpc: { max_concurrent_requests: bad } } }), [], `grpc ${String(bad)}`);
    }
    assert.deepEqual(check({ protocols: { http: { max_concurrent_requests: 1 }, grpc: { max_concurrent_requests: 100000 } } }), []);
  });

  it('reads sizes as bytes or size strings, durations as milliseconds; header_timeout at most read_timeout', () => {
    const c = configOf(factory, {
      protocols: { http: { max_request_body_size: '512KB', min_body_rate: '1.5 KiB', read_timeout: '5s' }, grpc: { max_recv_msg_size: 7 } },
    });
    assert.equal(c.protocols.http.max_request_body_size, 512_000);
    assert.equal(c.protocols.http.min_body_rate, 1536);
    assert.equal(c.protocols.grpc.max_recv_msg_size, 7);
    assert.equal(resolve(c).http!.headerTimeoutMs, 5000);
    assert.notDeepEqual(check({ protocols: { grpc: { max_recv_msg_size: 'lots' } } }), []);
  });
});

describe('readBody', () => {
  const limits = { maxWire: 1000, maxDecoded: 5000 };
  it('reads plain, gzip, zlib-deflate and raw-deflate bodies', async () => {
    const data = Buffer.from('x'.repeat(3000));
    assert.deepEqual((await readBody(Readable.from([data.subarray(0, 10), data.subarray(10)]), 'identity', { maxWire: 5000, maxDecoded: 5000 })).data, data);
    for (const [coding, z] of [
      ['gzip', gzipSync(data)],
      ['deflate', deflateSync(data)],
      ['deflate', deflateRawSync(data)],
    ] as const) {
      const b = await readBody(Readable.from([z]), coding, limits);
      assert.deepEqual(b.data, data);
      assert.equal(b.wireBytes, z.length);
    }
  });
  it('refuses a body over the wire limit and a bomb over the decoded limit without inflating it all', async () => {
    await assert.rejects(readBody(Readable.from([Buffer.alloc(1001)]), 'identity', limits), (e: BodyError) => e.status === 413);
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    await assert.rejects(
      readBody(Readable.from([bomb]), 'gzip', { maxWire: bomb.length, maxDecoded: 5000 }),
      (e: BodyError) => e.status === 413 && /decompresses/.test(e.message),
    );
  });
  it('answers 400 for corrupt compressed data', async () => {
    await assert.rejects(readBody(Readable.from([Buffer.from('not gzip at all')]), 'gzip', limits), (e: BodyError) => e.status === 400);
    const z = gzipSync(Buffer.from('hello'));
    await assert.rejects(readBody(Readable.from([z.subarray(0, z.length - 6)]), 'gzip', limits), (e: BodyError) => e.status === 400);
  });
});

/** Replaces a test receiver's consumer with one that holds every batch until `release()`. */
function gate(r: Awaited<ReturnType<typeof startTestReceiver>>) {
  let open!: () => void;
  const opened = new Promise<void>((res) => (open = res));
  const state = { entered: 0, release: () => open() };
  r.next.consume = async (batch) => {
    state.entered++;
    await opened;
    r.next.batches.push({ batch });
  };
  return state;
}

/** Waits (without a deadline of its own: the test runner's timeout applies) until `cond()` holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((res) => setTimeout(res, 5));
}

/** An `ExportLogsServiceRequest` as LiteLLM's log exporter sends its GenAI events: `n` records in one scope. */
function logsRequest(n: number): { pb: Uint8Array; json: string } {
  const records = Array.from({ length: n }, (_, i) => ({
    timeUnixNano: String(1764355422941051904n + BigInt(i)),
    severityNumber: 9,
    body: { stringValue: '' },
    attributes: [
      { key: 'event_name', value: { stringValue: 'gen_ai.content.prompt' } },
      { key: 'gen_ai.system', value: { stringValue: 'openai' } },
    ],
    traceId: '30fc9e3356c21227177859ff28b14452',
    spanId: '3b488ee8568c08bd',
  }));
  const json = JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'litellm' } }] },
        scopeLogs: [{ scope: { name: 'litellm' }, logRecords: records }],
      },
    ],
  });
  // The same in protobuf, field by field (opentelemetry/proto/logs/v1/logs.proto).
  const W = protobuf.Writer;
  const kv = (k: string, v: string) => W.create().uint32(10).string(k).uint32(18).bytes(W.create().uint32(10).string(v).finish()).finish();
  const scope = W.create().uint32(10).bytes(W.create().uint32(10).string('litellm').finish());
  for (const r of records) {
    const rec = W.create().uint32(9).fixed64(r.timeUnixNano).uint32(16).int32(9).uint32(42).bytes(W.create().uint32(10).string('').finish());
    for (const a of r.attributes) rec.uint32(50).bytes(kv(a.key, a.value.stringValue));
    rec.uint32(74).bytes(Buffer.from(r.traceId, 'hex')).uint32(82).bytes(Buffer.from(r.spanId, 'hex'));
    scope.uint32(18).bytes(rec.finish());
  }
  const resource = W.create()
    .uint32(10)
    .bytes(W.create().uint32(10).bytes(kv('service.name', 'litellm')).finish())
    .uint32(18)
    .bytes(scope.finish())
    .finish();
  return { pb: W.create().uint32(10).bytes(resource).finish(), json };
}

describe('otlp receiver: logs (LiteLLM GenAI events)', () => {
  it('answers success over HTTP (protobuf, JSON, gzip) and gRPC, counts the records and says they are not kept', async () => {
    const r = await startTestReceiver();
    try {
      const { pb, json: text } = logsRequest(3);
      let res = await request(`${r.httpBase}/v1/logs`, { headers: PB, body: pb });
      assert.equal(res.status, 200);
      const partial = protobuf.Reader.create(res.body);
      assert.equal(partial.uint32(), 10);
      const inner = protobuf.Reader.create(partial.bytes());
      assert.equal(inner.uint32(), 8);
      assert.equal(Number(inner.int64()), 3, 'rejected_log_records');
      assert.equal(inner.uint32(), 18);
      assert.match(inner.string(), /not kept/);
      res = await request(`${r.httpBase}/v1/logs`, { headers: JSONH, body: text });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body.toString()).partialSuccess.rejectedLogRecords, '3');
      res = await request(`${r.httpBase}/v1/logs`, { headers: { ...PB, 'content-encoding': 'gzip' }, body: gzipSync(pb) });
      assert.equal(res.status, 200);
      res = await request(`${r.httpBase}/v1/logs`, { headers: JSONH, body: '{"resourceLogs":[]}' });
      assert.deepEqual(JSON.parse(res.body.toString()), {}, 'nothing dropped: a plain success');
      const client = new (grpc.makeGenericClientConstructor(logsServiceDefinition, 'LogsService'))(r.grpcAddress, grpc.credentials.createInsecure());
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(
          logsServiceDefinition.Export!.path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(pb),
          (err: grpc.ServiceError | null, out?: Buffer) => (err ? reject(err) : resolve(out!)),
        ),
      );
      client.close();
      assert.ok(reply.length > 0, 'partial_success in the gRPC answer');
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_log_records_total', { transport: 'http' }), 9);
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_log_records_total', { transport: 'grpc' }), 3);
      assert.equal(r.next.spanCount, 0, 'nothing goes down the traces pipeline');
    } finally {
      await r.stop();
    }
  });

  it('refuses malformed logs with 400 and asks for credentials as for traces', async () => {
    const r = await startTestReceiver({ auth: { bearer_token: 'tok' } });
    try {
      const { pb } = logsRequest(1);
      let res = await request(`${r.httpBase}/v1/logs`, { headers: PB, body: pb });
      assert.equal(res.status, 401);
      res = await request(`${r.httpBase}/v1/logs`, { headers: { ...JSONH, authorization: 'Bearer tok' }, body: '{"resourceLogs": 5}' });
      assert.equal(res.status, 400);
      assert.match(JSON.parse(res.body.toString()).message, /resourceLogs is not an array/);
      res = await request(`${r.httpBase}/v1/logs`, { headers: { ...PB, authorization: 'Bearer tok' }, body: new Uint8Array([10, 200]) });
      assert.equal(res.status, 400);
    } finally {
      await r.stop();
    }
  });
});

describe('otlp receiver over HTTP', () => {
  it('routes: 404 for /v1/metrics and unknown paths, 405 for GET, custom traces path', async () => {
    const r = await startTestReceiver({ protocols: { http: { traces_url_path: '/otlp/traces' } } });
    try {
      for (const p of ['/v1/metrics']) {
        const res = await request(`${r.httpBase}${p}`, { headers: PB, body: new Uint8Array(0) });
        assert.equal(res.status, 404);
        assert.match(decodeRpcStatusProto(res.body).message, /accepts traces \(POST \/otlp\/traces\) and logs \(POST \/v1\/logs\)/);
      }
      const unknown = await request(`${r.httpBase}/v1/traces`, { headers: JSONH, body: '{}' });
      assert.equal(unknown.status, 404, 'the default path is not served when another is configured');
      assert.equal(JSON.parse(unknown.body.toString()).code, 5);
      const get = await request(`${r.httpBase}/otlp/traces`, { method: 'GET' });
      assert.equal(get.status, 405);
      assert.equal(get.headers.allow, 'POST');
      const ok = await request(`${r.httpBase}/otlp/traces?x=1`, { headers: JSONH, body: json([span(1)]) });
      assert.equal(ok.status, 200);
      assert.equal(r.next.spanCount, 1);
    } finally {
      await r.stop();
    }
  });

  it('answers partialSuccess when some spans lack ids, and hands on only the valid ones', async () => {
    const r = await startTestReceiver();
    try {
      const body = json([span(1), span(2, { spanId: '' }), span(3, { traceId: '' })]);
      const res = await request(`${r.httpBase}/v1/traces`, { headers: JSONH, body });
      assert.equal(res.status, 200);
      const parsed = JSON.parse(res.body.toString());
      assert.equal(parsed.partialSuccess.rejectedSpans, '2');
      assert.match(parsed.partialSuccess.errorMessage, /2 span/);
      assert.equal(r.next.spanCount, 1);
      const pb = await request(`${r.httpBase}/v1/traces`, { headers: PB, body: encodeOtlpProto(decodeOtlpJson(body)) });
      assert.deepEqual(decodeExportResponseProto(pb.body), {
        partialSuccess: { rejectedSpans: 2, errorMessage: '2 span(s) without a trace_id or span_id were rejected' },
      });
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_refused_spans_total', { transport: 'http' }), 4);
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_accepted_spans_total', { transport: 'http' }), 2);
    } finally {
      await r.stop();
    }
  });

  it('counts spans the decoder left out (batch.omitted) as accepted or refused, as if they had been built', () => {
    const batch = decodeOtlpJson(json([span(1), span(2, { spanId: '' })]));
    const r = dropInvalidSpans({ ...batch, omitted: { valid: 3, invalid: 2 } });
    assert.deepEqual([r.valid, r.rejected], [4, 3]);
    assert.equal(spanCount(r.batch), 1);
    assert.deepEqual(r.batch.omitted, { valid: 3, invalid: 0 }, 'the pipeline still learns how many valid spans it did not get');
    const clean = { ...decodeOtlpJson(json([span(1)])), omitted: { valid: 3, invalid: 0 } };
    const c = dropInvalidSpans(clean);
    assert.deepEqual([c.valid, c.rejected], [4, 0]);
    assert.equal(c.batch, clean);
  });

  it('maps pipeline errors: back-pressure → 429 + Retry-After, permanent → 400, other → 503 + Retry-After', async () => {
    const r = await startTestReceiver({ retry_after: '2s' });
    try {
      const body = encodeOtlpProto(decodeOtlpJson(json([span(1), span(2)])));
      r.next.failWith = new BackpressureError('durable log full', 7);
      let res = await request(`${r.httpBase}/v1/traces`, { headers: PB, body });
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '7');
      assert.deepEqual(decodeRpcStatusProto(res.body), { code: 8, message: 'durable log full', retryAfterSeconds: 7 });
      r.next.failWith = new PermanentError('never');
      res = await request(`${r.httpBase}/v1/traces`, { headers: JSONH, body: json([span(1)]) });
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.body.toString()), { code: 3, message: 'never' });
      r.next.failWith = new Error('disk on fire');
      res = await request(`${r.httpBase}/v1/traces`, { headers: PB, body });
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '2');
      assert.doesNotMatch(decodeRpcStatusProto(res.body).message, /fire/, 'internal details are not leaked');
      assert.equal(r.next.batches.length, 0);
      const reg = r.metrics.registry;
      assert.equal(await metricValue(reg, 'spanmeter_receiver_refused_spans_total', { transport: 'http' }), 3);
      assert.equal(await metricValue(reg, 'spanmeter_receiver_failed_spans_total', { transport: 'http' }), 2);
      assert.equal(await metricValue(reg, 'spanmeter_receiver_requests_total', { outcome: 'backpressure' }), 1);
      assert.equal(await metricValue(reg, 'spanmeter_receiver_request_duration_seconds', { outcome: 'unavailable' }), 1);
      r.next.failWith = null;
      res = await request(`${r.httpBase}/v1/traces`, { headers: PB, body });
      assert.equal(res.status, 200);
    } finally {
      await r.stop();
    }
  });

  it('max_concurrent_requests: beyond it 429 + Retry-After at once (body discarded), never queued; freed slots are reused', async () => {
    const r = await startTestReceiver({ retry_after: '3s', protocols: { http: { max_concurrent_requests: 2 } } });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const g = gate(r);
      const body = encodeOtlpProto(decodeOtlpJson(json([span(1)])));
      const held = [1, 2].map(() => request(`${r.httpBase}/v1/traces`, { headers: PB, body }));
      await until(() => g.entered === 2);
      // A third request, with a large body, on a keep-alive connection: refused without waiting for the others.
      const big = Buffer.concat([body, Buffer.alloc(2 * 1024 * 1024)]);
      let res = await request(`${r.httpBase}/v1/traces`, { headers: PB, body: big, agent });
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '3');
      const st = decodeRpcStatusProto(res.body);
      assert.equal(st.code, 8);
      assert.equal(st.retryAfterSeconds, 3);
      assert.match(st.message, /max_concurrent_requests: 2/);
      res = await request(`${r.httpBase}/v1/traces`, { headers: JSONH, body: json([span(3)]) });
      assert.equal(res.status, 429, 'JSON too');
      assert.equal(JSON.parse(res.body.toString()).code, 8);
      assert.equal(g.entered, 2, 'the refused requests never reached the pipeline');
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_requests_total', { outcome: 'too_many_requests' }), 2);
      g.release();
      for (const h of await Promise.all(held)) assert.equal(h.status, 200);
      // The keep-alive connection that got the 429 still works, and the freed slots take new requests.
      res = await request(`${r.httpBase}/v1/traces`, { headers: PB, body, agent });
      assert.equal(res.status, 200);
      assert.equal(r.next.spanCount, 3);
    } finally {
      agent.destroy();
      await r.stop();
    }
  });

  it('answers only after the pipeline acknowledged (200 waits for consume)', async () => {
    const r = await startTestReceiver();
    try {
      let release!: () => void;
      const gate = new Promise<void>((res) => (release = res));
      let acked = false;
      r.next.consume = async (batch) => {
        await gate;
        acked = true;
        r.next.batches.push({ batch });
      };
      const pending = request(`${r.httpBase}/v1/traces`, { headers: JSONH, body: json([span(1)]) });
      let answered = false;
      void pending.then(() => (answered = true));
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(answered, false, 'no answer before the pipeline acknowledged');
      release();
      const res = await pending;
      assert.equal(res.status, 200);
      assert.equal(acked, true);
    } finally {
      await r.stop();
    }
  });

  it('CORS is off by default and answers allowed origins when configured', async () => {
    const plain = await startTestReceiver();
    try {
      const res = await request(`${plain.httpBase}/v1/traces`, { headers: { ...JSONH, origin: 'https://app.example.com' }, body: json([span(1)]) });
      assert.equal(res.status, 200);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      const pre = await request(`${plain.httpBase}/v1/traces`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } });
      assert.equal(pre.status, 405);
    } finally {
      await plain.stop();
    }
    const r = await startTestReceiver({
      protocols: { http: { cors: { allowed_origins: ['https://*.example.com'], allowed_headers: ['X-Team'], max_age: 60 } } },
    });
    try {
      const pre = await request(`${r.httpBase}/v1/traces`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.match(String(pre.headers['access-control-allow-headers']), /X-Team/);
      assert.equal(pre.headers['access-control-max-age'], '60');
      const other = await request(`${r.httpBase}/v1/traces`, { method: 'OPTIONS', headers: { origin: 'https://evil.test' } });
      assert.equal(other.headers['access-control-allow-origin'], undefined);
      const post = await request(`${r.httpBase}/v1/traces`, { headers: { ...JSONH, origin: 'https://app.example.com' }, body: json([span(1)]) });
      assert.equal(post.headers['access-control-allow-origin'], 'https://app.example.com');
    } finally {
      await r.stop();
    }
  });

  it('shutdown stops accepting, lets in-flight requests finish, then resolves', async () => {
    const r = await startTestReceiver();
    r.next.delayMs = 300;
    const base = r.httpBase;
    const inFlight = request(`${base}/v1/traces`, { headers: JSONH, body: json([span(1)]) });
    await new Promise((res) => setTimeout(res, 50));
    let stopped = false;
    const stopping = r.rx.shutdown(Date.now() + 5000).then(() => (stopped = true));
    await new Promise((res) => setTimeout(res, 50));
    await assert.rejects(request(`${base}/v1/traces`, { headers: JSONH, body: json([span(2)]) }), /ECONNREFUSED/);
    assert.equal(stopped, false, 'shutdown waits for the in-flight request');
    const res = await inFlight;
    assert.equal(res.status, 200);
    await stopping;
    assert.equal(r.next.spanCount, 1);
    await r.rx.shutdown(Date.now() + 1000); // idempotent
  });

  it('a request queued on a keep-alive connection during shutdown is refused (connection closed, or 503), never accepted', async () => {
    const r = await startTestReceiver();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      r.next.delayMs = 200;
      const first = request(`${r.httpBase}/v1/traces`, { headers: JSONH, body: json([span(1)]), agent });
      // Queued on the same socket behind the first request.
      const second = request(`${r.httpBase}/v1/traces`, { headers: JSONH, body: json([span(2)]), agent });
      await new Promise((res) => setTimeout(res, 50));
      const stopping = r.rx.shutdown(Date.now() + 5000);
      assert.equal((await first).status, 200);
      const res2 = await second.catch((e: unknown) => {
        assert.ok(e instanceof Error);
        return e;
      });
      if (res2 instanceof Error) assert.match(res2.message, /ECONNREFUSED|ECONNRESET|socket hang up/);
      else {
        assert.equal(res2.status, 503);
        assert.equal(res2.headers.connection, 'close');
        assert.ok(res2.headers['retry-after']);
      }
      await stopping;
      assert.equal(r.next.spanCount, 1, 'only the request that was answered 200 went on');
    } finally {
      agent.destroy();
    }
  });

  it('while closing, requests that still reach the server get 503 + Retry-After + Connection: close', async () => {
    const r = await startTestReceiver({ retry_after: '3s' });
    const isClosing = r.rx.isClosing.bind(r.rx);
    try {
      r.rx.isClosing = () => true; // the state shutdown() enters first, with the listener still open
      const res = await request(`${r.httpBase}/v1/traces`, { headers: JSONH, body: json([span(1)]) });
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '3');
      assert.equal(res.headers.connection, 'close');
      assert.equal(r.next.spanCount, 0);
    } finally {
      r.rx.isClosing = isClosing;
      await r.stop();
    }
  });

  it('can run HTTP only or gRPC only', async () => {
    const h = await startTestReceiver({ protocols: { grpc: { enabled: false } } });
    assert.deepEqual(Object.keys(h.rx.boundAddresses()), ['http']);
    await h.stop();
    const g = await startTestReceiver({ protocols: { http: { enabled: false } } });
    assert.deepEqual(Object.keys(g.rx.boundAddresses()), ['grpc']);
    const { err } = await grpcCall(g.grpcAddress, encodeOtlpProto(decodeOtlpJson(json([span(1)]))));
    assert.equal(err, null);
    assert.equal(g.next.spanCount, 1);
    await g.stop();
  });

  it('fails to start with a clear message when a TLS file is missing', async () => {
    await assert.rejects(
      startTestReceiver({ tls: { cert_file: '/nonexistent/cert.pem', key_file: '/nonexistent/key.pem' } }),
      /tls\.cert_file: cannot read \/nonexistent\/cert\.pem: ENOENT/,
    );
  });

  it('fails to start with a clear message when the port is taken', async () => {
    const a = await startTestReceiver({ protocols: { grpc: { enabled: false } } });
    try {
      await assert.rejects(
        startTestReceiver({ protocols: { http: { endpoint: a.rx.boundAddresses().http }, grpc: { enabled: false } } }),
        /cannot listen on 127\.0\.0\.1:\d+/,
      );
    } finally {
      await a.stop();
    }
  });
});

describe('otlp receiver over gRPC', () => {
  it('maps pipeline errors to RESOURCE_EXHAUSTED (with RetryInfo), INVALID_ARGUMENT and UNAVAILABLE', async () => {
    const r = await startTestReceiver();
    try {
      const body = encodeOtlpProto(decodeOtlpJson(json([span(1)])));
      r.next.failWith = new BackpressureError('full', 4);
      let { err } = await grpcCall(r.grpcAddress, body);
      assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
      const details = err.metadata.get('grpc-status-details-bin')[0] as Buffer;
      assert.equal(decodeRpcStatusProto(details).retryAfterSeconds, 4);
      r.next.failWith = new PermanentError('no');
      ({ err } = await grpcCall(r.grpcAddress, body));
      assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
      r.next.failWith = new Error('boom');
      ({ err } = await grpcCall(r.grpcAddress, body));
      assert.equal(err?.code, grpc.status.UNAVAILABLE);
      r.next.failWith = null;
      const ok = await grpcCall(r.grpcAddress, body);
      assert.equal(ok.err, null);
      assert.equal(ok.res!.length, 0);
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_accepted_spans_total', { transport: 'grpc' }), 1);
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_refused_spans_total', { transport: 'grpc' }), 2);
    } finally {
      await r.stop();
    }
  });

  it('shutdown lets an in-flight gRPC call finish, then refuses new calls', async () => {
    const r = await startTestReceiver({ protocols: { http: { enabled: false } } });
    r.next.delayMs = 300;
    const body = encodeOtlpProto(decodeOtlpJson(json([span(1)])));
    const inFlight = grpcCall(r.grpcAddress, body);
    await new Promise((res) => setTimeout(res, 100));
    const stopping = r.rx.shutdown(Date.now() + 5000);
    const { err } = await inFlight;
    assert.equal(err, null, 'the in-flight call got its OK');
    await stopping;
    assert.equal(r.next.spanCount, 1);
    const after = await grpcCall(r.grpcAddress, body);
    assert.equal(after.err?.code, grpc.status.UNAVAILABLE);
  });

  it('max_concurrent_requests: beyond it RESOURCE_EXHAUSTED with RetryInfo, never queued', async () => {
    const r = await startTestReceiver({ retry_after: '2s', protocols: { grpc: { max_concurrent_requests: 1 } } });
    try {
      const g = gate(r);
      const body = encodeOtlpProto(decodeOtlpJson(json([span(1)])));
      const held = grpcCall(r.grpcAddress, body);
      await until(() => g.entered === 1);
      const { err } = await grpcCall(r.grpcAddress, body);
      assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(err.details, /max_concurrent_requests: 1/);
      assert.equal(decodeRpcStatusProto(err.metadata.get('grpc-status-details-bin')[0] as Buffer).retryAfterSeconds, 2);
      // HTTP has its own limit (default 64): it is not affected.
      const h = request(`${r.httpBase}/v1/traces`, { headers: PB, body });
      await until(() => g.entered === 2);
      g.release();
      assert.equal((await held).err, null);
      assert.equal((await h).status, 200);
      assert.equal((await grpcCall(r.grpcAddress, body)).err, null, 'the freed slot takes a new call');
      assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_requests_total', { transport: 'grpc', outcome: 'too_many_requests' }), 1);
    } finally {
      await r.stop();
    }
  });

  it('answers partialSuccess over gRPC too', async () => {
    const r = await startTestReceiver();
    try {
      const { err, res } = await grpcCall(r.grpcAddress, encodeOtlpProto(decodeOtlpJson(json([span(1), span(2, { spanId: '' })]))));
      assert.equal(err, null);
      assert.equal(decodeExportResponseProto(res!).partialSuccess?.rejectedSpans, 1);
      assert.equal(r.next.spanCount, 1);
    } finally {
      await r.stop();
    }
  });
});
