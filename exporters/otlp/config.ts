import type { ConfigProblem } from '../../src/component.js';
import { Duration, Settings, Type, type Static } from '../../src/config/declare.js';
import { RetrySettings } from '../../src/output/retry.js';
import { redactUrl } from '../../src/telemetry/redact.js';

/** The otlp (forward) exporter's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    endpoint: Type.String({
      default: '',
      description:
        'OTLP/HTTP base URL of the downstream (e.g. http://otel-collector:4318, https://cloud.langfuse.com/api/public/otel). Spans go to <endpoint>/v1/traces, logs to <endpoint>/v1/logs (a URL ending with /v1/traces is taken as <endpoint>/v1/traces). Required.',
    }),
    headers: Type.Record(Type.String(), Type.String(), {
      default: {},
      description: 'Extra request headers (e.g. Authorization), values may use ${env:...}.',
    }),
    compression: Type.Enum(['gzip', 'none'], { default: 'gzip', description: 'Request body compression.' }),
    timeout: Duration({ default: '10s', description: 'Timeout of one POST attempt.' }),
    queue_size: Type.Integer({
      minimum: 1,
      default: 100,
      description:
        'Span and log batches waiting to be forwarded. When full, the OLDEST batch is dropped and counted: forwarding is best-effort and never slows metering.',
    }),
    retry_on_failure: RetrySettings({ initial_interval: '1s', max_interval: '30s', max_elapsed_time: '2m' }),
  },
  { description: 'OTLP forward exporter settings.' },
);

export type OtlpExporterConfig = Static<typeof configSchema>;

/** Checks a schema cannot express. */
export function validate(c: OtlpExporterConfig): ConfigProblem[] {
  if (!c.endpoint) return [{ path: 'endpoint', message: 'is required' }];
  try {
    new URL(c.endpoint);
  } catch {
    return [{ path: 'endpoint', message: `"${redactUrl(c.endpoint).slice(0, 80)}" is not a URL` }];
  }
  return [];
}

/** Where spans go: `<endpoint>/v1/traces` (unless the endpoint already ends with it). */
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
