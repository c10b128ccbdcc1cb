/**
 * The HTTP server block receivers share: listener with TLS, header and whole-request deadlines
 * (checked every second), a connection cap, bearer/header authentication in constant time, a
 * shared budget for bodies being received, processing slots taken only once a body is complete,
 * and rate-limited warnings for refused requests.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { readPem, type ResolvedServer } from './config.js';
import { readBody, type Body, type ContentCoding } from './body.js';
import { RATE_WINDOW_MS } from './config.js';

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

/** Told about requests Node refuses before the handler sees them (deadlines, malformed requests). */
export type OnRefused = (remote: string, status: number, reason: string) => void;

/**
 * Creates (does not start) an HTTP or HTTPS server with the block's deadlines and caps. Requests
 * Node refuses itself (header_timeout, read_timeout, malformed) are answered as Node would and
 * reported to `onRefused`.
 */
export function createHttpServer(cfg: ResolvedServer, handler: RequestListener, onRefused?: OnRefused): http.Server {
  const opts: http.ServerOptions = {
    requestTimeout: cfg.readTimeoutMs,
    headersTimeout: cfg.headerTimeoutMs,
    keepAliveTimeout: 30_000,
    // Node checks the two deadlines above on this interval (default 30 s, which let a 30 s
    // deadline run to 60 s).
    connectionsCheckingInterval: 1000,
  };
  const server = cfg.tls
    ? https.createServer(
        {
          ...opts,
          cert: readPem(cfg.tls, 'cert_file'),
          key: readPem(cfg.tls, 'key_file'),
          ...(cfg.tls.client_ca_file ? { ca: readPem(cfg.tls, 'client_ca_file'), requestCert: true, rejectUnauthorized: true } : {}),
        },
        handler,
      )
    : http.createServer(opts, handler);
  server.maxConnections = cfg.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const [status, text] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large']
          : [400, 'Bad Request'];
    const remote = socket.remoteAddress
      ? `${socket.remoteFamily === 'IPv6' ? `[${socket.remoteAddress}]` : socket.remoteAddress}:${socket.remotePort}`
      : 'unknown';
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') {
      onRefused?.(
        remote,
        status,
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'request not received within header_timeout / read_timeout'
          : `malformed request (${err.code ?? err.message})`,
      );
    }
    if (socket.writable && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroy();
  });
  return server;
}

/** Starts listening on `endpoint`; `what` names the server in errors. */
export function listen(server: http.Server, endpoint: string, what: string, logger: Logger): Promise<void> {
  const { host, port } = splitHostPort(endpoint);
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new Error(`${what} cannot listen on ${endpoint}: ${e.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      server.on('error', (err) => logger.error({ err }, `${what} server error`));
      resolve();
    });
  });
}

/** Stops listening; in-flight requests finish until `deadline`, idle keep-alive connections are closed. */
export function closeServer(server: http.Server, deadline: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const timer = setInterval(() => server.closeIdleConnections(), 50);
    const hard = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
    server.close(() => {
      clearInterval(timer);
      clearTimeout(hard);
      resolve();
    });
    server.closeIdleConnections();
  });
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time string comparison (both sides hashed first, so the length does not leak either). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Bearer token and/or required headers; `check` reads a lower-case header (or gRPC metadata) name. */
export class Authenticator {
  constructor(
    private readonly bearerToken: string | null,
    private readonly headers: readonly [string, string][] = [],
  ) {}

  get enabled(): boolean {
    return this.bearerToken !== null || this.headers.length > 0;
  }

  check(get: (name: string) => string | undefined): boolean {
    let ok = true;
    if (this.bearerToken !== null) {
      const h = get('authorization');
      const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
      // Compared even when absent, so a missing header takes the same time as a wrong one.
      ok = safeEqual(m ? m[1]! : '', this.bearerToken) && m !== null;
    }
    for (const [k, v] of this.headers) {
      const got = get(k);
      ok = safeEqual(got ?? '', v) && got !== undefined && ok;
    }
    return ok;
  }
}

/** Reads one header value (the first when repeated). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The client's address as "ip:port". */
export function remoteOf(req: IncomingMessage): string {
  const s = req.socket;
  if (!s.remoteAddress) return 'unknown';
  return s.remoteFamily === 'IPv6' ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

/**
 * Processing slots and the budget for bodies being received. A request takes a slot only once its
 * body is complete, so a slow sender never holds one; the body budget (max_concurrent_requests ×
 * max_request_body_size) bounds the memory of bodies still arriving.
 */
export class ServerLimits {
  private active = 0;
  private bodyBytes = 0;
  readonly maxBodyBytes: number;

  constructor(readonly cfg: ResolvedServer) {
    this.maxBodyBytes = cfg.maxConcurrent * cfg.maxBody;
  }

  get activeRequests(): number {
    return this.active;
  }

  get bufferedBytes(): number {
    return this.bodyBytes;
  }

  tryAcquire(): boolean {
    if (this.active >= this.cfg.maxConcurrent) return false;
    this.active++;
    return true;
  }

  release(): void {
    this.active--;
  }

  /**
   * Reads a body with the block's limits (size, minimum rate, shared budget). `release()` gives
   * the body's bytes back to the budget; call it once the request is answered, also on failure.
   */
  readBody(req: IncomingMessage, coding: ContentCoding, maxBody = this.cfg.maxBody): { body: Promise<Body>; release: () => void } {
    let held = 0;
    const body = readBody(req, coding, {
      maxWire: maxBody,
      maxDecoded: maxBody,
      minBytesPerSecond: this.cfg.minBytesPerSecond,
      rateWindowMs: RATE_WINDOW_MS,
      reserve: (n) => {
        if (this.bodyBytes + n > this.maxBodyBytes) return false;
        this.bodyBytes += n;
        held += n;
        return true;
      },
    });
    return {
      body,
      release: () => {
        this.bodyBytes -= held;
        held = 0;
      },
    };
  }
}

/**
 * Warn-level log lines for refused requests (remote address, status, reason), at most one per
 * status and reason every `intervalMs`; the next line says how many were not logged. These lines
 * also reach the status page's recent errors.
 */
export class RefusalLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    private readonly intervalMs = 10_000,
  ) {}

  refused(remote: string, status: number | string, reason: string): void {
    const key = `${status} ${reason.slice(0, 80)}`;
    const now = Date.now();
    const e = this.last.get(key);
    if (e && now - e.at < this.intervalMs) {
      e.suppressed++;
      return;
    }
    if (this.last.size > 1000) this.last.clear();
    const suppressed = e?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    const more = suppressed ? ` (${suppressed} more like it not logged in the last ${Math.round((now - e!.at) / 1000)} s)` : '';
    this.logger.warn({ remote, status, reason, suppressed }, `${this.what} request refused: ${status} ${reason} from ${remote}${more}`);
  }
}

/** Writes a JSON answer. */
export function replyJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
