/**
 * Decode throughput of the OTLP receiver's codec for 512-span LiteLLM-shaped requests (the default
 * batch of LiteLLM's Python exporter), protobuf plain and gzip — the single-pass decoder the receiver
 * uses and the protobufjs-message reference decoder — with OTLP/JSON for comparison.
 *
 *   npx tsc -p tsconfig.json --outDir .tmp/me && node .tmp/me/bench/decode.js [seconds-per-case] [case-regexp]
 *
 * "spans/CPU-s" divides by the process's CPU time instead of wall time: steadier on a shared, busy machine.
 * With `node --expose-gc --min-semi-space-size=64 ...` it also reports the JS heap allocated per request
 * (garbage + result; the garbage is what drives GC cost in the pipeline). For the share of CPU in GC, run
 * one case under `--cpu-prof` and look at "(garbage collector)".
 */
import { cpus, loadavg } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { gunzipSync, gzipSync } from 'node:zlib';
import { spanCount, type SpanBatch } from '../src/data/span.js';
import { decodeOtlpJson, decodeOtlpProto, encodeOtlpProto, toOtlpJson } from '../src/otlp/index.js';
import { RequestDecoder, decodeOtlpProtoReference } from '../src/otlp/proto.js';
import { otlpRequest } from '../test/helpers/litellm-spans.js';

const seconds = Number(process.argv[2] ?? 3);
const only = process.argv[3];
const gc = (globalThis as { gc?: () => void }).gc;

/** JS heap bytes allocated by one call (median of 5), or null without --expose-gc. */
function allocated(fn: () => unknown): number | null {
  if (!gc) return null;
  const keep: unknown[] = [];
  const deltas: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc();
    const before = getHeapStatistics().used_heap_size;
    keep.push(fn());
    deltas.push(getHeapStatistics().used_heap_size - before);
  }
  deltas.sort((a, b) => a - b);
  return deltas[2]!;
}

/** 512 spans: LiteLLM calls (root, postgres, litellm_request) with distinct ids, users and token counts. */
function litellmBatch(spans = 512): SpanBatch {
  const calls = Array.from({ length: Math.ceil(spans / 3) }, (_, i) => ({
    responseId: `chatcmpl-bench-${i}`,
    model: i % 3 ? 'gpt-4o' : 'claude-3-haiku',
    promptTokens: 100 + i,
    completionTokens: 20 + (i % 50),
    userId: `user-${i % 17}`,
    teamId: `team-${i % 5}`,
    keyAlias: `key-${i % 9}`,
    startNs: 1764355422941051904n + BigInt(i) * 1_000_000n,
  }));
  const batch = decodeOtlpJson(JSON.stringify(otlpRequest(calls)));
  // Trim to exactly `spans` spans.
  let left = spans;
  for (const rs of batch.resourceSpans)
    for (const ss of rs.scopeSpans) {
      ss.spans = ss.spans.slice(0, Math.max(0, left));
      left -= ss.spans.length;
    }
  return batch;
}

function run(name: string, wireBytes: number, decodedBytes: number, spans: number, fn: () => unknown): void {
  if (only && !new RegExp(only).test(name)) return;
  for (let i = 0; i < 50; i++) fn(); // warm up (JIT)
  const alloc = allocated(fn);
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    now = process.hrtime.bigint();
  }
  const s = Number(now - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  // CPU time of the whole process (all threads, so GC helper threads count too): steadier than wall time
  // on a shared machine, where other processes take turns on the cores.
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const fmt = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log(
    `${name.padEnd(40)} ${fmt((n * spans) / s).padStart(10)} spans/s  ${((n * wireBytes) / s / 1e6).toFixed(1).padStart(7)} MB/s wire  ${(
      (n * decodedBytes) /
      s /
      1e6
    )
      .toFixed(1)
      .padStart(
        7,
      )} MB/s decoded  ${((s / n) * 1000).toFixed(2).padStart(6)} ms/request  ${fmt((n * spans) / cpuS).padStart(10)} spans/CPU-s${alloc === null ? '' : `  ${fmt(alloc / 1024).padStart(6)} KiB allocated/request`}`,
  );
}

const batch = litellmBatch();
const spans = spanCount(batch);
const pb = encodeOtlpProto(batch);
const gz = gzipSync(pb);
const jsonBody = Buffer.from(JSON.stringify(toOtlpJson(batch)));

console.log(
  `node ${process.version}, ${cpus().length} CPU(s): ${cpus()[0]?.model ?? '?'}, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(`request: ${spans} spans, protobuf ${pb.length} B, gzip ${gz.length} B, OTLP/JSON ${jsonBody.length} B; ${seconds}s per case\n`);
run('protobuf → SpanBatch', pb.length, pb.length, spans, () => decodeOtlpProto(pb));
run('gzip protobuf → SpanBatch', gz.length, pb.length, spans, () => decodeOtlpProto(gunzipSync(gz)));
run('protobuf → SpanBatch (reference)', pb.length, pb.length, spans, () => decodeOtlpProtoReference(pb));
run('gzip protobuf → SpanBatch (reference)', gz.length, pb.length, spans, () => decodeOtlpProtoReference(gunzipSync(gz)));
run('  (protobufjs message decode only)', pb.length, pb.length, spans, () => RequestDecoder.decode(pb));
run('  (gunzip only)', gz.length, pb.length, spans, () => gunzipSync(gz));
run('OTLP/JSON → SpanBatch', jsonBody.length, jsonBody.length, spans, () => decodeOtlpJson(jsonBody));
run('SpanBatch → protobuf (encode)', pb.length, pb.length, spans, () => encodeOtlpProto(batch));
