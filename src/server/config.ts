/**
 * Settings shared by every server a receiver runs (the otlp receiver's OTLP/HTTP and OTLP/gRPC
 * endpoints, a log receiver's endpoint), declared once: the HTTP server block, its TLS block and the
 * authentication keys, with the resolved form the servers use. One place for the limits that keep
 * a hostile or broken client from taking memory or slots from the others.
 */
import { readFileSync } from 'node:fs';
import { ByteSize, Duration, Nullable, Settings, Type, type Static } from '../config/declare.js';

/** The window over which min_body_rate is measured (and the grace before the first check). */
export const RATE_WINDOW_MS = 5000;

const tlsBlock = Settings(
  {
    cert_file: Type.String({ minLength: 1, description: 'PEM certificate (chain) file.' }),
    key_file: Type.String({ minLength: 1, description: 'PEM private key file.' }),
    client_ca_file: Nullable(Type.String(), {
      description: 'PEM CA bundle; when set, clients must present a certificate signed by it (mutual TLS).',
    }),
  },
  { description: 'TLS certificate and key.' },
);

export type TlsConfig = Static<typeof tlsBlock>;

/** A `tls` key: serve TLS with this certificate and key (PEM files, read at start); null or absent: plain text. */
export function TlsSettings(opts: { description?: string } = {}) {
  return Nullable(tlsBlock, { description: opts.description ?? 'Serve TLS with this certificate and key (PEM files). null or absent: plain text.' });
}

/** An `endpoint` key; without a default it is required. */
export function Endpoint(opts: { default?: string; description?: string } = {}) {
  return Type.String({
    format: 'host-port',
    description: opts.description ?? 'host:port to listen on ([::1]:port for IPv6); loopback only unless you change it; port 0 picks a free port.',
    ...(opts.default !== undefined ? { default: opts.default } : {}),
  });
}

/** A `max_concurrent_requests` key. */
export function MaxConcurrentRequests(opts: { description?: string } = {}) {
  return Type.Integer({
    minimum: 1,
    maximum: 100000,
    default: 64,
    description:
      opts.description ??
      'Most requests processed at once, from a complete body until the answer; beyond it 429 with Retry-After. Bodies still arriving hold no slot.',
  });
}

/** Per-receiver defaults of the HTTP server block; without `endpoint` the endpoint is required. */
export interface HttpServerDefaults {
  endpoint?: string;
  max_request_body_size: string;
}

/**
 * The keys of an HTTP server block (spread into the receiver's own block): listener, body and
 * time limits, concurrency, connections and TLS.
 */
export function HttpServerSettings(d: HttpServerDefaults) {
  return {
    endpoint: Endpoint({ ...(d.endpoint !== undefined ? { default: d.endpoint } : {}) }),
    max_request_body_size: ByteSize({
      minimum: 1,
      default: d.max_request_body_size,
      description: 'Largest request body accepted, checked on the bytes received AND on the decompressed size (bytes or "20MiB"). Larger requests get 413.',
    }),
    read_timeout: Duration({
      default: '30s',
      description: 'Time a client has to send a whole request, headers and body; then 408 and the connection is closed.',
    }),
    header_timeout: Duration({ default: '10s', description: 'Time a client has to send the request headers (at most read_timeout).' }),
    min_body_rate: ByteSize({
      minimum: 1,
      default: '10KiB',
      description: `Slowest body accepted, bytes per second, measured over each ${RATE_WINDOW_MS / 1000} s window; a slower or stalled body is cut with 408.`,
    }),
    max_concurrent_requests: MaxConcurrentRequests(),
    max_connections: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 4096,
      description: 'Most open connections; further connections are closed at once.',
    }),
    tls: TlsSettings(),
  };
}

/** An HTTP server block as the receiver receives it (durations in ms, sizes in bytes). */
export type HttpServerConfig = Static<ReturnType<typeof Settings<ReturnType<typeof HttpServerSettings>>>>;

/**
 * A `bearer_token` key: the token expected in `Authorization: Bearer <token>`, compared in constant
 * time (see Authenticator). `minLength: 1` refuses an empty token instead of reading it as "none".
 */
export function BearerToken(opts: { description: string; minLength?: number }) {
  return Nullable(Type.String(opts.minLength !== undefined ? { minLength: opts.minLength } : {}), { description: opts.description });
}

/** An `auth` block: a bearer token and/or headers that must be present with exact values. Off when absent. */
export function AuthSettings(opts: { description: string }) {
  return Nullable(
    Settings(
      {
        bearer_token: BearerToken({
          description:
            'Expected token in `Authorization: Bearer <token>`, compared in constant time (e.g. ${env:SPANMETER_OTLP_TOKEN}); empty or null: no token required.',
        }),
        headers: Nullable(Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string', minLength: 1 } }), {
          description: 'Headers (gRPC metadata) that must be present with exactly these values, e.g. {x-api-key: ...}.',
        }),
      },
      { description: opts.description },
    ),
    opts,
  );
}

export type AuthConfig = Static<ReturnType<typeof AuthSettings>>;

/** What an Authenticator checks: the token (null: none) and the required headers, names in lower case. */
export interface ResolvedAuth {
  bearerToken: string | null;
  headers: [string, string][];
}

/** The resolved `auth` block (an empty token means none). */
export function resolveAuth(c: AuthConfig): ResolvedAuth {
  return {
    bearerToken: c?.bearer_token || null,
    headers: Object.entries(c?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  };
}

export interface ResolvedServer {
  endpoint: string;
  maxBody: number;
  readTimeoutMs: number;
  headerTimeoutMs: number;
  minBytesPerSecond: number;
  maxConcurrent: number;
  maxConnections: number;
  tls: TlsConfig | null;
}

/** The limits of a server block in the form the server uses; `sharedTls` applies when the block has none. */
export function resolveServer(c: HttpServerConfig, sharedTls: TlsConfig | null = null): ResolvedServer {
  return {
    endpoint: c.endpoint,
    maxBody: c.max_request_body_size,
    readTimeoutMs: c.read_timeout,
    headerTimeoutMs: Math.min(c.read_timeout, c.header_timeout),
    minBytesPerSecond: c.min_body_rate,
    maxConcurrent: c.max_concurrent_requests,
    maxConnections: c.max_connections,
    tls: c.tls ?? sharedTls,
  };
}

/** Reads a PEM file named in a `tls` block, with an error that says which key it came from. */
export function readPem(tls: TlsConfig, key: 'cert_file' | 'key_file' | 'client_ca_file'): Buffer {
  const file = tls[key]!;
  try {
    return readFileSync(file);
  } catch (e) {
    // eslint-disable-next-line preserve-caught-error -- the message carries the cause's already; a cause would print it twice in the log
    throw new Error(`tls.${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
