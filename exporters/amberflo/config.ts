import type { ConfigProblem } from '../../src/component.js';
import { Duration, Settings, Type, type Static } from '../../src/config/declare.js';
import { RetrySettings } from '../../src/output/retry.js';
import { isActive, whenProblems, whenSchema, type WhenConfig } from '../../src/output/when.js';
import { redactUrl } from '../../src/telemetry/redact.js';
import { DEFAULT_INGEST_URL } from '../../integrations/amberflo/ingest.js';

/** The amberflo exporter's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    endpoint: Type.String({
      pattern: '^https?://',
      default: DEFAULT_INGEST_URL,
      description: "Ingest URL (AFLO_API_ENDPOINT). A bare host (the callback's form) gets /ingest appended.",
    }),
    api_key: Type.String({ default: '', description: 'Amberflo API key, sent as X-API-KEY (AFLO_API_KEY). Required.' }),
    max_records_per_request: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 1000,
      description: 'Split batches into requests of at most this many records.',
    }),
    max_bytes_per_request: Type.Integer({ minimum: 1024, default: 1_000_000, description: '…and at most this many bytes of uncompressed JSON.' }),
    timeout: Duration({ default: '30s', description: 'Timeout of one POST attempt.' }),
    dead_letter_dir: Type.String({
      default: '',
      description:
        'Where batches rejected with a 4xx other than 429 are written (gzip body + response); empty = "<service.data_dir>/exporters/<id>/dead-letter".',
    }),
    // Amberflo: "make sure a couple of attempts happen after 20 seconds from the first failure".
    retry_on_failure: RetrySettings({ initial_interval: '2s', max_interval: '60s', max_elapsed_time: '10m' }),
    when: Type.Optional(Type.Unsafe<WhenConfig>(whenSchema)),
  },
  { description: 'Amberflo ingest API exporter settings.' },
);

export type AmberfloExporterConfig = Static<typeof configSchema>;

/** Checks a schema cannot express: the `when` selector, and an API key and a URL when active. */
export function validate(c: AmberfloExporterConfig): ConfigProblem[] {
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
