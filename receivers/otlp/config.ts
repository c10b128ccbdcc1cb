/** Config of the `otlp` receiver: schema, defaults and the resolved form used at run time. */
import type { ConfigProblem, JSONSchema } from '../../src/component.js';
import { parseDuration } from '../../src/config/duration.js';
import { parseByteSize } from '../../src/config/size.js';
import {
  DEFAULT_MAX_CONCURRENT,
  readPem,
  resolveServer,
  serverProperties,
  tlsSchema,
  type HttpServerConfig,
  type ResolvedServer,
  type TlsConfig,
} from '../../src/server/config.js';

export { DEFAULT_MAX_CONCURRENT, readPem, type TlsConfig };

export interface CorsConfig {
  allowed_origins?: string[];
  allowed_headers?: string[];
  max_age?: number;
}

export interface ResolvedCors {
  allowed_origins: string[];
  allowed_headers: string[];
  max_age: number;
}

export interface HttpProtocolConfig extends HttpServerConfig {
  enabled: boolean;
  traces_url_path: string;
  cors?: CorsConfig | null;
}

export interface GrpcProtocolConfig {
  enabled: boolean;
  endpoint: string;
  max_recv_msg_size: number | string;
  max_concurrent_requests?: number;
  tls?: TlsConfig | null;
}

export interface AuthConfig {
  bearer_token?: string | null;
  headers?: Record<string, string> | null;
}

export interface OtlpReceiverConfig {
  protocols: {
    http?: HttpProtocolConfig | null;
    grpc?: GrpcProtocolConfig | null;
  };
  auth?: AuthConfig | null;
  tls?: TlsConfig | null;
  retry_after: string;
  max_decoded_in_flight?: number;
}

export const DEFAULT_MAX_BODY = 20 * 1024 * 1024;
/**
 * Decoded spans plus their attributes held at once (decoded, not yet acknowledged by the
 * pipeline), across both protocols. About 2.5 million fit in 800 MB of heap (bench/README.md).
 */
const HTTP_DEFAULTS = { endpoint: '127.0.0.1:4318', maxBody: '20MiB' };

export const DEFAULT_MAX_DECODED_IN_FLIGHT = 1_000_000;

export function defaultConfig(): OtlpReceiverConfig {
  return {
    protocols: {
      http: {
        enabled: true,
        endpoint: '127.0.0.1:4318',
        traces_url_path: '/v1/traces',
        max_request_body_size: '20MiB',
        read_timeout: '30s',
        max_concurrent_requests: DEFAULT_MAX_CONCURRENT,
      },
      grpc: {
        enabled: true,
        endpoint: '127.0.0.1:4317',
        max_recv_msg_size: '20MiB',
        max_concurrent_requests: DEFAULT_MAX_CONCURRENT,
      },
    },
    retry_after: '1s',
  };
}

const size = (description: string): JSONSchema => ({
  description,
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', format: 'byte-size' },
  ],
});

const endpoint = (dflt: string): JSONSchema => ({
  type: 'string',
  format: 'host-port',
  description: `host:port to listen on (default ${dflt}; loopback only unless you change it; port 0 picks a free port).`,
});

const maxConcurrent = (what: string, over: string): JSONSchema => ({
  type: 'integer',
  minimum: 1,
  maximum: 100000,
  description: `Most ${what} handled at once (from the headers until the answer, including the wait for the pipeline; default ${DEFAULT_MAX_CONCURRENT}). Beyond it a new one is answered ${over} with Retry-After (retry_after) at once instead of being queued.`,
});

const enabled: JSONSchema = { type: 'boolean', description: 'false turns this protocol off (default true).' };

export const configSchema: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    protocols: {
      type: 'object',
      additionalProperties: false,
      description: 'The transports to serve. Both are on by default; set `enabled: false` on one to turn it off.',
      properties: {
        http: {
          description: 'OTLP/HTTP (protobuf and JSON). An empty value (`http:` or null) keeps the defaults.',
          anyOf: [
            { type: 'null' },
            {
              type: 'object',
              additionalProperties: false,
              properties: {
                enabled,
                ...serverProperties(HTTP_DEFAULTS),
                traces_url_path: { type: 'string', pattern: '^/', description: 'Path of the trace export endpoint (default /v1/traces).' },
                cors: {
                  description: 'CORS for browser senders; off when absent or when allowed_origins is empty.',
                  anyOf: [
                    { type: 'null' },
                    {
                      type: 'object',
                      additionalProperties: false,
                      properties: {
                        allowed_origins: {
                          type: 'array',
                          items: { type: 'string', minLength: 1 },
                          description: 'Origins allowed to send, e.g. "https://app.example.com"; "*" wildcards allowed ("https://*.example.com").',
                        },
                        allowed_headers: {
                          type: 'array',
                          items: { type: 'string', minLength: 1 },
                          description: 'Request headers allowed besides Content-Type, Content-Encoding and Authorization.',
                        },
                        max_age: { type: 'integer', minimum: 0, description: 'Seconds a browser may cache a preflight answer (default 7200).' },
                      },
                    },
                  ],
                },
              },
            },
          ],
        },
        grpc: {
          description: 'OTLP/gRPC (TraceService/Export). An empty value (`grpc:` or null) keeps the defaults.',
          anyOf: [
            { type: 'null' },
            {
              type: 'object',
              additionalProperties: false,
              properties: {
                enabled,
                endpoint: endpoint('127.0.0.1:4317'),
                max_recv_msg_size: size(
                  'Largest message accepted, compressed and decompressed (bytes or "20MiB"; default 20MiB). Larger messages get RESOURCE_EXHAUSTED from gRPC.',
                ),
                max_concurrent_requests: maxConcurrent('Export calls', 'RESOURCE_EXHAUSTED with a RetryInfo'),
                tls: tlsSchema,
              },
            },
          ],
        },
      },
    },
    auth: {
      description: 'Require credentials on every request (both protocols): 401 / UNAUTHENTICATED without them. Off when absent.',
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            bearer_token: {
              type: ['string', 'null'],
              description: 'Expected token in `Authorization: Bearer <token>`, compared in constant time (e.g. ${env:SPANMETER_OTLP_TOKEN}); empty or null: no token required.',
            },
            headers: {
              type: ['object', 'null'],
              additionalProperties: { type: 'string', minLength: 1 },
              description: 'Headers (gRPC metadata) that must be present with exactly these values, e.g. {x-api-key: ...}.',
            },
          },
        },
      ],
    },
    tls: { ...tlsSchema, description: 'TLS for both protocols (a protocol\'s own `tls` takes precedence). null or absent: plain text.' },
    max_decoded_in_flight: {
      type: 'integer',
      minimum: 1,
      description: `Memory budget for decoded data: spans plus their attributes decoded and not yet acknowledged, across both protocols (default ${DEFAULT_MAX_DECODED_IN_FLIGHT}). A request that does not fit is answered 429 / RESOURCE_EXHAUSTED with Retry-After; a request alone always fits.`,
    },
    retry_after: {
      type: 'string',
      format: 'duration',
      description: 'Retry-After sent with 503 / UNAVAILABLE when the pipeline failed without a hint (default "1s"; back-pressure uses the hint of the stage that refused).',
    },
  },
};

/** Byte sizes: an integer, or a string like "20MiB", "512KB" (shared parser in src/config/size.ts). */
export { parseByteSize };

export interface ResolvedHttp extends ResolvedServer {
  path: string;
  cors: ResolvedCors | null;
}

export interface ResolvedGrpc {
  endpoint: string;
  maxMessage: number;
  maxConcurrent: number;
  tls: TlsConfig | null;
}

export interface Resolved {
  http: ResolvedHttp | null;
  grpc: ResolvedGrpc | null;
  bearerToken: string | null;
  headers: [string, string][];
  retryAfterSeconds: number;
  maxDecodedInFlight: number;
}

/** The validated config in the form the servers use (defaults filled in). */
export function resolve(c: OtlpReceiverConfig): Resolved {
  const d = defaultConfig().protocols;
  const h = c.protocols.http === null ? d.http! : c.protocols.http;
  const g = c.protocols.grpc === null ? d.grpc! : c.protocols.grpc;
  const sharedTls = c.tls ?? null;
  return {
    http:
      h && h.enabled !== false
        ? {
            ...resolveServer(h, HTTP_DEFAULTS, sharedTls),
            path: h.traces_url_path ?? '/v1/traces',
            cors: h.cors?.allowed_origins?.length
              ? { allowed_origins: h.cors.allowed_origins, allowed_headers: h.cors.allowed_headers ?? [], max_age: h.cors.max_age ?? 7200 }
              : null,
          }
        : null,
    grpc:
      g && g.enabled !== false
        ? {
            endpoint: g.endpoint ?? d.grpc!.endpoint,
            maxMessage: parseByteSize(g.max_recv_msg_size ?? DEFAULT_MAX_BODY),
            maxConcurrent: g.max_concurrent_requests ?? DEFAULT_MAX_CONCURRENT,
            tls: g.tls ?? sharedTls,
          }
        : null,
    bearerToken: c.auth?.bearer_token || null,
    headers: Object.entries(c.auth?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    retryAfterSeconds: Math.max(1, Math.ceil(parseDuration(c.retry_after ?? '1s') / 1000)),
    maxDecodedInFlight: c.max_decoded_in_flight ?? DEFAULT_MAX_DECODED_IN_FLIGHT,
  };
}

/** Checks a schema cannot express. */
export function validate(c: OtlpReceiverConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  let r: Resolved;
  try {
    r = resolve(c);
  } catch (e) {
    return [{ path: '', message: (e as Error).message }];
  }
  if (!r.http && !r.grpc) problems.push({ path: 'protocols', message: 'at least one protocol (http or grpc) must be enabled' });
  if (r.http && r.grpc && r.http.endpoint === r.grpc.endpoint && !r.http.endpoint.endsWith(':0')) {
    problems.push({ path: 'protocols.grpc.endpoint', message: `http and grpc cannot both listen on ${r.http.endpoint}` });
  }
  if (r.http && r.http.maxBody < 1) problems.push({ path: 'protocols.http.max_request_body_size', message: 'must be at least 1 byte' });
  if (r.grpc && r.grpc.maxMessage < 1) problems.push({ path: 'protocols.grpc.max_recv_msg_size', message: 'must be at least 1 byte' });
  if (r.grpc && r.grpc.maxMessage > 2 ** 31 - 1) problems.push({ path: 'protocols.grpc.max_recv_msg_size', message: 'must be below 2GiB' });
  for (const [k] of r.headers) {
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) problems.push({ path: `auth.headers.${k}`, message: 'is not a valid header name' });
  }
  return problems;
}
