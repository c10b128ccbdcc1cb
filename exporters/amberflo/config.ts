import { DEFAULT_INGEST_URL } from '../../integrations/amberflo/ingest.js';
import { redactUrl } from '../../src/telemetry/redact.js';
import { defaultRetryConfig, retryConfigSchema, type RetryConfig } from '../../src/output/retry.js';
import { isActive, whenProblems, whenSchema, type WhenConfig } from '../../src/output/when.js';

export interface AmberfloExporterConfig {
  endpoint: string;
  api_key: string;
  max_records_per_request: number;
  max_bytes_per_request: number;
  timeout: string;
  dead_letter_dir: string;
  retry_on_failure: RetryConfig;
  when?: WhenConfig;
}

export const defaultConfig = (): AmberfloExporterConfig => ({
  endpoint: DEFAULT_INGEST_URL,
  api_key: '',
  max_records_per_request: 1000,
  max_bytes_per_request: 1_000_000,
  timeout: '30s',
  dead_letter_dir: '',
  // Amberflo: "make sure a couple of attempts happen after 20 seconds from the first failure".
  retry_on_failure: { ...defaultRetryConfig(), initial_interval: '2s', max_interval: '60s', max_elapsed_time: '10m' },
});

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoint: {
      type: 'string',
      pattern: '^https?://',
      description: 'Ingest URL (AFLO_API_ENDPOINT; default https://ingest.amberflo.io/ingest). A bare host (the callback\'s form) gets /ingest appended.',
    },
    api_key: { type: 'string', description: 'Amberflo API key, sent as X-API-KEY (AFLO_API_KEY). Required.' },
    max_records_per_request: { type: 'integer', minimum: 1, maximum: 10000, description: 'Split batches into requests of at most this many records (default 1000).' },
    max_bytes_per_request: { type: 'integer', minimum: 1024, description: '…and at most this many bytes of uncompressed JSON (default 1000000).' },
    timeout: { type: 'string', format: 'duration', description: 'Timeout of one POST attempt (default "30s").' },
    dead_letter_dir: {
      type: 'string',
      description: 'Where batches rejected with a 4xx other than 429 are written (gzip body + response), default "<service.data_dir>/exporters/<id>/dead-letter".',
    },
    retry_on_failure: retryConfigSchema,
    when: whenSchema,
  },
} as const;

export function validate(c: AmberfloExporterConfig): { path: string; message: string }[] {
  const out = whenProblems(c.when);
  if (!isActive(c.when)) return out;
  if (!c.api_key) out.push({ path: 'api_key', message: 'is required (set AFLO_API_KEY or api_key:)' });
  try {
    new URL(c.endpoint);
  } catch {
    out.push({ path: 'endpoint', message: `"${redactUrl(c.endpoint).slice(0, 80)}" is not a URL` });
  }
  return out;
}
