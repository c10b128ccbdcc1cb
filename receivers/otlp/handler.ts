/**
 * What the OTLP HTTP and gRPC servers need from the receiver that owns them: the servers speak
 * their protocol and depend on this interface only; the receiver implements it.
 */
import type { Logger } from 'pino';
import type { LogsBatch } from '../../src/data/logs.js';
import type { SpanBatch } from '../../src/data/span.js';
import type { ExportResponse } from '../../src/otlp/index.js';
import type { Outcome, ReceiverMetrics } from './metrics.js';

/** What the pipeline said about one export, transport-neutral. */
export type ExportResult =
  | { kind: 'ok'; response: ExportResponse }
  | { kind: 'backpressure'; message: string; retryAfterSeconds: number }
  | { kind: 'rejected'; message: string }
  | { kind: 'unavailable'; message: string; retryAfterSeconds: number };

export function outcomeOf(r: ExportResult): Outcome {
  if (r.kind === 'ok') return r.response.partialSuccess ? 'partial_success' : 'success';
  return r.kind;
}

export interface OtlpHandler {
  readonly logger: Logger;
  readonly metrics: ReceiverMetrics;
  /** The wait a refused or shut-out sender is told (Retry-After, RetryInfo). */
  readonly retryAfterSeconds: number;
  /** The span attributes the pipelines read (undefined: all); asked per request. */
  readonly spanAttributes: ReadonlySet<string> | undefined;
  /** The attribute without which the pipelines ignore a span (undefined: none). */
  readonly spanSelector: ReadonlySet<string> | undefined;
  /** True when some pipeline takes logs; asked per request. */
  readonly forwardsLogs: boolean;
  /** True once shutdown began: new requests are answered 503 / UNAVAILABLE. */
  isClosing(): boolean;
  /** Checks the configured credentials; `get` reads a (lower-case) header / metadata key. */
  authorized(get: (name: string) => string | undefined): boolean;
  /** Called around every request so that shutdown can wait for them. */
  enter(): void;
  leave(): void;
  /** Logs a refused request (rate-limited). */
  refused(remote: string, status: number | string, reason: string): void;
  export(batch: SpanBatch, transport: string): Promise<ExportResult>;
  exportLogs(batch: LogsBatch, transport: string): Promise<ExportResult>;
}
