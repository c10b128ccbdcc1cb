/**
 * Forwards spans and logs unchanged to another OTLP/HTTP endpoint (protobuf, `/v1/traces` and
 * `/v1/logs`), best-effort: `consume` only enqueues and resolves at once; a bounded queue drops its OLDEST batch when full (counted in
 * `spanmeter_exporter_dropped_batches_total{reason="queue_full"}`); one sender delivers with
 * retries (429/502/503/504 and network errors, Retry-After honoured) and drops a batch after
 * max_elapsed_time or a permanent 4xx. A slow or dead downstream never blocks the pipeline.
 */
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { PermanentError, type Exporter } from '../../src/component.js';
import { spanCount, type SpanBatch } from '../../src/data/span.js';
import { isLogsBatch, type LogsBatch } from '../../src/data/logs.js';
import { errInfo } from '../../src/output/delivery.js';
import { ExporterMetrics } from '../../src/output/metrics.js';
import { DeliveryError, RetryableError, parseRetryAfter, retryPolicyOf, withRetry, type RetryPolicy } from '../../src/output/retry.js';
import { encodeOtlpProto } from '../../src/otlp/index.js';
import { instruments, type Instruments } from '../../src/telemetry/declare.js';
import type { ComponentMetrics } from '../../src/telemetry/metrics.js';
import { VERSION } from '../../src/version.js';
import { logsUrl, tracesUrl, type OtlpExporterConfig } from './config.js';
import { metadata } from './metadata.js';

export interface OtlpSettings {
  id: string;
  logger: Logger;
  registry: Registry;
  metrics: ComponentMetrics;
}

const RETRYABLE = new Set([408, 429, 502, 503, 504]);

type Signal = 'spans' | 'logs';
/** A queued batch; `items` counts its spans or log records. */
interface Item {
  signal: Signal;
  batch: SpanBatch | LogsBatch;
  items: number;
}

export class OtlpExporter implements Exporter<SpanBatch | LogsBatch> {
  readonly xm: ExporterMetrics;
  readonly url: string;
  readonly logsUrl: string;
  /** This exporter's own instruments (spans and log records forwarded or dropped, by signal). */
  private readonly m: Instruments<typeof metadata.metrics>;
  private readonly queue: Item[] = [];
  /** Spans and log records queued (the standard queue-size gauge). */
  private queuedSpans = 0;
  private readonly policy: RetryPolicy;
  private readonly stop = new AbortController();
  private sender?: Promise<void>;
  private wake?: () => void;
  private stopping = false;
  private sending = false;

  constructor(
    private readonly c: OtlpExporterConfig,
    private readonly s: OtlpSettings,
  ) {
    this.xm = new ExporterMetrics(s.registry, s.id);
    this.url = tracesUrl(c.endpoint);
    this.logsUrl = logsUrl(c.endpoint);
    this.m = instruments(s.registry, metadata.metrics);
    this.policy = retryPolicyOf(c.retry_on_failure, c.timeout);
    s.metrics.queueCapacity(c.queue_size);
  }

  start(): Promise<void> {
    this.sender ??= this.sendLoop();
    return Promise.resolve();
  }

  /** Enqueues and returns at once; never waits for the downstream. */
  // async without await: a throw (a malformed batch) must reach the fan-out as a rejection, not a synchronous throw.
  // eslint-disable-next-line @typescript-eslint/require-await
  async consume(batch: SpanBatch | LogsBatch): Promise<void> {
    const item: Item = isLogsBatch(batch) ? { signal: 'logs', batch, items: batch.logRecords } : { signal: 'spans', batch, items: spanCount(batch) };
    if (item.items === 0 || this.stopping) {
      if (item.items) this.drop(item, 'stopping');
      return;
    }
    while (this.queue.length >= this.c.queue_size) {
      const oldest = this.queue.shift()!;
      this.queuedSpans -= oldest.items;
      this.drop(oldest, 'queue_full');
    }
    this.queue.push(item);
    this.queuedSpans += item.items;
    this.s.metrics.queueSize(this.queuedSpans);
    this.wake?.();
  }

  /** Spans and log records waiting in the queue (for tests and status). */
  get queued(): number {
    return this.queuedSpans;
  }

  private drop(item: Item, reason: string): void {
    this.dropped(item, reason);
    this.s.metrics.queueSize(this.queuedSpans);
    this.s.logger.warn({ [item.signal]: item.items, reason }, `OTLP forward: dropped a ${what(item)} batch (best-effort forwarding)`);
  }

  /** Counts a dropped batch: by reason, in the standard counter and by signal. */
  private dropped(item: Item, reason: string): void {
    this.xm.dropped(reason);
    this.s.metrics.sendFailed(item.items);
    this.m.forwarded.inc({ exporter: this.s.id, signal: item.signal, outcome: 'dropped' }, item.items);
  }

  private async sendLoop(): Promise<void> {
    while (!this.stop.signal.aborted) {
      const item = this.queue.shift();
      if (!item) {
        const signal = this.stop.signal;
        let onAbort!: () => void;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          onAbort = resolve;
          signal.addEventListener('abort', onAbort, { once: true });
        });
        signal.removeEventListener('abort', onAbort); // not one left behind per idle period
        this.wake = undefined;
        continue;
      }
      this.queuedSpans -= item.items;
      this.s.metrics.queueSize(this.queuedSpans);
      this.sending = true;
      try {
        await this.send(item);
      } finally {
        this.sending = false;
      }
    }
  }

  private async send(item: Item): Promise<void> {
    let body: Buffer;
    try {
      // Logs are already protobuf (as the receiver got them); spans are encoded here.
      const raw = isLogsBatch(item.batch) ? item.batch.protobuf : encodeOtlpProto(item.batch);
      body = this.c.compression === 'gzip' ? gzipSync(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    } catch (e) {
      this.s.logger.error({ err: errInfo(e), [item.signal]: item.items }, `OTLP forward: cannot encode a ${what(item)} batch; dropped`);
      this.dropped(item, 'encode_error');
      return;
    }
    const url = item.signal === 'logs' ? this.logsUrl : this.url;
    await this.xm.track(async () => {
      try {
        await withRetry(
          (signal) => this.post(url, body, signal),
          this.policy,
          {
            onAttemptFailed: () => this.xm.attemptFailed(),
            onRetry: (err, attempt, delayMs) => {
              this.xm.retried();
              this.s.logger.debug({ err: errInfo(err), attempt, retryInMs: delayMs }, 'OTLP forward failed; retrying');
            },
          },
          this.stop.signal,
        );
        this.s.metrics.sent(item.items);
        this.m.forwarded.inc({ exporter: this.s.id, signal: item.signal, outcome: 'sent' }, item.items);
        this.xm.delivered(body.length);
      } catch (e) {
        const reason = e instanceof DeliveryError && e.permanent ? 'rejected' : this.stop.signal.aborted ? 'shutdown' : 'retries_exhausted';
        this.dropped(item, reason);
        this.s.logger.warn(
          { err: errInfo(e instanceof DeliveryError ? e.cause : e), [item.signal]: item.items, reason },
          `OTLP forward: dropped a ${what(item)} batch`,
        );
      }
    });
  }

  private async post(url: string, body: Buffer, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = {
      ...this.c.headers,
      'Content-Type': 'application/x-protobuf',
      'User-Agent': `spanmeter/${VERSION}`,
    };
    if (this.c.compression === 'gzip') headers['Content-Encoding'] = 'gzip';
    const res = await fetch(url, { method: 'POST', headers, body, signal });
    const text = await res.text().catch(() => '');
    if (res.ok) return;
    const msg = `HTTP ${res.status}: ${text.slice(0, 200)}`;
    if (RETRYABLE.has(res.status) || res.status >= 500) throw new RetryableError(msg, parseRetryAfter(res.headers.get('retry-after')));
    throw new PermanentError(msg);
  }

  async shutdown(deadline: number): Promise<void> {
    this.stopping = true;
    // Forward what is queued until the deadline; then stop and count what is left as dropped.
    const timer = setTimeout(() => this.stop.abort(new Error('shutdown deadline reached')), Math.max(0, deadline - Date.now()));
    try {
      while ((this.queue.length > 0 || this.sending) && !this.stop.signal.aborted) {
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      clearTimeout(timer);
      this.stop.abort(new Error('exporter stopped'));
      await this.sender;
      for (const item of this.queue.splice(0)) {
        this.queuedSpans -= item.items;
        this.dropped(item, 'shutdown');
      }
      this.s.metrics.queueSize(0);
    }
  }
}

const what = (item: Item) => (item.signal === 'logs' ? 'log' : 'span');
