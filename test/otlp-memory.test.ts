/**
 * Memory is bounded by the decoded-data budget, not by what clients send: 16 concurrent
 * maximum-size (≈ 20 MiB) requests of minimal billing spans against a receiver with its default
 * limits, run in a child process whose RSS is measured. Requests refused for memory get 429 with
 * Retry-After and are retried, as an OTLP exporter does, until every one is accepted.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Span, SpanBatch } from '../src/data/span.js';
import { newAttributes } from '../src/data/span.js';
import { encodeOtlpProto } from '../src/otlp/index.js';

/** Peak RSS of the receiver's process stays under this (docs/security.md states it). */
const PEAK_RSS_MB = 1000;
/** RSS after the burst stays within this of the idle RSS (it stays near the peak without the idle collection). */
const AFTER_BURST_MB = 200;
/** The image's malloc settings (Dockerfile). */
const MALLOC_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072' };
const REQUESTS = 16;
const MAX_BODY = 20 * 1024 * 1024;
const MARK = 'rXX';

/** A protobuf request of minimal LiteLLM billing spans, just under `max` bytes. */
function bigRequest(tag: string, max: number): Buffer {
  const spans: Span[] = [];
  const mk = (i: number): Span => {
    const a = newAttributes();
    a['llm.request.type'] = 'acompletion';
    a['gen_ai.request.model'] = 'gpt-4o';
    a['gen_ai.response.id'] = `chatcmpl-${tag}-${i}`;
    a['gen_ai.usage.prompt_tokens'] = 11n;
    a['gen_ai.usage.completion_tokens'] = 2n;
    a['metadata.user_api_key_team_id'] = 'team-a';
    return {
      traceId: `${Buffer.from(tag).toString('hex')}${i.toString(16).padStart(32 - tag.length * 2, '0')}`,
      spanId: i.toString(16).padStart(16, '0'),
      traceState: '',
      parentSpanId: '',
      flags: 0,
      name: 'litellm_request',
      kind: 1,
      startTimeUnixNano: 1_764_355_422_941_051_904n + BigInt(i) * 1000n,
      endTimeUnixNano: 1_764_355_426_431_803_904n + BigInt(i) * 1000n,
      attributes: a,
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 0, message: '' },
    };
  };
  const batch = (n: number): SpanBatch => ({
    resourceSpans: [
      {
        resource: { attributes: newAttributes(), droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeSpans: [
          { scope: { name: 'litellm', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', spans: spans.slice(0, n) },
        ],
      },
    ],
  });
  const probe = 1000;
  for (let i = 0; i < probe; i++) spans.push(mk(i));
  const per = encodeOtlpProto(batch(probe)).length / probe;
  const n = Math.floor((max * 0.98) / per);
  for (let i = probe; i < n; i++) spans.push(mk(i));
  const buf = Buffer.from(encodeOtlpProto(batch(n)));
  assert.ok(buf.length <= max && buf.length > max * 0.9, `request size ${buf.length}`);
  return buf;
}

function post(address: string, body: Buffer): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${address}/v1/traces`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-protobuf' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('otlp receiver memory under concurrent maximum-size requests', () => {
  it(`16 × 20 MiB at once stay under ${PEAK_RSS_MB} MB RSS, and RSS comes back down after the burst`, { timeout: 120_000 }, async (t) => {
    const child = fork(fileURLToPath(new URL('./helpers/memory-child.js', import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // The pipeline acknowledges after 1 s (a slow disk), and malloc returns freed memory to the
      // system as the container image configures it (Dockerfile, docs/security.md).
      env: { ...process.env, SINK_DELAY_MS: '1000', ...MALLOC_ENV },
    });
    const next = () =>
      new Promise<{ address?: string; peakRssMb: number; rssMb: number; calls: number; heap: string }>((resolve) => child.once('message', resolve as never));
    try {
      const ready = await next();
      const idle = ready.rssMb;
      // One request encoded once; the copies differ in a 3-byte marker inside every response id
      // and trace id, so that no call is a duplicate of another request's.
      const template = bigRequest(MARK, MAX_BODY);
      const bodies = Array.from({ length: REQUESTS }, (_, i) => {
        const b = Buffer.from(template);
        const to = Buffer.from(`r${String(i).padStart(2, '0')}`);
        for (let at = b.indexOf(MARK); at >= 0; at = b.indexOf(MARK, at + 3)) to.copy(b, at);
        return b;
      });
      const started = Date.now();
      let refusals = 0;
      const statuses: number[] = [];
      await Promise.all(
        bodies.map(async (b) => {
          for (;;) {
            const r = await post(ready.address!, b);
            statuses.push(r.status);
            if (r.status === 200) return;
            assert.equal(r.status, 429, 'only 200 or 429');
            assert.ok(r.retryAfter && Number(r.retryAfter) >= 1, 'a 429 carries Retry-After');
            refusals++;
            await new Promise((res) => setTimeout(res, Number(r.retryAfter) * 1000));
          }
        }),
      );
      const took = Date.now() - started;
      child.send('report');
      const burst = await next();
      // Idle again: give V8's memory reducer a few seconds to hand pages back.
      let after = burst;
      for (let i = 0; i < 20 && after.rssMb > idle + 50; i++) {
        await new Promise((res) => setTimeout(res, 500));
        child.send('report');
        after = await next();
      }
      t.diagnostic(
        `${REQUESTS} requests of ${(bodies[0]!.length / 1048576).toFixed(1)} MiB: all accepted in ${(took / 1000).toFixed(1)} s after ${refusals} 429s; ${burst.calls} calls; RSS idle ${idle.toFixed(0)} MB, peak ${burst.peakRssMb.toFixed(0)} MB, after the burst ${after.rssMb.toFixed(0)} MB (${burst.heap} → ${after.heap})`,
      );
      assert.ok(burst.peakRssMb < PEAK_RSS_MB, `peak RSS ${burst.peakRssMb.toFixed(0)} MB`);
      assert.ok(after.rssMb < idle + AFTER_BURST_MB, `RSS after the burst ${after.rssMb.toFixed(0)} MB (idle ${idle.toFixed(0)} MB)`);
      assert.ok(burst.calls >= REQUESTS, 'calls reached the pipeline');
    } finally {
      child.send('exit');
      await new Promise((res) => child.once('exit', res));
    }
  });
});
