/** OTLP/HTTP: `POST /v1/traces` (and `/v1/logs`, see logs.ts) with protobuf or JSON bodies, optionally gzip/deflate compressed. */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  OtlpDecodeError,
  decodeOtlpJson,
  decodeOtlpProto,
  encodeExportResponseProto,
  encodeRpcStatusProto,
  exportResponseJson,
} from '../../src/otlp/index.js';
import type { SpanBatch } from '../../src/data/span.js';
import { BodyError, contentCoding, readBody } from './body.js';
import { LOGS_PATH, countLogRecordsJson, countLogRecordsProto, logsResponseJson, logsResponseProto } from './logs.js';
import { readPem, type ResolvedHttp } from './config.js';
import type { Outcome } from './metrics.js';
import { outcomeOf, type OtlpReceiver } from './receiver.js';

type Enc = 'proto' | 'json';

/** gRPC status codes used in the `google.rpc.Status` bodies of error responses. */
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

const OTHER_SIGNALS = new Set(['/v1/metrics', '/v1development/profiles']);

/** Splits "host:port" / "[::1]:port". */
export function splitHostPort(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  let host = endpoint.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host || '0.0.0.0', port: Number(endpoint.slice(i + 1)) };
}

export function formatAddress(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
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
  /** Requests past the header checks and not yet answered (bounded by cfg.maxConcurrent). */
  private active = 0;

  constructor(
    private readonly rx: OtlpReceiver,
    private readonly cfg: ResolvedHttp,
  ) {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        rx.logger.error({ err }, 'OTLP/HTTP handler failed');
        if (!res.headersSent) this.error(res, null, 500, GRPC.UNAVAILABLE, 'internal error');
        else res.destroy();
      });
    };
    const opts: http.ServerOptions = { requestTimeout: cfg.readTimeoutMs, headersTimeout: Math.min(cfg.readTimeoutMs, 60_000), keepAliveTimeout: 30_000 };
    if (cfg.tls) {
      this.server = https.createServer(
        {
          ...opts,
          cert: readPem(cfg.tls, 'cert_file'),
          key: readPem(cfg.tls, 'key_file'),
          ...(cfg.tls.client_ca_file ? { ca: readPem(cfg.tls, 'client_ca_file'), requestCert: true, rejectUnauthorized: true } : {}),
        },
        handler,
      );
    } else {
      this.server = http.createServer(opts, handler);
    }
  }

  listen(): Promise<void> {
    const { host, port } = splitHostPort(this.cfg.endpoint);
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new Error(`OTLP/HTTP cannot listen on ${this.cfg.endpoint}: ${e.message}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.rx.logger.error({ err }, 'OTLP/HTTP server error'));
        resolve();
      });
    });
  }

  address(): string | undefined {
    const a = this.server.address();
    return a && typeof a === 'object' ? formatAddress(a) : undefined;
  }

  /** Stops listening; in-flight requests finish (until `deadline`), idle keep-alive connections are closed. */
  close(deadline: number): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      const timer = setInterval(() => this.server.closeIdleConnections(), 50);
      const hard = setTimeout(() => this.server.closeAllConnections(), Math.max(0, deadline - Date.now()));
      this.server.close(() => {
        clearInterval(timer);
        clearTimeout(hard);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const rx = this.rx;
    const path = (req.url ?? '/').split('?')[0]!;
    const enc: Enc | null = mediaType(req.headers['content-type']);
    const done = (outcome: Outcome) => rx.metrics.request('http', outcome, started);

    if (this.cfg.cors) this.corsHeaders(req, res);
    const logs = path === LOGS_PATH && path !== this.cfg.path;
    if (path !== this.cfg.path && !logs) {
      if (req.method === 'OPTIONS' && this.cfg.cors && OTHER_SIGNALS.has(path)) return this.preflight(req, res);
      const msg = OTHER_SIGNALS.has(path)
        ? `${path} is not supported: this receiver accepts traces (POST ${this.cfg.path}) and logs (POST ${LOGS_PATH})`
        : `not found: POST ${this.cfg.path} for OTLP traces`;
      this.drain(req);
      this.error(res, enc, 404, GRPC.NOT_FOUND, msg);
      return done('not_found');
    }
    if (req.method === 'OPTIONS' && this.cfg.cors) return this.preflight(req, res);
    if (req.method !== 'POST') {
      this.drain(req);
      res.setHeader('Allow', this.cfg.cors ? 'POST, OPTIONS' : 'POST');
      this.error(res, enc, 405, GRPC.UNIMPLEMENTED, `method ${req.method} not allowed; use POST`);
      return done('method_not_allowed');
    }
    if (rx.closing) {
      this.drain(req);
      res.setHeader('Connection', 'close');
      this.error(res, enc, 503, GRPC.UNAVAILABLE, 'shutting down; retry later', rx.cfg.retryAfterSeconds);
      return done('shutting_down');
    }
    if (!rx.authorized((name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    })) {
      this.drain(req);
      res.setHeader('WWW-Authenticate', 'Bearer');
      this.error(res, enc, 401, GRPC.UNAUTHENTICATED, 'missing or invalid credentials');
      return done('unauthorized');
    }
    if (!enc) {
      this.drain(req);
      this.error(res, null, 415, GRPC.INVALID_ARGUMENT, `unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}; use application/x-protobuf or application/json`);
      return done('unsupported_media_type');
    }
    const coding = contentCoding(req.headers['content-encoding']);
    if (!coding) {
      this.drain(req);
      this.error(res, enc, 415, GRPC.INVALID_ARGUMENT, `unsupported Content-Encoding ${JSON.stringify(req.headers['content-encoding'])}; use gzip, deflate or none`);
      return done('unsupported_media_type');
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.cfg.maxBody) {
      this.drain(req);
      this.error(res, enc, 413, GRPC.RESOURCE_EXHAUSTED, `request body larger than ${this.cfg.maxBody} bytes`);
      return done('too_large');
    }

    if (this.active >= this.cfg.maxConcurrent) {
      // Over the limit: answer at once and discard the body unread, never queue it.
      this.drain(req);
      this.error(res, enc, 429, GRPC.RESOURCE_EXHAUSTED, `too many concurrent requests (max_concurrent_requests: ${this.cfg.maxConcurrent}); retry later`, rx.cfg.retryAfterSeconds);
      return done('too_many_requests');
    }

    this.active++;
    rx.enter();
    try {
      let body;
      try {
        body = await readBody(req, coding, { maxWire: this.cfg.maxBody, maxDecoded: this.cfg.maxBody });
      } catch (e) {
        const be = e instanceof BodyError ? e : new BodyError(400, String(e));
        if (be.unread) this.drain(req);
        if (be.status === 499 || be.status === 408) {
          res.destroy();
          return done('client_error');
        }
        if (be.status === 400) rx.metrics.decodeError('http', coding);
        this.error(res, enc, be.status, be.status === 413 ? GRPC.RESOURCE_EXHAUSTED : GRPC.INVALID_ARGUMENT, be.message);
        return done(be.status === 413 ? 'too_large' : 'bad_request');
      }
      rx.metrics.bytes('http', body.wireBytes, body.data.length);

      if (logs) {
        let records: number;
        try {
          records = enc === 'proto' ? countLogRecordsProto(body.data) : countLogRecordsJson(body.data);
        } catch (e) {
          if (!(e instanceof OtlpDecodeError)) throw e;
          rx.metrics.decodeError('http', enc);
          this.error(res, enc, 400, GRPC.INVALID_ARGUMENT, e.message.length > 300 ? `${e.message.slice(0, 300)}…` : e.message);
          return done('bad_request');
        }
        rx.metrics.logs('http', records);
        if (enc === 'proto') this.send(res, 200, 'application/x-protobuf', logsResponseProto(records));
        else this.send(res, 200, 'application/json', logsResponseJson(records));
        return done(records ? 'partial_success' : 'success');
      }

      let batch: SpanBatch | undefined;
      try {
        batch = enc === 'proto' ? decodeOtlpProto(body.data, { spanAttributes: rx.spanAttributes, spanSelector: rx.spanSelector }) : decodeOtlpJson(body.data);
      } catch (e) {
        if (!(e instanceof OtlpDecodeError)) throw e;
        rx.metrics.decodeError('http', enc);
        this.error(res, enc, 400, GRPC.INVALID_ARGUMENT, e.message.length > 300 ? `${e.message.slice(0, 300)}…` : e.message);
        return done('bad_request');
      }

      const pending = rx.export(batch, 'http');
      // Not kept referenced while the pipeline makes the data durable: the decoded spans are the
      // bulk of a request's memory, and holding them across the wait gets them promoted to the
      // old generation (a much costlier collection) under load.
      batch = undefined;
      body = undefined;
      const result = await pending;
      switch (result.kind) {
        case 'ok':
          if (enc === 'proto') this.send(res, 200, 'application/x-protobuf', encodeExportResponseProto(result.response));
          else this.send(res, 200, 'application/json', JSON.stringify(exportResponseJson(result.response)));
          break;
        case 'backpressure':
          this.error(res, enc, 429, GRPC.RESOURCE_EXHAUSTED, result.message, result.retryAfterSeconds);
          break;
        case 'rejected':
          this.error(res, enc, 400, GRPC.INVALID_ARGUMENT, result.message);
          break;
        case 'unavailable':
          this.error(res, enc, 503, GRPC.UNAVAILABLE, result.message, result.retryAfterSeconds);
          break;
      }
      return done(outcomeOf(result));
    } finally {
      this.active--;
      rx.leave();
    }
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
    if (this.rx.closing) res.setHeader('Connection', 'close');
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
