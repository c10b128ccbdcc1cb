/** OTLP/HTTP: `POST /v1/traces` (and `/v1/logs`, see logs.ts) with protobuf or JSON bodies, optionally gzip/deflate compressed. */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OtlpDecodeError, decodeOtlpJson, decodeOtlpProto, encodeExportResponseProto, encodeRpcStatusProto, exportResponseJson } from '../../src/otlp/index.js';
import type { SpanBatch } from '../../src/data/span.js';
import { BodyError, contentCoding, type Body, type ContentCoding } from '../../src/server/body.js';
import { closeServer, createHttpServer, formatAddress, header, listen, remoteOf, ServerLimits, splitHostPort } from '../../src/server/server.js';
import type { ResolvedHttp } from './config.js';
import { LOGS_PATH, countLogRecordsJson, countLogRecordsProto, logsBatchJson, logsBatchProto, logsResponseJson, logsResponseProto } from './logs.js';
import type { Outcome } from './metrics.js';
import { outcomeOf, type ExportResult, type OtlpHandler } from './handler.js';

type Enc = 'proto' | 'json';
type Signal = 'traces' | 'logs';

/** A request being handled: what every step needs to answer and count it. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The body's encoding from Content-Type; null when unsupported. */
  readonly enc: Enc | null;
  /** process.hrtime.bigint() at the start, for the duration metric. */
  readonly started: bigint;
}

/** gRPC status codes used in the `google.rpc.Status` bodies of error responses. */
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

const OTHER_SIGNALS = new Set(['/v1/metrics', '/v1development/profiles']);

export { formatAddress, splitHostPort };

/** An error message on one line, at most 300 characters (answers and log lines). */
export function oneLine(m: string): string {
  const s = m.replace(/\s+/g, ' ');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

function mediaType(header: string | undefined): Enc | null {
  const t = (header ?? '').split(';')[0]!.trim().toLowerCase();
  if (t === 'application/x-protobuf' || t === 'application/protobuf') return 'proto';
  if (t === 'application/json') return 'json';
  return null;
}

/** Matches an origin against a pattern with `*` wildcards. */
function originAllowed(origin: string, patterns: string[]): boolean {
  return patterns.some((p) => p === '*' || new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(origin));
}

export class OtlpHttpServer {
  private readonly server: http.Server;
  private closed: Promise<void> | null = null;
  /** Processing slots (taken once a body is complete) and the budget for bodies being received. */
  readonly limits: ServerLimits;

  constructor(
    private readonly rx: OtlpHandler,
    private readonly cfg: ResolvedHttp,
  ) {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        rx.logger.error({ err }, 'OTLP/HTTP handler failed');
        if (!res.headersSent) this.error(res, null, 500, GRPC.UNAVAILABLE, 'internal error');
        else res.destroy();
      });
    };
    this.limits = new ServerLimits(cfg);
    this.server = createHttpServer(cfg, handler, (remote, status, reason) => {
      rx.refused(remote, status, reason);
      rx.metrics.request('http', 'client_error', process.hrtime.bigint());
    });
  }

  listen(): Promise<void> {
    return listen(this.server, this.cfg.endpoint, 'OTLP/HTTP', this.rx.logger);
  }

  address(): string | undefined {
    const a = this.server.address();
    return a && typeof a === 'object' ? formatAddress(a) : undefined;
  }

  /** Stops listening; in-flight requests finish (until `deadline`), idle keep-alive connections are closed. */
  close(deadline: number): Promise<void> {
    this.closed ??= closeServer(this.server, deadline);
    return this.closed;
  }

  /**
   * One request: routed, checked before its body is read, the body read within the limits, then
   * decoded and handed on (or, for logs no pipeline takes, counted and answered), and the
   * pipeline's answer sent. Each step answers and counts the request itself when it ends it.
   */
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x: Exchange = { req, res, enc: mediaType(req.headers['content-type']), started: process.hrtime.bigint() };
    if (this.cfg.cors) this.corsHeaders(req, res);
    const signal = this.route(x, (req.url ?? '/').split('?')[0]!);
    if (signal === undefined) return;
    const coding = this.admit(x);
    if (coding === undefined) return;

    const rx = this.rx;
    rx.enter();
    let slot = false;
    // The body is read before a processing slot is taken: a slow sender holds no slot, and one
    // slower than min_body_rate (or past read_timeout) is cut off.
    const reading = this.limits.readBody(req, coding);
    try {
      let body: Body | undefined;
      try {
        body = await reading.body;
      } catch (e) {
        this.bodyFailed(x, e, coding);
        return;
      }
      rx.metrics.bytes('http', body.wireBytes, body.data.length);
      if (signal === 'logs' && !rx.forwardsLogs) {
        this.logsNotKept(x, body.data);
        return;
      }
      if (!this.limits.tryAcquire()) {
        this.refuse(
          x,
          429,
          GRPC.RESOURCE_EXHAUSTED,
          `too many concurrent requests (max_concurrent_requests: ${this.cfg.maxConcurrent}); retry later`,
          'too_many_requests',
          rx.retryAfterSeconds,
        );
        return;
      }
      slot = true;
      const pending = signal === 'logs' ? this.exportLogs(x, body.data) : this.exportSpans(x, body.data, reading);
      // Not kept referenced while the pipeline makes the data durable (see exportSpans).
      body = undefined;
      if (pending) this.answer(x, await pending);
    } finally {
      reading.release();
      if (slot) this.limits.release();
      rx.leave();
    }
  }

  /**
   * The signal a request is for, from its path and method; undefined when it was answered here
   * (unknown path, CORS preflight, method other than POST).
   */
  private route(x: Exchange, path: string): Signal | undefined {
    const { req, res } = x;
    const logs = path === LOGS_PATH && path !== this.cfg.path;
    if (path !== this.cfg.path && !logs) {
      if (req.method === 'OPTIONS' && this.cfg.cors && OTHER_SIGNALS.has(path)) {
        this.preflight(req, res);
        return;
      }
      const msg = OTHER_SIGNALS.has(path)
        ? `${path} is not supported: this receiver accepts traces (POST ${this.cfg.path}) and logs (POST ${LOGS_PATH})`
        : `not found: POST ${this.cfg.path} for OTLP traces`;
      this.drain(req);
      this.refuse(x, 404, GRPC.NOT_FOUND, msg, 'not_found');
      return;
    }
    if (req.method === 'OPTIONS' && this.cfg.cors) {
      this.preflight(req, res);
      return;
    }
    if (req.method !== 'POST') {
      this.drain(req);
      res.setHeader('Allow', this.cfg.cors ? 'POST, OPTIONS' : 'POST');
      this.refuse(x, 405, GRPC.UNIMPLEMENTED, `method ${req.method} not allowed; use POST`, 'method_not_allowed');
      return;
    }
    return logs ? 'logs' : 'traces';
  }

  /**
   * The checks made on the headers, before any of the body is read: shutting down, credentials,
   * content type and encoding, declared length. Returns the body's coding, or undefined when the
   * request was answered.
   */
  private admit(x: Exchange): ContentCoding | undefined {
    const { req, res } = x;
    const rx = this.rx;
    if (rx.isClosing()) {
      this.drain(req);
      res.setHeader('Connection', 'close');
      this.error(res, x.enc, 503, GRPC.UNAVAILABLE, 'shutting down; retry later', rx.retryAfterSeconds);
      this.done(x, 'shutting_down');
      return;
    }
    if (!rx.authorized((name) => header(req, name))) {
      this.drain(req);
      res.setHeader('WWW-Authenticate', 'Bearer');
      this.refuse(x, 401, GRPC.UNAUTHENTICATED, 'missing or invalid credentials', 'unauthorized');
      return;
    }
    if (!x.enc) {
      this.drain(req);
      const type = (req.headers['content-type'] ?? '').slice(0, 100);
      this.refuse(
        x,
        415,
        GRPC.INVALID_ARGUMENT,
        `unsupported content type ${JSON.stringify(type)}; use application/x-protobuf or application/json`,
        'unsupported_media_type',
        undefined,
        null,
      );
      return;
    }
    const coding = contentCoding(req.headers['content-encoding']);
    if (!coding) {
      this.drain(req);
      const ce = (req.headers['content-encoding'] ?? '').slice(0, 100);
      this.refuse(x, 415, GRPC.INVALID_ARGUMENT, `unsupported Content-Encoding ${JSON.stringify(ce)}; use gzip, deflate or none`, 'unsupported_media_type');
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.cfg.maxBody) {
      this.drain(req);
      this.refuse(x, 413, GRPC.RESOURCE_EXHAUSTED, `request body larger than ${this.cfg.maxBody} bytes`, 'too_large');
      return;
    }
    return coding;
  }

  /** Answers a body that could not be read: the client went away, too slow, over a limit, or not decompressible. */
  private bodyFailed(x: Exchange, e: unknown, coding: ContentCoding): void {
    const { req, res } = x;
    const be = e instanceof BodyError ? e : new BodyError(400, String(e));
    if (be.status === 499) {
      res.destroy();
      this.done(x, 'client_error');
      return;
    }
    if (be.status === 408) {
      // Too slow: answer and close the connection (the rest of the body is not waited for).
      res.setHeader('Connection', 'close');
      this.refuse(x, 408, GRPC.UNAVAILABLE, be.message, 'client_error');
      res.once('finish', () => req.socket.destroy());
      return;
    }
    if (be.unread) this.drain(req);
    if (be.status === 429) {
      this.refuse(x, 429, GRPC.RESOURCE_EXHAUSTED, be.message, 'too_many_requests', this.rx.retryAfterSeconds);
      return;
    }
    if (be.status === 400) this.rx.metrics.decodeError('http', coding);
    this.refuse(x, be.status, be.status === 413 ? GRPC.RESOURCE_EXHAUSTED : GRPC.INVALID_ARGUMENT, be.message, be.status === 413 ? 'too_large' : 'bad_request');
  }

  /** Logs no pipeline takes: checked and counted, then answered as not kept. */
  private logsNotKept(x: Exchange, data: Buffer): void {
    let records: number;
    try {
      records = x.enc === 'proto' ? countLogRecordsProto(data) : countLogRecordsJson(data);
    } catch (e) {
      this.decodeFailed(x, e);
      return;
    }
    this.rx.metrics.logs('http', records);
    if (x.enc === 'proto') this.send(x.res, 200, 'application/x-protobuf', logsResponseProto(records));
    else this.send(x.res, 200, 'application/json', logsResponseJson(records));
    this.done(x, records ? 'partial_success' : 'success');
  }

  /** Logs a pipeline takes: handed on as protobuf (the request as received, or JSON converted). Undefined when answered (malformed). */
  private exportLogs(x: Exchange, data: Buffer): Promise<ExportResult> | undefined {
    let batch;
    try {
      batch = x.enc === 'proto' ? logsBatchProto(data) : logsBatchJson(data);
    } catch (e) {
      this.decodeFailed(x, e);
      return;
    }
    this.rx.metrics.logs('http', batch.logRecords);
    return this.rx.exportLogs(batch, 'http');
  }

  /**
   * Decodes the spans and hands them on; undefined when answered (malformed). Not async: the
   * decoded spans, the bulk of a request's memory, are not kept referenced while the pipeline
   * makes them durable (held across the wait, they get promoted to the old generation, a much
   * costlier collection, under load). The body's bytes go back to the budget once decoded.
   */
  private exportSpans(x: Exchange, data: Buffer, reading: { release(): void }): Promise<ExportResult> | undefined {
    const rx = this.rx;
    let batch: SpanBatch;
    try {
      batch = x.enc === 'proto' ? decodeOtlpProto(data, { spanAttributes: rx.spanAttributes, spanSelector: rx.spanSelector }) : decodeOtlpJson(data);
    } catch (e) {
      this.decodeFailed(x, e);
      return;
    }
    reading.release();
    return rx.export(batch, 'http');
  }

  /** Answers a body that is not valid OTLP with 400 (other errors are rethrown). */
  private decodeFailed(x: Exchange, e: unknown): undefined {
    if (!(e instanceof OtlpDecodeError)) throw e;
    this.rx.metrics.decodeError('http', x.enc!);
    this.refuse(x, 400, GRPC.INVALID_ARGUMENT, oneLine(e.message), 'bad_request');
    return undefined;
  }

  /** Sends the pipeline's answer. */
  private answer(x: Exchange, result: ExportResult): void {
    switch (result.kind) {
      case 'ok':
        if (x.enc === 'proto') this.send(x.res, 200, 'application/x-protobuf', encodeExportResponseProto(result.response));
        else this.send(x.res, 200, 'application/json', JSON.stringify(exportResponseJson(result.response)));
        {
          this.done(x, outcomeOf(result));
          return;
        }
      case 'backpressure': {
        this.refuse(x, 429, GRPC.RESOURCE_EXHAUSTED, result.message, 'backpressure', result.retryAfterSeconds);
        return;
      }
      case 'rejected': {
        this.refuse(x, 400, GRPC.INVALID_ARGUMENT, result.message, 'rejected');
        return;
      }
      case 'unavailable': {
        this.refuse(x, 503, GRPC.UNAVAILABLE, result.message, 'unavailable', result.retryAfterSeconds);
        return;
      }
    }
  }

  /** Counts how a request ended. */
  private done(x: Exchange, outcome: Outcome): undefined {
    this.rx.metrics.request('http', outcome, x.started);
    return undefined;
  }

  /** Answers an error, counts the outcome and logs the refusal (rate-limited). */
  private refuse(x: Exchange, status: number, code: number, message: string, outcome: Outcome, retryAfter?: number, encoding: Enc | null = x.enc): undefined {
    this.error(x.res, encoding, status, code, message, retryAfter);
    this.rx.refused(remoteOf(x.req), status, message);
    this.done(x, outcome);
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
    if (this.rx.isClosing()) res.setHeader('Connection', 'close');
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** An error answer: a `google.rpc.Status` in the request's encoding, or text when that is unknown. */
  private error(res: ServerResponse, enc: Enc | null, status: number, code: number, message: string, retryAfterSeconds?: number): void {
    if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
    if (enc === 'proto') this.send(res, status, 'application/x-protobuf', encodeRpcStatusProto(code, message, retryAfterSeconds));
    else if (enc === 'json') {
      const details =
        retryAfterSeconds === undefined ? undefined : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` }];
      this.send(res, status, 'application/json', JSON.stringify({ code, message, details }));
    } else this.send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
  }

  /**
   * Discards the rest of a request we answered early, so the client can read the answer (closing a
   * socket with unread data resets it). A sender that keeps streaming far beyond the limit is cut off.
   */
  private drain(req: IncomingMessage): void {
    if (req.complete) return;
    const cap = Math.max(this.cfg.maxBody, 8 * 1024 * 1024);
    let n = 0;
    req.removeAllListeners('data');
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > cap) req.socket.destroy();
    });
    req.on('error', () => {});
    req.resume();
  }

  private corsHeaders(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (!origin || !this.cfg.cors || !originAllowed(origin, this.cfg.cors.allowed_origins)) return;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
  }

  private preflight(req: IncomingMessage, res: ServerResponse): undefined {
    const cors = this.cfg.cors!;
    const origin = req.headers.origin;
    this.drain(req);
    if (origin && originAllowed(origin, cors.allowed_origins)) {
      res.setHeader('Access-Control-Allow-Methods', 'POST');
      res.setHeader('Access-Control-Allow-Headers', ['Content-Type', 'Content-Encoding', 'Authorization', ...cors.allowed_headers].join(', '));
      res.setHeader('Access-Control-Max-Age', String(cors.max_age));
    }
    res.writeHead(204);
    res.end();
  }
}
