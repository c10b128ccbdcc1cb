/** The receiver's own Prometheus metrics (besides the standard accepted/refused/failed counters). */
import type { Counter, Histogram, Registry } from 'prom-client';
import { counter, histogram } from '../../src/telemetry/metrics.js';

/** How a request ended; the `outcome` label. */
export type Outcome =
  | 'success'
  | 'partial_success'
  | 'bad_request'
  | 'unauthorized'
  | 'unsupported_media_type'
  | 'too_large'
  | 'not_found'
  | 'method_not_allowed'
  | 'backpressure'
  | 'too_many_requests'
  | 'rejected'
  | 'unavailable'
  | 'shutting_down'
  | 'client_error';

type L = 'receiver' | 'transport';

export class ReceiverMetrics {
  private readonly requests: Counter<L | 'outcome'>;
  private readonly wireBytes: Counter<L>;
  private readonly decodedBytes: Counter<L>;
  private readonly decodeErrors: Counter<L | 'encoding'>;
  private readonly duration: Histogram<L | 'outcome'>;
  private readonly logRecords: Counter<L>;

  constructor(
    registry: Registry,
    private readonly receiver: string,
  ) {
    // Get-or-create: several otlp receivers (otlp, otlp/internal) share one registry and one metric each.
    this.requests = counter(registry, 'spanmeter_receiver_requests_total', 'OTLP export requests by transport and outcome.', ['receiver', 'transport', 'outcome']);
    this.wireBytes = counter(registry, 'spanmeter_receiver_wire_bytes_total', 'Request body bytes as received (compressed when the sender compressed).', ['receiver', 'transport']);
    this.decodedBytes = counter(registry, 'spanmeter_receiver_decoded_bytes_total', 'Request body bytes after decompression (what was decoded).', ['receiver', 'transport']);
    this.decodeErrors = counter(registry, 'spanmeter_receiver_decode_errors_total', 'Requests whose body could not be decompressed or decoded (answered 400).', ['receiver', 'transport', 'encoding']);
    this.logRecords = counter(registry, 'spanmeter_receiver_log_records_total', 'OTLP log records received (LiteLLM events): handed on when a pipeline takes logs, else answered as not kept.', ['receiver', 'transport']);
    this.duration = histogram(
      registry,
      'spanmeter_receiver_request_duration_seconds',
      'Time from request start to response, including the wait for the pipeline to acknowledge.',
      ['receiver', 'transport', 'outcome'],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
  }

  request(transport: string, outcome: Outcome, startedNs: bigint): void {
    this.requests.inc({ receiver: this.receiver, transport, outcome });
    this.duration.observe({ receiver: this.receiver, transport, outcome }, Number(process.hrtime.bigint() - startedNs) / 1e9);
  }

  bytes(transport: string, wire: number, decoded: number): void {
    if (wire) this.wireBytes.inc({ receiver: this.receiver, transport }, wire);
    if (decoded) this.decodedBytes.inc({ receiver: this.receiver, transport }, decoded);
  }

  logs(transport: string, records: number): void {
    this.logRecords.inc({ receiver: this.receiver, transport }, records);
  }

  decodeError(transport: string, encoding: string): void {
    this.decodeErrors.inc({ receiver: this.receiver, transport, encoding });
  }
}
