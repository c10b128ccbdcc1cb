/** Config of the `otlp` receiver: schema, defaults and the resolved form used at run time. */
import { readFileSync } from 'node:fs';
import type { ConfigProblem, JSONSchema } from '../../src/component.js';
import { parseDuration } from '../../src/config/duration.js';
import { parseByteSize } from '../../src/config/size.js';

export interface TlsConfig {
  cert_file: string;
  key_file: string;
  client_ca_file?: string | null;
}

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

export interface HttpProtocolConfig {
  enabled: boolean;
  endpoint: string;
  traces_url_path: string;
  max_request_body_size: number | string;
  read_timeout: string;
  max_concurrent_requests?: number;
  tls?: TlsConfig | null;
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
}

export const DEFAULT_MAX_BODY = 20 * 1024 * 1024;
/** Requests (HTTP) / calls (gRPC) handled at once per protocol; beyond it: 429 / RESOURCE_EXHAUSTED. */
export const DEFAULT_MAX_CONCURRENT = 64;

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

const tlsSchema: JSONSchema = {
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
                endpoint: endpoint('127.0.0.1:4318'),
                traces_url_path: { type: 'string', pattern: '^/', description: 'Path of the trace export endpoint (default /v1/traces).' },
                max_request_body_size: size(
                  'Largest request body accepted, checked on the bytes received AND on the decompressed size (bytes or "20MiB"; default 20MiB). Larger requests get 413.',
                ),
                read_timeout: {
                  type: 'string',
                  format: 'duration',
                  description: 'Time a client has to send a whole request (headers and body), default "30s".',
                },
                max_concurrent_requests: maxConcurrent('requests', '429 (body discarded unread)'),
                tls: tlsSchema,
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
              minLength: 1,
              description: 'Expected token in `Authorization: Bearer <token>` (e.g. ${env:SPANMETER_OTLP_TOKEN}).',
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
    retry_after: {
      type: 'string',
      format: 'duration',
      description: 'Retry-After sent with 503 / UNAVAILABLE when the pipeline failed without a hint (default "1s"; back-pressure uses the hint of the stage that refused).',
    },
  },
};

/** Byte sizes: an integer, or a string like "20MiB", "512KB" (shared parser in src/config/size.ts). */
export { parseByteSize };

export interface ResolvedHttp {
  endpoint: string;
  path: string;
  maxBody: number;
  readTimeoutMs: number;
  maxConcurrent: number;
  tls: TlsConfig | null;
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
}

/** Reads a PEM file named in a `tls` block, with an error that says which key it came from. */
export function readPem(tls: TlsConfig, key: 'cert_file' | 'key_file' | 'client_ca_file'): Buffer {
  const file = tls[key]!;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`tls.${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
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
            endpoint: h.endpoint ?? d.http!.endpoint,
            path: h.traces_url_path ?? '/v1/traces',
            maxBody: parseByteSize(h.max_request_body_size ?? DEFAULT_MAX_BODY),
            readTimeoutMs: parseDuration(h.read_timeout ?? '30s'),
            maxConcurrent: h.max_concurrent_requests ?? DEFAULT_MAX_CONCURRENT,
            tls: h.tls ?? sharedTls,
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
    bearerToken: c.auth?.bearer_token ?? null,
    headers: Object.entries(c.auth?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    retryAfterSeconds: Math.max(1, Math.ceil(parseDuration(c.retry_after ?? '1s') / 1000)),
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
