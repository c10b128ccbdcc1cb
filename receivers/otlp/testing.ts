/**
 * Test support for the otlp receiver (used by receivers/otlp/*.test.ts and test/otlp-*.test.ts):
 * a receiver built directly with a capturing consumer, and a small HTTP client.
 */
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import type { Consumer, ConsumeContext } from '../../src/component.js';
import { configOf } from '../../src/config/component-config.js';
import { deepMerge } from '../../src/config/yaml-source.js';
import { spanCount, type SpanBatch } from '../../src/data/span.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import otlpFactory from './index.js';
import { OtlpReceiver } from './otlp.js';

/** A `next` consumer that keeps what it receives, or fails as told. */
export class CapturingConsumer implements Consumer<SpanBatch> {
  readonly batches: { batch: SpanBatch; ctx?: ConsumeContext }[] = [];
  /** When set, consume() throws this (after `delayMs`) instead of keeping the batch. */
  failWith: Error | null = null;
  delayMs = 0;
  async consume(batch: SpanBatch, ctx?: ConsumeContext): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith) throw this.failWith;
    this.batches.push({ batch, ctx });
  }
  get spanCount(): number {
    return this.batches.reduce((n, b) => n + spanCount(b.batch), 0);
  }
}

export interface TestReceiver {
  rx: OtlpReceiver;
  next: CapturingConsumer;
  metrics: ServiceMetrics;
  /** e.g. "http://127.0.0.1:41234" (https when TLS is on). */
  httpBase: string;
  /** e.g. "127.0.0.1:41235". */
  grpcAddress: string;
  stop(): Promise<void>;
}

/** Starts a receiver on free loopback ports with `overrides` (as written in pipeline.yaml) on top. */
export async function startTestReceiver(overrides: Record<string, unknown> = {}, next = new CapturingConsumer()): Promise<TestReceiver> {
  const ports = { protocols: { http: { endpoint: '127.0.0.1:0' }, grpc: { endpoint: '127.0.0.1:0' } } };
  const config = configOf(otlpFactory, deepMerge(ports, overrides) as Record<string, unknown>);
  const metrics = new ServiceMetrics('test', { processMetrics: false });
  const rx = new OtlpReceiver(
    {
      id: 'otlp',
      config,
      logger: pino({ level: 'silent' }),
      registry: metrics.registry,
      metrics: metrics.forComponent('receiver', 'otlp'),
      dataDir: mkdtempSync(join(tmpdir(), 'spanmeter-otlp-')),
      instanceId: 'test',
    },
    next,
  );
  await rx.start();
  const a = rx.boundAddresses();
  const tls = Boolean(config.tls ?? config.protocols.http.tls);
  return {
    rx,
    next,
    metrics,
    httpBase: a.http ? `${tls ? 'https' : 'http'}://${a.http}` : '',
    grpcAddress: a.grpc ?? '',
    stop: () => rx.shutdown(Date.now() + 5000),
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request with a fresh connection; resolves with the full answer. */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string; ca?: Buffer | string; agent?: http.Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      u,
      { method: opts.method ?? 'POST', headers: opts.headers, agent: opts.agent ?? false, ...(opts.ca ? { ca: opts.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Reads a metric's value for the given labels from a registry. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  let total = 0;
  for (const v of data.values) {
    const l = v.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, x]) => String(l[k]) === x) && !('le' in l) && !((v as { metricName?: string }).metricName ?? '').endsWith('_sum')) {
      total += v.value;
    }
  }
  return total;
}
