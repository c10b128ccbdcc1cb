/** OTLP/HTTP: `POST /v1/traces` (and `/v1/logs`, see logs.ts) with protobuf or JSON bodies, optionally gzip/deflate compressed. */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  OtlpDecodeError,
  decodeOtlpJson,
  decodeOtlpProto,
  encodeExportResponseProto,
  encodeRpcStatusProto,
  exportResponseJson,
} from '../../src/otlp/index.js';
import type { SpanBatch } from '../../src/data/span.js';
import { BodyError, contentCoding } from '../../src/server/body.js';
import { closeServer, createHttpServer, formatAddress, header, listen, remoteOf, ServerLimits, splitHostPort } from '../../src/server/server.js';
import type { ResolvedHttp } from './config.js';
import { LOGS_PATH, countLogRecordsJson, countLogRecordsProto, logsBatchJson, logsBatchProto, logsResponseJson, logsResponseProto } from './logs.js';
import type { Outcome } from './metrics.js';
import { outcomeOf, type ExportResult, type OtlpHandler } from './handler.js';

type Enc = 'proto' | 'json';

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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const rx = this.rx;
    const path = (req.url ?? '/').split('?')[0]!;
    const enc: Enc | null = mediaType(req.headers['content-type']);
    const done = (outcome: Outcome) => rx.metrics.request('http', outcome, started);
    /** Answers an error, counts the outcome and logs the refusal (rate-limited). */
    const refuse = (status: number, code: number, message: string, outcome: Outcome, retryAfter?: number, encoding: Enc | null = enc) => {
      this.error(res, encoding, status, code, message, retryAfter);
      rx.refused(remoteOf(req), status, message);
      done(outcome);
    };

    if (this.cfg.cors) this.corsHeaders(req, res);
    const logs = path === LOGS_PATH && path !== this.cfg.path;
    if (path !== this.cfg.path && !logs) {
      if (req.method === 'OPTIONS' && this.cfg.cors && OTHER_SIGNALS.has(path)) return this.preflight(req, res);
      const msg = OTHER_SIGNALS.has(path)
        ? `${path} is not supported: this receiver accepts traces (POST ${this.cfg.path}) and logs (POST ${LOGS_PATH})`
        : `not found: POST ${this.cfg.path} for OTLP traces`;
      this.drain(req);
      return refuse(404, GRPC.NOT_FOUND, msg, 'not_found');
    }
    if (req.method === 'OPTIONS' && this.cfg.cors) return this.preflight(req, res);
    if (req.method !== 'POST') {
      this.drain(req);
      res.setHeader('Allow', this.cfg.cors ? 'POST, OPTIONS' : 'POST');
      return refuse(405, GRPC.UNIMPLEMENTED, `method ${req.method} not allowed; use POST`, 'method_not_allowed');
    }
    if (rx.isClosing()) {
      this.drain(req);
      res.setHeader('Connection', 'close');
      this.error(res, enc, 503, GRPC.UNAVAILABLE, 'shutting down; retry later', rx.retryAfterSeconds);
      return done('shutting_down');
    }
    if (!rx.authorized((name) => header(req, name))) {
      this.drain(req);
      res.setHeader('WWW-Authenticate', 'Bearer');
      return refuse(401, GRPC.UNAUTHENTICATED, 'missing or invalid credentials', 'unauthorized');
    }
    if (!enc) {
      this.drain(req);
      const type = String(req.headers['content-type'] ?? '').slice(0, 100);
      return refuse(415, GRPC.INVALID_ARGUMENT, `unsupported content type ${JSON.stringify(type)}; use application/x-protobuf or application/json`, 'unsupported_media_type', undefined, null);
    }
    const coding = contentCoding(req.headers['content-encoding']);
    if (!coding) {
      this.drain(req);
      const ce = String(req.headers['content-encoding'] ?? '').slice(0, 100);
      return refuse(415, GRPC.INVALID_ARGUMENT, `unsupported Content-Encoding ${JSON.stringify(ce)}; use gzip, deflate or none`, 'unsupported_media_type');
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.cfg.maxBody) {
      this.drain(req);
      return refuse(413, GRPC.RESOURCE_EXHAUSTED, `request body larger than ${this.cfg.maxBody} bytes`, 'too_large');
    }

    rx.enter();
    let slot = false;
    // The body is read before a processing slot is taken: a slow sender holds no slot, and one
    // slower than min_body_rate (or past read_timeout) is cut off.
    const reading = this.limits.readBody(req, coding);
    try {
      let body;
      try {
        body = await reading.body;
      } catch (e) {
        const be = e instanceof BodyError ? e : new BodyError(400, String(e));
        if (be.status === 499) {
          res.destroy();
          return done('client_error');
        }
        if (be.status === 408) {
          // Too slow: answer and close the connection (the rest of the body is not waited for).
          res.setHeader('Connection', 'close');
          refuse(408, GRPC.UNAVAILABLE, be.message, 'client_error');
          res.once('finish', () => req.socket.destroy());
          return;
        }
        if (be.unread) this.drain(req);
        if (be.status === 429) return refuse(429, GRPC.RESOURCE_EXHAUSTED, be.message, 'too_many_requests', rx.retryAfterSeconds);
        if (be.status === 400) rx.metrics.decodeError('http', coding);
        return refuse(be.status, be.status === 413 ? GRPC.RESOURCE_EXHAUSTED : GRPC.INVALID_ARGUMENT, be.message, be.status === 413 ? 'too_large' : 'bad_request');
      }
      rx.metrics.bytes('http', body.wireBytes, body.data.length);

      if (logs && !rx.forwardsLogs) {
        let records: number;
        try {
          records = enc === 'proto' ? countLogRecordsProto(body.data) : countLogRecordsJson(body.data);
        } catch (e) {
          if (!(e instanceof OtlpDecodeError)) throw e;
          rx.metrics.decodeError('http', enc);
          return refuse(400, GRPC.INVALID_ARGUMENT, oneLine(e.message), 'bad_request');
        }
        rx.metrics.logs('http', records);
        if (enc === 'proto') this.send(res, 200, 'application/x-protobuf', logsResponseProto(records));
        else this.send(res, 200, 'application/json', logsResponseJson(records));
        return done(records ? 'partial_success' : 'success');
      }

      if (!this.limits.tryAcquire()) {
        return refuse(429, GRPC.RESOURCE_EXHAUSTED, `too many concurrent requests (max_concurrent_requests: ${this.cfg.maxConcurrent}); retry later`, 'too_many_requests', rx.retryAfterSeconds);
      }
      slot = true;

      let pending: Promise<ExportResult>;
      if (logs) {
        // Logs a pipeline takes: handed on as protobuf (the request as received, or JSON converted).
        let batch;
        try {
          batch = enc === 'proto' ? logsBatchProto(body.data) : logsBatchJson(body.data);
        } catch (e) {
          if (!(e instanceof OtlpDecodeError)) throw e;
          rx.metrics.decodeError('http', enc);
          return refuse(400, GRPC.INVALID_ARGUMENT, oneLine(e.message), 'bad_request');
        }
        rx.metrics.logs('http', batch.logRecords);
        body = undefined;
        pending = rx.exportLogs(batch, 'http');
      } else {
        let batch: SpanBatch | undefined;
        try {
          batch = enc === 'proto' ? decodeOtlpProto(body.data, { spanAttributes: rx.spanAttributes, spanSelector: rx.spanSelector }) : decodeOtlpJson(body.data);
        } catch (e) {
          if (!(e instanceof OtlpDecodeError)) throw e;
          rx.metrics.decodeError('http', enc);
          return refuse(400, GRPC.INVALID_ARGUMENT, oneLine(e.message), 'bad_request');
        }
        body = undefined;
        reading.release();

        pending = rx.export(batch, 'http');
        // Not kept referenced while the pipeline makes the data durable: the decoded spans are the
        // bulk of a request's memory, and holding them across the wait gets them promoted to the
        // old generation (a much costlier collection) under load.
        batch = undefined;
      }
      const result = await pending;
      switch (result.kind) {
        case 'ok':
          if (enc === 'proto') this.send(res, 200, 'application/x-protobuf', encodeExportResponseProto(result.response));
          else this.send(res, 200, 'application/json', JSON.stringify(exportResponseJson(result.response)));
          return done(outcomeOf(result));
        case 'backpressure':
          return refuse(429, GRPC.RESOURCE_EXHAUSTED, result.message, 'backpressure', result.retryAfterSeconds);
        case 'rejected':
          return refuse(400, GRPC.INVALID_ARGUMENT, result.message, 'rejected');
        case 'unavailable':
          return refuse(503, GRPC.UNAVAILABLE, result.message, 'unavailable', result.retryAfterSeconds);
      }
    } finally {
      reading.release();
      if (slot) this.limits.release();
      rx.leave();
    }
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
      const details = retryAfterSeconds === undefined ? undefined : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` }];
      this.send(res, status, 'application/json', JSON.stringify({ code, message, details }));
    }
    else this.send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
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

  private preflight(req: IncomingMessage, res: ServerResponse): void {
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
