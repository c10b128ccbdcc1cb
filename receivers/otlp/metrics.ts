/** The receiver's own Prometheus metrics (declared in metadata.ts; besides the standard accepted/refused/failed counters). */
import type { Registry } from 'prom-client';
import { instruments, type Instruments } from '../../src/telemetry/declare.js';
import { metadata } from './metadata.js';

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

export class ReceiverMetrics {
  private readonly m: Instruments<typeof metadata.metrics>;

  constructor(
    registry: Registry,
    private readonly receiver: string,
  ) {
    // Get-or-create: several otlp receivers (otlp, otlp/internal) share one registry and one metric each.
    this.m = instruments(registry, metadata.metrics);
  }

  request(transport: string, outcome: Outcome, startedNs: bigint): void {
    this.m.requests.inc({ receiver: this.receiver, transport, outcome });
    this.m.duration.observe({ receiver: this.receiver, transport, outcome }, Number(process.hrtime.bigint() - startedNs) / 1e9);
  }

  bytes(transport: string, wire: number, decoded: number): void {
    if (wire) this.m.wireBytes.inc({ receiver: this.receiver, transport }, wire);
    if (decoded) this.m.decodedBytes.inc({ receiver: this.receiver, transport }, decoded);
  }

  logs(transport: string, records: number): void {
    this.m.logRecords.inc({ receiver: this.receiver, transport }, records);
  }

  decodeError(transport: string, encoding: string): void {
    this.m.decodeErrors.inc({ receiver: this.receiver, transport, encoding });
  }
}
