/** Config of the `otlp` receiver, declared once (schema, defaults, docs, type), and the resolved form the servers use. */
import type { ConfigProblem } from '../../src/component.js';
import { ByteSize, Duration, Nullable, Section, Settings, Type, type Static } from '../../src/config/declare.js';
import {
  AuthSettings,
  Endpoint,
  HttpServerSettings,
  MaxConcurrentRequests,
  resolveAuth,
  resolveServer,
  TlsSettings,
  type ResolvedServer,
  type TlsConfig,
} from '../../src/server/config.js';

const enabled = () => Type.Boolean({ default: true, description: 'false turns this protocol off.' });

export const configSchema = Settings(
  {
    protocols: Section(
      {
        http: Section(
          {
            enabled: enabled(),
            ...HttpServerSettings({ endpoint: '127.0.0.1:4318', max_request_body_size: '20MiB' }),
            tls: TlsSettings({ description: 'TLS for HTTP only (same keys as the shared `tls`); overrides the shared one. null or absent: the shared `tls`.' }),
            traces_url_path: Type.String({ pattern: '^/', default: '/v1/traces', description: 'Path of the trace export endpoint.' }),
            cors: Nullable(
              Settings(
                {
                  allowed_origins: Type.Array(Type.String({ minLength: 1 }), {
                    default: [],
                    description: 'Origins allowed to send, e.g. "https://app.example.com"; "*" wildcards allowed ("https://*.example.com").',
                  }),
                  allowed_headers: Type.Array(Type.String({ minLength: 1 }), {
                    default: [],
                    description: 'Request headers allowed besides Content-Type, Content-Encoding and Authorization.',
                  }),
                  max_age: Type.Integer({ minimum: 0, default: 7200, description: 'Seconds a browser may cache a preflight answer.' }),
                },
                { description: 'CORS settings.' },
              ),
              { description: 'CORS for browser senders; off when absent or when allowed_origins is empty.' },
            ),
          },
          { description: 'OTLP/HTTP (protobuf and JSON). An empty value (`http:` or null) keeps the defaults.' },
        ),
        grpc: Section(
          {
            enabled: enabled(),
            endpoint: Endpoint({ default: '127.0.0.1:4317' }),
            max_recv_msg_size: ByteSize({
              minimum: 1,
              default: '20MiB',
              description: 'Largest message accepted, compressed and decompressed (bytes or "20MiB"). Larger messages get RESOURCE_EXHAUSTED from gRPC.',
            }),
            max_concurrent_requests: MaxConcurrentRequests({
              description:
                'Most Export calls handled at once (from the headers until the answer, including the wait for the pipeline). Beyond it a new one is answered RESOURCE_EXHAUSTED with a RetryInfo (retry_after) at once instead of being queued.',
            }),
            tls: TlsSettings({ description: 'TLS for gRPC only (same keys as the shared `tls`); overrides the shared one. null or absent: the shared `tls`.' }),
          },
          { description: 'OTLP/gRPC (TraceService/Export). An empty value (`grpc:` or null) keeps the defaults.' },
        ),
      },
      { description: 'The transports to serve. Both are on by default; set `enabled: false` on one to turn it off.' },
    ),
    auth: AuthSettings({
      description: 'Require credentials on every request (both protocols): 401 / UNAUTHENTICATED without them. Off when absent.',
    }),
    tls: TlsSettings({ description: "TLS for both protocols (a protocol's own `tls` takes precedence). null or absent: plain text." }),
    max_decoded_in_flight: Type.Integer({
      minimum: 1,
      default: 1_000_000,
      description:
        'Memory budget for decoded data: spans plus their attributes decoded and not yet acknowledged, across both protocols. A request that does not fit is answered 429 / RESOURCE_EXHAUSTED with Retry-After; a request alone always fits.',
    }),
    retry_after: Duration({
      default: '1s',
      description:
        'Retry-After sent with 503 / UNAVAILABLE when the pipeline failed without a hint, while shutting down, and with 429 over max_concurrent_requests (back-pressure uses the hint of the stage that refused).',
    }),
  },
  { description: 'OTLP receiver settings.' },
);

export type OtlpReceiverConfig = Static<typeof configSchema>;

export type { TlsConfig };

export interface ResolvedCors {
  allowed_origins: string[];
  allowed_headers: string[];
  max_age: number;
}

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

/** The converted config in the form the servers use: protocols turned off are null, the shared TLS applied. */
export function resolve(c: OtlpReceiverConfig): Resolved {
  const { http: h, grpc: g } = c.protocols;
  const sharedTls = c.tls;
  return {
    http: h.enabled
      ? {
          ...resolveServer(h, sharedTls),
          path: h.traces_url_path,
          cors: h.cors?.allowed_origins.length
            ? { allowed_origins: h.cors.allowed_origins, allowed_headers: h.cors.allowed_headers, max_age: h.cors.max_age }
            : null,
        }
      : null,
    grpc: g.enabled ? { endpoint: g.endpoint, maxMessage: g.max_recv_msg_size, maxConcurrent: g.max_concurrent_requests, tls: g.tls ?? sharedTls } : null,
    ...resolveAuth(c.auth),
    retryAfterSeconds: Math.max(1, Math.ceil(c.retry_after / 1000)),
    maxDecodedInFlight: c.max_decoded_in_flight,
  };
}

/** Checks a schema cannot express. */
export function validate(c: OtlpReceiverConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const r = resolve(c);
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
