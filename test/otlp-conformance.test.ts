/**
 * The conformance requests (`spans.*.otlp.json`, LiteLLM's real exports) posted as OTLP/JSON, and
 * re-encoded as protobuf over HTTP (plain and gzip) and gRPC, arrive identically.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { spanCount, type SpanBatch } from '../src/data/span.js';
import { decodeOtlpJson, encodeOtlpProto } from '../src/otlp/index.js';
import { traceServiceDefinition } from '../receivers/otlp/grpc.js';
import { request, startTestReceiver, type TestReceiver } from '../receivers/otlp/testing.js';
import { conformanceDir, conformanceSkip } from './helpers/paths.js';

const dir = conformanceDir();
const files = dir
  ? readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) =>
        readdirSync(join(dir, d.name))
          .filter((f) => /^spans\..*\.otlp\.json$/.test(f))
          .map((f) => join(d.name, f)),
      )
      .sort()
  : [];

const GrpcClient = grpc.makeGenericClientConstructor(traceServiceDefinition, 'TraceService');

function grpcExport(address: string, body: Uint8Array): Promise<Buffer> {
  const client = new GrpcClient(address, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip });
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      traceServiceDefinition.Export!.path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      (err: grpc.ServiceError | null, res?: Buffer) => {
        client.close();
        if (err) reject(err);
        else resolve(res!);
      },
    );
  });
}

describe('conformance requests arrive identically over every encoding', () => {
  const skip = conformanceSkip('OTLP encodings of the conformance requests');
  if (skip) {
    // One skipped test in the runner's count, with its reason (a skipped suite counts none).
    it('every conformance request over OTLP/HTTP JSON, protobuf, gzip and gRPC', { skip }, () => {});
    return;
  }
  let r: TestReceiver;
  before(async () => {
    r = await startTestReceiver();
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
  after(() => r?.stop());

  it('finds the conformance span files', () => {
    assert.ok(files.length >= 10, `found ${files.length} spans.*.otlp.json files`);
  });

  for (const f of files) {
    it(f, async () => {
      const text = readFileSync(join(dir!, f), 'utf8');
      const expected = decodeOtlpJson(text);
      assert.ok(spanCount(expected) > 0);
      const pb = encodeOtlpProto(expected);
      const arrived: SpanBatch[] = [];
      const take = () => {
        assert.equal(r.next.batches.length, 1);
        arrived.push(r.next.batches.pop()!.batch);
      };

      let res = await request(`${r.httpBase}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: text });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(res.body.toString()), {});
      take();

      res = await request(`${r.httpBase}/v1/traces`, { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(text) });
      assert.equal(res.status, 200);
      take();

      res = await request(`${r.httpBase}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body: pb });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/x-protobuf');
      assert.equal(res.body.length, 0, 'an empty ExportTraceServiceResponse');
      take();

      res = await request(`${r.httpBase}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: gzipSync(pb) });
      assert.equal(res.status, 200);
      take();

      const g = await grpcExport(r.grpcAddress, pb);
      assert.equal(g.length, 0);
      take();

      for (const a of arrived) assert.deepStrictEqual(a, expected);
      // And the ids/times really are what the file says (not just consistent with our own decoder).
      const doc = JSON.parse(text) as { resourceSpans: { scopeSpans: { spans: { spanId: string; startTimeUnixNano: string }[] }[] }[] };
      const first = doc.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
      const got = arrived[4]!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
      assert.equal(got.spanId, first.spanId.toLowerCase());
      assert.equal(got.startTimeUnixNano.toString(), first.startTimeUnixNano);
    });
  }
});
