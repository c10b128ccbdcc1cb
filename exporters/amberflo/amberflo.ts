/**
 * POSTs meter records to Amberflo's ingest API: gzip JSON arrays of at most 1,000 records / 1 MB,
 * X-API-KEY, retries of 429 / 408 / 5xx / network errors with jittered exponential backoff
 * honouring Retry-After, and a dead-letter folder for requests the API rejects (other 4xx):
 * written with the response, counted, logged — never retried forever, never silently dropped.
 *
 * Built on the shared delivery core (src/output/delivery.ts): each request body is an
 * EncodedObject, so with the write-ahead log on, requests are spooled to disk first and posted
 * by the background uploader (resumed after a restart), exactly like the object-store exporters.
 */
import { join } from 'node:path';
import { PermanentError } from '../../src/component.js';
import { writeFileAtomic } from '../../src/output/atomic.js';
import { ObjectExporter, type Destination, type ObjectExporterOptions, type ObjectSink } from '../../src/output/delivery.js';
import type { EncodedObject } from '../../src/output/encode.js';
import { RetryableError, parseRetryAfter, retryPolicy } from '../../src/output/retry.js';
import { redactBody, redactUrl } from '../../src/telemetry/redact.js';
import { VERSION } from '../../src/version.js';
import { ingestUrl, type AmberfloExporterConfig } from './config.js';

/**
 * The API refused the request for good (4xx other than 408/429). `responseBody` is already cut and
 * scrubbed of credentials (an upstream that echoes request headers would show the API key).
 */
export class RejectedError extends PermanentError {
  readonly responseBody: string;
  constructor(
    readonly status: number,
    responseBody: string,
  ) {
    const body = redactBody(responseBody, 4096);
    super(`ingest API rejected the request: HTTP ${status}: ${redactBody(responseBody, 300)}`);
    this.responseBody = body;
  }
}

const MAX_BODY_KEEP = 64 * 1024;

export class IngestSink implements ObjectSink<Destination> {
  constructor(
    readonly url: string,
    private readonly apiKey: string,
  ) {}

  async put(obj: EncodedObject, _dest: Destination, signal: AbortSignal): Promise<void> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: {
        'X-API-KEY': this.apiKey,
        'Content-Type': obj.contentType,
        'Content-Encoding': obj.contentEncoding,
        'User-Agent': `spanmeter/${VERSION}`,
      },
      body: obj.body,
      signal,
    });
    const text = await readText(res, signal);
    if (res.ok) return;
    if (res.status === 429 || res.status === 408 || res.status >= 500) {
      throw new RetryableError(`HTTP ${res.status}: ${redactBody(text, 300)}`, parseRetryAfter(res.headers.get('retry-after')));
    }
    throw new RejectedError(res.status, text);
  }
}

type Settings = Omit<ObjectExporterOptions<Destination>, 'sink' | 'destination' | 'retry' | 'maxRecordsPerObject' | 'onRejected'> & { dataDir: string };

export function amberfloExporter(c: AmberfloExporterConfig, s: Settings): ObjectExporter<Destination> {
  const sink = new IngestSink(ingestUrl(c.endpoint), c.api_key);
  const deadLetterDir = c.dead_letter_dir || join(s.dataDir, 'dead-letter');
  const dest: Destination = { path: '', label: redactUrl(sink.url) };
  return new ObjectExporter<Destination>({
    ...s,
    sink,
    destination: () => dest,
    retry: retryPolicy(c.retry_on_failure, c.timeout),
    maxRecordsPerObject: c.max_records_per_request,
    maxBytesPerObject: c.max_bytes_per_request,
    async onRejected(obj, err) {
      const status = err instanceof RejectedError ? err.status : 0;
      const response = err instanceof RejectedError ? err.responseBody : redactBody(err.message, 4096);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const base = join(deadLetterDir, `${stamp}_${obj.key.slice(-16, -8)}`);
      const meta = { time: new Date().toISOString(), endpoint: redactUrl(sink.url), status, response, records: obj.records, firstRecordTimeMs: obj.firstRecordTimeMs };
      await writeFileAtomic(`${base}.json.gz`, obj.body);
      await writeFileAtomic(`${base}.response.json`, `${JSON.stringify(meta, null, 2)}\n`);
      s.logger.error({ status, response: response.slice(0, 1000), records: obj.records, file: `${base}.json.gz` }, 'ingest API rejected a request; moved it to the dead-letter folder');
    },
  });
}

async function readText(res: Response, signal: AbortSignal): Promise<string> {
  try {
    const buf = Buffer.from(await res.arrayBuffer());
    return buf.subarray(0, MAX_BODY_KEEP).toString('utf8');
  } catch (e) {
    if (signal.aborted) throw e;
    return '';
  }
}
