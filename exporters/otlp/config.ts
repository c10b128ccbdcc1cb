import { redactUrl } from '../../src/telemetry/redact.js';
import { defaultRetryConfig, retryConfigSchema, type RetryConfig } from '../../src/output/retry.js';

export interface OtlpExporterConfig {
  endpoint: string;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  timeout: string;
  queue_size: number;
  retry_on_failure: RetryConfig;
}

export const defaultConfig = (): OtlpExporterConfig => ({
  endpoint: '',
  headers: {},
  compression: 'gzip',
  timeout: '10s',
  queue_size: 100,
  retry_on_failure: { ...defaultRetryConfig(), initial_interval: '1s', max_interval: '30s', max_elapsed_time: '2m' },
});

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoint: {
      type: 'string',
      description: 'OTLP/HTTP base URL of the downstream (e.g. http://otel-collector:4318, https://cloud.langfuse.com/api/public/otel). Spans go to <endpoint>/v1/traces, logs to <endpoint>/v1/logs (a URL ending with /v1/traces is taken as <endpoint>/v1/traces). Required.',
    },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra request headers (e.g. Authorization), values may use ${env:...}.' },
    compression: { enum: ['gzip', 'none'], description: 'Request body compression (default "gzip").' },
    timeout: { type: 'string', format: 'duration', description: 'Timeout of one POST attempt (default "10s").' },
    queue_size: {
      type: 'integer',
      minimum: 1,
      description: 'Span and log batches waiting to be forwarded (default 100). When full, the OLDEST batch is dropped and counted: forwarding is best-effort and never slows metering.',
    },
    retry_on_failure: retryConfigSchema,
  },
} as const;

export function validate(c: OtlpExporterConfig): { path: string; message: string }[] {
  if (!c.endpoint) return [{ path: 'endpoint', message: 'is required' }];
  try {
    new URL(c.endpoint);
  } catch {
    return [{ path: 'endpoint', message: `"${redactUrl(c.endpoint).slice(0, 80)}" is not a URL` }];
  }
  return [];
}

export function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (!u.pathname.endsWith('/v1/traces')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/traces`;
  return u.toString();
}

/** Where logs go: `<endpoint>/v1/logs` (an endpoint ending with /v1/traces has that part replaced). */
export function logsUrl(endpoint: string): string {
  const u = new URL(endpoint);
  const base = u.pathname.replace(/\/v1\/(traces|logs)\/*$/, '').replace(/\/+$/, '');
  u.pathname = `${base}/v1/logs`;
  return u.toString();
}
