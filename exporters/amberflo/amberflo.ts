/**
 * POSTs meter records to Amberflo's ingest API: gzip JSON arrays of at most 1,000 records / 1 MB,
 * X-API-KEY, retries of 429 / 408 / 5xx / network errors with jittered exponential backoff
 * honouring Retry-After, and a dead-letter folder for requests the API rejects (other 4xx):
 * written with the response, counted, logged — never retried forever, never silently dropped.
 *
 * The API client is integrations/amberflo/ingest.ts; this file adds the dead-letter folder.
 * Built on the shared delivery core (src/output/delivery.ts): each request body is an
 * EncodedObject, so with the write-ahead log on, requests are spooled to disk first and posted
 * by the background uploader (resumed after a restart), exactly like the object-store exporters.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/output/atomic.js';
import type { Exporter } from '../../src/component.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { ObjectExporter, type Destination, type ObjectExporterOptions } from '../../src/output/delivery.js';
import { retryPolicyOf } from '../../src/output/retry.js';
import { dormantExporter, isActive } from '../../src/output/when.js';
import { redactBody, redactUrl } from '../../src/telemetry/redact.js';
import { IngestSink, RejectedError, ingestUrl } from '../../integrations/amberflo/ingest.js';
import type { AmberfloExporterConfig } from './config.js';
import { amberfloObjects } from '../../integrations/amberflo/objects.js';

type Settings = Omit<ObjectExporterOptions<Destination>, 'sink' | 'format' | 'destination' | 'retry' | 'maxRecordsPerObject' | 'onRejected'> & {
  dataDir: string;
};

/** The exporter for a resolved config: dormant when its `when` does not match, else the API client with retries and dead-lettering. */
export function amberfloExporter(c: AmberfloExporterConfig, s: Settings): Exporter<MeterRecord[]> {
  if (!isActive(c.when)) return dormantExporter(s.logger, c.when!);
  return ingestExporter(c, s);
}

/** The active exporter: the ingest API client on the shared delivery core, with the dead-letter folder. */
function ingestExporter(c: AmberfloExporterConfig, s: Settings): ObjectExporter<Destination> {
  const sink = new IngestSink(ingestUrl(c.endpoint), c.api_key);
  const deadLetterDir = c.dead_letter_dir || join(s.dataDir, 'dead-letter');
  const dest: Destination = { path: '', label: redactUrl(sink.url) };
  return new ObjectExporter<Destination>({
    ...s,
    format: amberfloObjects,
    sink,
    destination: () => dest,
    retry: retryPolicyOf(c.retry_on_failure, c.timeout),
    maxRecordsPerObject: c.max_records_per_request,
    maxBytesPerObject: c.max_bytes_per_request,
    async onRejected(obj, err) {
      const status = err instanceof RejectedError ? err.status : 0;
      const response = err instanceof RejectedError ? err.responseBody : redactBody(err.message, 4096);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const base = join(deadLetterDir, `${stamp}_${obj.key.slice(-16, -8)}`);
      const meta = {
        time: new Date().toISOString(),
        endpoint: redactUrl(sink.url),
        status,
        response,
        records: obj.records,
        firstRecordTimeMs: obj.firstRecordTimeMs,
      };
      await writeFileAtomic(`${base}.json.gz`, obj.body);
      await writeFileAtomic(`${base}.response.json`, `${JSON.stringify(meta, null, 2)}\n`);
      s.logger.error(
        { status, response: response.slice(0, 1000), records: obj.records, file: `${base}.json.gz` },
        'ingest API rejected a request; moved it to the dead-letter folder',
      );
    },
  });
}
