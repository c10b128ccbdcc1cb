/**
 * Bad input: truncated protobuf, a seeded fuzz loop of random and mutated bodies, wrong content
 * types and encodings, gzip/deflate bombs, oversized bodies, invalid JSON, missing auth — each gets
 * its documented status, the process survives, and valid requests interleaved with them all succeed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import type { SpanBatch } from '../src/data/span.js';
import { decodeOtlpJson, decodeRpcStatusProto, encodeOtlpProto } from '../src/otlp/index.js';
import { traceServiceDefinition } from '../receivers/otlp/grpc.js';
import { metricValue, request, startTestReceiver, type Reply, type TestReceiver } from '../receivers/otlp/testing.js';
import { otlpRequest } from './helpers/litellm-spans.js';

/** mulberry32: a small seeded PRNG so that every run fuzzes the same cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX = 256 * 1024;
const TOKEN = 'fuzz-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const PB = { ...AUTH, 'content-type': 'application/x-protobuf' };
const JSONH = { ...AUTH, 'content-type': 'application/json' };

const validJson = JSON.stringify(otlpRequest([{ responseId: 'fuzz-a' }, { responseId: 'fuzz-b' }]));
const validBatch = decodeOtlpJson(validJson);
const validPb = Buffer.from(encodeOtlpProto(validBatch));
const VALID_SPANS = validBatch.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0);

const GrpcClient = grpc.makeGenericClientConstructor(traceServiceDefinition, 'TraceService');

describe('otlp receiver under bad input', () => {
  let r: TestReceiver;
  let agent: http.Agent;
  let grpcClient: grpc.Client;
  let validSent = 0;
  const grpcMd = () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    return md;
  };
  const grpcCall = (body: Uint8Array, md = grpcMd()) =>
    new Promise<{ err: grpc.ServiceError | null; res?: Buffer }>((resolve) =>
      grpcClient.makeUnaryRequest(
        traceServiceDefinition.Export!.path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(body),
        md,
        (err: grpc.ServiceError | null, res?: Buffer) => resolve({ err, res }),
      ),
    );
  const post = (headers: Record<string, string>, body: Uint8Array | string, path = '/v1/traces') => request(`${r.httpBase}${path}`, { headers, body, agent });

  /** A valid request in one of several forms; must always succeed. */
  async function valid(i: number): Promise<void> {
    const forms: [Record<string, string>, Uint8Array | string][] = [
      [PB, validPb],
      [JSONH, validJson],
      [{ ...PB, 'content-encoding': 'gzip' }, gzipSync(validPb)],
      [{ ...JSONH, 'content-encoding': 'deflate' }, deflateSync(validJson)],
    ];
    const [h, b] = forms[i % forms.length]!;
    const res = await post(h, b);
    assert.equal(res.status, 200, `valid request #${i} failed: ${res.body.toString()}`);
    validSent++;
    if (i % 3 === 0) {
      const g = await grpcCall(validPb);
      assert.equal(g.err, null, `valid gRPC request #${i} failed`);
      validSent++;
    }
  }

  function assertStatus(res: Reply, allowed: number[], what: string): void {
    assert.ok(allowed.includes(res.status), `${what}: got ${res.status} ${res.body.toString().slice(0, 200)}`);
    if (res.status === 400) assert.ok(res.body.length > 0 && res.body.length < 1000, `${what}: a short reason`);
  }

  before(async () => {
    r = await startTestReceiver({
      auth: { bearer_token: TOKEN },
      protocols: { http: { max_request_body_size: MAX }, grpc: { max_recv_msg_size: MAX } },
    });
    agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    grpcClient = new GrpcClient(r.grpcAddress, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip });
  });
  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    grpcClient?.close();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    agent?.destroy();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    await r?.stop();
  });

  it('truncated protobuf → 400 with a short reason (google.rpc.Status, INVALID_ARGUMENT)', async () => {
    for (const cut of [1, 10, validPb.length >> 2, validPb.length >> 1, validPb.length - 1]) {
      const res = await post(PB, validPb.subarray(0, cut));
      assert.equal(res.status, 400, `cut at ${cut}`);
      const st = decodeRpcStatusProto(res.body);
      assert.equal(st.code, 3);
      assert.match(st.message, /invalid protobuf|must be/);
      await valid(cut);
    }
  });

  it('a seeded fuzz loop of 3000 random and mutated bodies: only 200 or 400, never a crash', async () => {
    const rnd = prng(0x5eed);
    const int = (n: number) => Math.floor(rnd() * n);
    const randomBytes = (n: number) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    };
    const mutate = (src: Buffer): Buffer => {
      const b = Buffer.from(src);
      switch (int(4)) {
        case 0: // flip a few bytes
          for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] = int(256);
          return b;
        case 1: // truncate
          return b.subarray(0, int(b.length));
        case 2: // splice random bytes in
          return Buffer.concat([b.subarray(0, int(b.length)), randomBytes(1 + int(16)), b.subarray(int(b.length))]);
        default: // duplicate a slice
          return Buffer.concat([b, b.subarray(int(b.length))]);
      }
    };
    const counts = { 200: 0, 400: 0 } as Record<number, number>;
    for (let i = 0; i < 3000; i++) {
      let res: Reply;
      const kind = i % 4;
      if (kind === 0) res = await post(PB, randomBytes(int(600)));
      else if (kind === 1) res = await post(PB, mutate(validPb));
      else if (kind === 2) res = await post(JSONH, mutate(Buffer.from(validJson)));
      else res = await post({ ...PB, 'content-encoding': 'gzip' }, rnd() < 0.5 ? randomBytes(int(300)) : mutate(gzipSync(validPb)));
      assertStatus(res, [200, 400], `fuzz case ${i} (kind ${kind})`);
      counts[res.status] = (counts[res.status] ?? 0) + 1;
      if (i % 50 === 0) {
        // Whatever was accepted must be well-formed spans data.
        for (const { batch } of r.next.batches.splice(0)) assertWellFormed(batch);
        await valid(i);
      }
    }
    for (const { batch } of r.next.batches.splice(0)) assertWellFormed(batch);
    assert.ok(counts[400]! > 1000, `most fuzz cases are refused (${JSON.stringify(counts)})`);
    const gRes = await Promise.all(Array.from({ length: 200 }, (_, i) => grpcCall(i % 2 ? randomBytes(int(400)) : mutate(validPb))));
    for (const g of gRes) assert.ok(g.err === null || g.err.code === grpc.status.INVALID_ARGUMENT, `gRPC fuzz: ${g.err?.code} ${g.err?.details}`);
    assert.ok(gRes.some((g) => g.err?.code === grpc.status.INVALID_ARGUMENT));
    r.next.batches.length = 0;
    await valid(1);
  });

  it('wrong content type → 415, unsupported content encoding → 415', async () => {
    for (const ct of ['text/plain', 'application/xml', 'multipart/form-data', '']) {
      const res = await post(ct ? { ...AUTH, 'content-type': ct } : AUTH, validPb);
      assert.equal(res.status, 415, ct);
      assert.match(res.body.toString(), /unsupported content type/);
    }
    const br = await post({ ...PB, 'content-encoding': 'br' }, validPb);
    assert.equal(br.status, 415);
    assert.match(decodeRpcStatusProto(br.body).message, /Content-Encoding "br"/);
    await valid(2);
  });

  it('gzip and deflate bombs → 413 without inflating them', async () => {
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    for (const [enc, bomb] of [
      ['gzip', gzipSync(zeros, { level: 9 })],
      ['deflate', deflateSync(zeros, { level: 9 })],
    ] as const) {
      assert.ok(bomb.length < MAX, 'the bomb itself is under the wire limit');
      const res = await post({ ...PB, 'content-encoding': enc }, bomb);
      assert.equal(res.status, 413, enc);
      assert.match(decodeRpcStatusProto(res.body).message, /decompresses to more than 262144 bytes/);
      await valid(3);
    }
  });

  it('oversized bodies → 413, with and without Content-Length', async () => {
    const big = Buffer.alloc(MAX + 1, 0x0a);
    const res = await post(PB, big);
    assert.equal(res.status, 413);
    // Chunked (no Content-Length): the limit is enforced while reading.
    const chunked = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${r.httpBase}/v1/traces`);
      const req = http.request(u, { method: 'POST', headers: { ...PB, 'transfer-encoding': 'chunked' }, agent: false }, (res2) => {
        res2.resume();
        resolve(res2.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(MAX / 4, 1));
      req.end();
    });
    assert.equal(chunked, 413);
    await valid(4);
  });

  it('invalid JSON and JSON of the wrong shape → 400 with the reason', async () => {
    const cases: [string, RegExp][] = [
      ['{"resourceSpans": [', /invalid JSON/],
      ['not json', /invalid JSON/],
      ['[]', /must be a JSON object/],
      ['{"resourceSpans": {}}', /must be an array/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}', /traceId: must be 32 hex/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"12.5"}]}]}]}', /startTimeUnixNano/],
    ];
    for (const [body, re] of cases) {
      const res = await post(JSONH, body);
      assert.equal(res.status, 400, body);
      const st = JSON.parse(res.body.toString()) as { code: number; message: string };
      assert.equal(st.code, 3);
      assert.match(st.message, re);
    }
    await valid(5);
  });

  it('corrupt compressed data → 400', async () => {
    const res = await post({ ...PB, 'content-encoding': 'gzip' }, Buffer.from('definitely not gzip'));
    assert.equal(res.status, 400);
    await valid(6);
  });

  it('missing or wrong credentials → 401 / UNAUTHENTICATED, before the body is read', async () => {
    const noAuth: Record<string, string>[] = [
      { 'content-type': 'application/x-protobuf' },
      { 'content-type': 'application/x-protobuf', authorization: 'Bearer wrong' },
      { 'content-type': 'application/x-protobuf', authorization: TOKEN },
    ];
    for (const h of noAuth) {
      const res = await post(h, validPb);
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    const g = await grpcCall(validPb, new grpc.Metadata());
    assert.equal(g.err?.code, grpc.status.UNAUTHENTICATED);
    await valid(7);
  });

  it('gRPC: oversized message and compressed bomb → RESOURCE_EXHAUSTED; garbage → INVALID_ARGUMENT', async () => {
    let g = await grpcCall(Buffer.alloc(MAX + 100, 0x0a));
    assert.equal(g.err?.code, grpc.status.RESOURCE_EXHAUSTED);
    // The client gzips (default_compression_algorithm), so 16 MiB of zeros crosses the wire as a few KiB.
    g = await grpcCall(Buffer.alloc(16 * 1024 * 1024));
    assert.equal(g.err?.code, grpc.status.RESOURCE_EXHAUSTED);
    g = await grpcCall(validPb.subarray(0, 20));
    assert.equal(g.err?.code, grpc.status.INVALID_ARGUMENT);
    await valid(9);
  });

  it('every valid request interleaved with the bad ones arrived, and decode errors were counted', async () => {
    await valid(8);
    const accepted =
      (await metricValue(r.metrics.registry, 'spanmeter_receiver_accepted_spans_total', { transport: 'http' })) +
      (await metricValue(r.metrics.registry, 'spanmeter_receiver_accepted_spans_total', { transport: 'grpc' }));
    assert.ok(accepted >= validSent * VALID_SPANS, `accepted ${accepted} ≥ ${validSent} valid requests × ${VALID_SPANS}`);
    assert.ok((await metricValue(r.metrics.registry, 'spanmeter_receiver_decode_errors_total', { transport: 'http' })) > 1000);
    assert.ok((await metricValue(r.metrics.registry, 'spanmeter_receiver_decode_errors_total', { transport: 'grpc' })) > 0);
    assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_failed_spans_total', {}), 0);
    assert.ok((await metricValue(r.metrics.registry, 'spanmeter_receiver_requests_total', { outcome: 'unauthorized' })) >= 3);
    assert.ok((await metricValue(r.metrics.registry, 'spanmeter_receiver_requests_total', { outcome: 'too_large' })) >= 3);
  });
});

function assertWellFormed(batch: SpanBatch): void {
  for (const rs of batch.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) {
        assert.match(s.traceId, /^[0-9a-f]{32}$/);
        assert.match(s.spanId, /^[0-9a-f]{16}$/);
        assert.match(s.parentSpanId, /^([0-9a-f]{16})?$/);
        assert.equal(typeof s.startTimeUnixNano, 'bigint');
        assert.equal(typeof s.name, 'string');
      }
}
