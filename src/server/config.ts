/**
 * Settings shared by every HTTP server a receiver runs (the otlp receiver's OTLP/HTTP endpoint, the
 * litellm_logs endpoint): schema fragments, defaults, and the resolved form. One place for the
 * limits that keep a hostile or broken client from taking memory or slots from the others.
 */
import { readFileSync } from 'node:fs';
import type { JSONSchema } from '../component.js';
import { parseDuration } from '../config/duration.js';
import { parseByteSize } from '../config/size.js';

export interface TlsConfig {
  cert_file: string;
  key_file: string;
  client_ca_file?: string | null;
}

/** The keys of an HTTP server block as written in pipeline.yaml. */
export interface HttpServerConfig {
  endpoint?: string;
  max_request_body_size?: number | string;
  read_timeout?: string;
  header_timeout?: string;
  min_body_rate?: number | string;
  max_concurrent_requests?: number;
  max_connections?: number;
  tls?: TlsConfig | null;
}

export interface ServerDefaults {
  endpoint: string;
  maxBody: string;
}

export const DEFAULT_MAX_CONCURRENT = 64;
export const DEFAULT_MAX_CONNECTIONS = 4096;
export const DEFAULT_READ_TIMEOUT = '30s';
export const DEFAULT_HEADER_TIMEOUT = '10s';
export const DEFAULT_MIN_BODY_RATE = '10KiB';
/** The window over which min_body_rate is measured (and the grace before the first check). */
export const RATE_WINDOW_MS = 5000;

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

const size = (description: string): JSONSchema => ({
  description,
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', format: 'byte-size' },
  ],
});

export const tlsSchema: JSONSchema = {
  description: 'Serve TLS with this certificate and key (PEM files). null or absent: plain text.',
  anyOf: [
    { type: 'null' },
    {
      type: 'object',
      additionalProperties: false,
      required: ['cert_file', 'key_file'],
      properties: {
        cert_file: { type: 'string', minLength: 1, description: 'PEM certificate (chain) file.' },
        key_file: { type: 'string', minLength: 1, description: 'PEM private key file.' },
        client_ca_file: {
          type: ['string', 'null'],
          description: 'PEM CA bundle; when set, clients must present a certificate signed by it (mutual TLS).',
        },
      },
    },
  ],
};

/** Schema properties of a server block (merge into the receiver's own `properties`). */
export function serverProperties(d: ServerDefaults): Record<string, JSONSchema> {
  return {
    endpoint: {
      type: 'string',
      format: 'host-port',
      description: `host:port to listen on (default ${d.endpoint}; loopback only unless you change it; port 0 picks a free port).`,
    },
    max_request_body_size: size(
      `Largest request body accepted, checked on the bytes received AND on the decompressed size (bytes or "20MiB"; default ${d.maxBody}). Larger requests get 413.`,
    ),
    read_timeout: {
      type: 'string',
      format: 'duration',
      description: `Time a client has to send a whole request, headers and body (default "${DEFAULT_READ_TIMEOUT}"); then 408 and the connection is closed.`,
    },
    header_timeout: {
      type: 'string',
      format: 'duration',
      description: `Time a client has to send the request headers (default "${DEFAULT_HEADER_TIMEOUT}"; at most read_timeout).`,
    },
    min_body_rate: size(
      `Slowest body accepted, bytes per second, measured over each ${RATE_WINDOW_MS / 1000} s window (default ${DEFAULT_MIN_BODY_RATE}); a slower or stalled body is cut with 408.`,
    ),
    max_concurrent_requests: {
      type: 'integer',
      minimum: 1,
      maximum: 100000,
      description: `Most requests processed at once, from a complete body until the answer (default ${DEFAULT_MAX_CONCURRENT}); beyond it 429 with Retry-After. Bodies still arriving hold no slot.`,
    },
    max_connections: {
      type: 'integer',
      minimum: 1,
      maximum: 1000000,
      description: `Most open connections (default ${DEFAULT_MAX_CONNECTIONS}); further connections are closed at once.`,
    },
    tls: tlsSchema,
  };
}

/** The resolved limits of a server block (defaults filled in). */
export function resolveServer(c: HttpServerConfig, d: ServerDefaults, sharedTls: TlsConfig | null = null): ResolvedServer {
  const readTimeoutMs = parseDuration(c.read_timeout ?? DEFAULT_READ_TIMEOUT);
  return {
    endpoint: c.endpoint ?? d.endpoint,
    maxBody: parseByteSize(c.max_request_body_size ?? d.maxBody),
    readTimeoutMs,
    headerTimeoutMs: Math.min(readTimeoutMs, parseDuration(c.header_timeout ?? DEFAULT_HEADER_TIMEOUT)),
    minBytesPerSecond: parseByteSize(c.min_body_rate ?? DEFAULT_MIN_BODY_RATE),
    maxConcurrent: c.max_concurrent_requests ?? DEFAULT_MAX_CONCURRENT,
    maxConnections: c.max_connections ?? DEFAULT_MAX_CONNECTIONS,
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
