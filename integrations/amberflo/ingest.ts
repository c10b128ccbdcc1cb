/**
 * Amberflo's ingest API: `POST <endpoint>` of a gzip JSON array of meter records with `X-API-KEY`.
 * 2xx is accepted; 429, 408 and 5xx are worth retrying (honouring Retry-After); any other 4xx is
 * a rejection for good ({@link RejectedError}). The `amberflo` exporter wraps this client.
 */
import { PermanentError } from '../../src/component.js';
import type { Destination, ObjectSink } from '../../src/output/delivery.js';
import type { EncodedObject } from '../../src/output/encode.js';
import { RetryableError, parseRetryAfter } from '../../src/output/retry.js';
import { redactBody } from '../../src/telemetry/redact.js';
import { VERSION } from '../../src/version.js';

/** The default ingest URL (the callback's AFLO_API_ENDPOINT default). */
export const DEFAULT_INGEST_URL = 'https://ingest.amberflo.io/ingest';

/** The callback's AFLO_API_ENDPOINT is usually a bare host; post to its documented /ingest path. */
export function ingestUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/ingest';
  return u.toString();
}

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

async function readText(res: Response, signal: AbortSignal): Promise<string> {
  try {
    const buf = Buffer.from(await res.arrayBuffer());
    return buf.subarray(0, MAX_BODY_KEEP).toString('utf8');
  } catch (e) {
    if (signal.aborted) throw e;
    return '';
  }
}
