/**
 * The `otlp` receiver instance: owns the HTTP and gRPC servers and the part both share — auth, span
 * validation, handing the batch to the pipeline and mapping the pipeline's answer to a result.
 */
import type { Logger } from 'pino';
import { Authenticator, RefusalLog } from '../../src/server/server.js';
import { IdleCollector } from '../../src/server/idle-gc.js';
import { BackpressureError, PermanentError, type Consumer, type CreateSettings, type Host, type Receiver } from '../../src/component.js';
import type { ComponentMetrics } from '../../src/telemetry/metrics.js';
import type { ScopeSpans, SpanBatch } from '../../src/data/span.js';
import type { LogsBatch } from '../../src/data/logs.js';
import type { ExportResponse } from '../../src/otlp/index.js';
import type { ExportResult, OtlpHandler } from './handler.js';
import { resolve, type OtlpReceiverConfig, type Resolved } from './config.js';
import { ReceiverMetrics } from './metrics.js';
import { OtlpGrpcServer } from './grpc.js';
import { OtlpHttpServer } from './http.js';

/** What a batch costs in the decoded-data budget: its spans plus their attributes, events and links. */
export function decodedUnits(batch: SpanBatch): number {
  let n = 0;
  for (const rs of batch.resourceSpans) {
    for (const _ in rs.resource.attributes) n++;
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) {
        n += 1 + s.events.length + s.links.length;
        for (const _ in s.attributes) n++;
      }
  }
  return n;
}

/**
 * Drops spans that can never be valid (empty trace or span id, see the OTLP spec) and reports them
 * as a partial success. Returns the batch to hand on (the input itself when nothing was dropped).
 * Spans the decoder left out (`batch.omitted`) count as they would have: valid or rejected.
 */
export function dropInvalidSpans(batch: SpanBatch): { batch: SpanBatch; valid: number; rejected: number } {
  let valid = batch.omitted?.valid ?? 0;
  let rejected = batch.omitted?.invalid ?? 0;
  for (const rs of batch.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) {
        if (s.traceId === '' || s.spanId === '') rejected++;
        else valid++;
      }
  if (rejected === 0) return { batch, valid, rejected };
  return {
    valid,
    rejected,
    batch: {
      ...(batch.omitted?.valid ? { omitted: { valid: batch.omitted.valid, invalid: 0 } } : {}),
      resourceSpans: batch.resourceSpans
        .map((rs) => ({
          ...rs,
          scopeSpans: rs.scopeSpans
            .map((ss): ScopeSpans => ({ ...ss, spans: ss.spans.filter((s) => s.traceId !== '' && s.spanId !== '') }))
            .filter((ss) => ss.spans.length > 0),
        }))
        .filter((rs) => rs.scopeSpans.length > 0),
    },
  };
}

/** True for endpoints only this host can reach. */
export function isLoopback(endpoint: string): boolean {
  const host = endpoint.slice(0, endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export class OtlpReceiver implements Receiver, OtlpHandler {
  readonly id: string;
  readonly cfg: Resolved;
  readonly logger: Logger;
  readonly metrics: ReceiverMetrics;
  private readonly std: ComponentMetrics;
  private readonly next: Consumer<SpanBatch>;
  /** Where log records go when a pipeline takes them (see forwardsLogs). */
  private readonly logsNext: Consumer<LogsBatch> | undefined;
  private http: OtlpHttpServer | null = null;
  private grpc: OtlpGrpcServer | null = null;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private stopping: Promise<void> | null = null;
  private readonly auth: Authenticator;
  /** Decoded units (see decodedUnits) handed to the pipeline and not yet answered. */
  private decodedInFlight = 0;
  /** Rate-limited warnings for refused requests (both protocols). */
  private readonly refusals: RefusalLog;
  /** Hands a burst's garbage back once the receiver is quiet (see IdleCollector). */
  private readonly idleGc: IdleCollector;
  /** True once shutdown began: new requests are refused with 503 / UNAVAILABLE. */
  private closing = false;

  isClosing(): boolean {
    return this.closing;
  }

  get retryAfterSeconds(): number {
    return this.cfg.retryAfterSeconds;
  }

  refused(remote: string, status: number | string, reason: string): void {
    this.refusals.refused(remote, status, reason);
  }

  /**
   * The span attributes the pipelines read (undefined: all); the protobuf decoder builds only those.
   * Asked per request: a configuration reload can change the pipelines behind a running receiver.
   */
  get spanAttributes(): ReadonlySet<string> | undefined {
    return this.next.spanAttributes;
  }

  /** The attribute without which the pipelines ignore a span (undefined: none); such spans are not built. */
  get spanSelector(): ReadonlySet<string> | undefined {
    return this.next.spanSelector;
  }

  constructor(settings: CreateSettings<OtlpReceiverConfig>, next: Consumer<SpanBatch>) {
    this.id = settings.id;
    this.cfg = resolve(settings.config);
    this.logger = settings.logger;
    this.std = settings.metrics;
    this.metrics = new ReceiverMetrics(settings.registry, settings.id);
    this.next = next;
    this.logsNext = settings.nextFor?.('logs');
    this.auth = new Authenticator(this.cfg.bearerToken, this.cfg.headers);
    this.refusals = new RefusalLog(this.logger, 'OTLP');
    this.idleGc = new IdleCollector(this.cfg.maxDecodedInFlight);
  }

  /**
   * True when some pipeline takes this receiver's logs: they are handed on instead of being
   * answered as not kept. Asked per request, as a reload can change the pipelines.
   */
  get forwardsLogs(): boolean {
    return this.logsNext !== undefined && this.logsNext.connected !== false;
  }

  /** Hands an OTLP logs request to the pipelines that take logs; resolves once they answered. */
  exportLogs(batch: LogsBatch, transport: string): Promise<ExportResult> {
    if (batch.logRecords === 0 || !this.logsNext) return Promise.resolve({ kind: 'ok', response: {} });
    const next = this.logsNext;
    // A consumer that throws instead of rejecting: the executor turns the throw into a rejection with the same value.
    const accepted = new Promise<void>((resolve) => {
      resolve(next.consume(batch, { receiver: this.id, transport }));
    });
    return this.answer(accepted, 0, transport, {}, 'log records');
  }

  /** Decoded units held right now (for tests and status). */
  get decodedUnitsInFlight(): number {
    return this.decodedInFlight;
  }

  async start(_host?: Host): Promise<void> {
    if (this.http || this.grpc) return;
    try {
      if (this.cfg.http) {
        this.http = new OtlpHttpServer(this, this.cfg.http);
        await this.http.listen();
      }
      if (this.cfg.grpc) {
        this.grpc = new OtlpGrpcServer(this, this.cfg.grpc);
        await this.grpc.listen();
      }
    } catch (e) {
      await Promise.allSettled([this.http?.close(Date.now()), this.grpc?.close(Date.now())]);
      this.http = this.grpc = null;
      throw e;
    }
    this.logger.info({ addresses: this.boundAddresses() }, 'OTLP receiver listening');
    const exposed = [this.cfg.http, this.cfg.grpc].filter((p) => p && !isLoopback(p.endpoint) && !p.tls?.client_ca_file).map((p) => p!.endpoint);
    if (exposed.length && this.cfg.bearerToken === null && this.cfg.headers.length === 0) {
      this.logger.warn(
        { endpoints: exposed },
        `OTLP receiver listens on ${exposed.join(' and ')} without authentication: anyone who can reach it can write billing data. Set auth.bearer_token (SPANMETER_OTLP_TOKEN in the shipped pipeline.yaml); see docs/security.md`,
      );
    }
  }

  /** The addresses actually bound (useful with port 0), e.g. `{ http: "127.0.0.1:40123" }`. */
  boundAddresses(): { http?: string; grpc?: string } {
    const out: { http?: string; grpc?: string } = {};
    const h = this.http?.address();
    const g = this.grpc?.address();
    if (h) out.http = h;
    if (g) out.grpc = g;
    return out;
  }

  /** Stops accepting (closes the listeners), lets in-flight requests finish, then resolves. */
  shutdown(deadline: number): Promise<void> {
    this.stopping ??= (async () => {
      this.closing = true;
      const idle = this.whenIdle(deadline);
      await Promise.allSettled([this.http?.close(deadline), this.grpc?.close(deadline)]);
      await idle;
      this.logger.info('OTLP receiver stopped');
    })();
    return this.stopping;
  }

  private whenIdle(deadline: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(res, Math.max(0, deadline - Date.now()));
      t.unref();
      this.idleWaiters.push(() => {
        clearTimeout(t);
        res();
      });
    });
  }

  /** Called around every request so shutdown can wait for them. */
  enter(): void {
    this.inFlight++;
    this.idleGc.activity();
  }

  leave(): void {
    if (--this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Checks the configured credentials; `get` reads a (lower-case) header / metadata key. */
  authorized(get: (name: string) => string | undefined): boolean {
    return this.auth.check(get);
  }

  /**
   * Validates and hands a decoded batch to the pipeline; resolves once the pipeline answered.
   * Not async itself, so that no frame keeps the batch referenced while the answer is awaited.
   */
  export(input: SpanBatch, transport: string): Promise<ExportResult> {
    const { batch, valid, rejected } = dropInvalidSpans(input);
    const partial: ExportResponse = rejected
      ? { partialSuccess: { rejectedSpans: rejected, errorMessage: `${rejected} span(s) without a trace_id or span_id were rejected` } }
      : {};
    if (rejected) this.std.refused(rejected, transport);
    if (valid === 0) return Promise.resolve({ kind: 'ok', response: partial });
    if (this.next.connected === false) {
      // Only logs pipelines take this receiver's data: the spans are answered as not kept.
      this.std.refused(valid, transport);
      return Promise.resolve({
        kind: 'ok',
        response: { partialSuccess: { rejectedSpans: valid + rejected, errorMessage: 'no pipeline takes spans from this receiver; not kept' } },
      });
    }
    // The memory budget for decoded data: a request alone always fits, so the largest request
    // allowed is never refused for good.
    const units = decodedUnits(batch);
    if (this.decodedInFlight > 0 && this.decodedInFlight + units > this.cfg.maxDecodedInFlight) {
      this.std.refused(valid, transport);
      return Promise.resolve({
        kind: 'backpressure',
        message: `memory budget for decoded data is full (max_decoded_in_flight: ${this.cfg.maxDecodedInFlight} spans and attributes); retry later`,
        retryAfterSeconds: this.cfg.retryAfterSeconds,
      });
    }
    this.decodedInFlight += units;
    // A consumer that throws instead of rejecting: the executor turns the throw into a rejection with the same value.
    const accepted = new Promise<void>((resolve) => {
      resolve(this.next.consume(batch, { receiver: this.id, transport }));
    });
    const answer = this.answer(accepted, valid, transport, partial);
    void answer.finally(() => {
      this.decodedInFlight -= units;
      this.idleGc.done(units, this.decodedInFlight === 0);
    });
    return answer;
  }

  /** Maps the pipeline's answer to a result; `valid` spans are counted in the standard counters (0 for logs). */
  private async answer(accepted: Promise<void>, valid: number, transport: string, partial: ExportResponse, what = 'spans'): Promise<ExportResult> {
    try {
      await accepted;
    } catch (e) {
      // Anything can be thrown (even null): match on the name, read the message once it is known to be an error.
      const name = (e as Partial<Error> | null | undefined)?.name;
      const err = e as Error;
      if (e instanceof BackpressureError || name === 'BackpressureError') {
        this.std.refused(valid, transport);
        const ra = (e as BackpressureError).retryAfterSeconds;
        return { kind: 'backpressure', message: err.message, retryAfterSeconds: Math.max(1, Math.ceil(Number.isFinite(ra) ? ra : 1)) };
      }
      if (e instanceof PermanentError || name === 'PermanentError') {
        this.std.refused(valid, transport);
        return { kind: 'rejected', message: err.message };
      }
      this.std.failed(valid, transport);
      this.logger.warn({ err, transport, ...(valid ? { spans: valid } : {}) }, `pipeline failed to accept ${what}; the sender was told to retry`);
      return { kind: 'unavailable', message: 'the pipeline could not accept the data; retry later', retryAfterSeconds: this.cfg.retryAfterSeconds };
    }
    this.std.accepted(valid, transport);
    return { kind: 'ok', response: partial };
  }
}
