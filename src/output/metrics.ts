/**
 * Metrics every exporter shares, on top of the standard `settings.metrics` (sent / sendFailed /
 * queueSize). Registered once per service registry and labelled by exporter id, so several
 * exporter instances share the same metric families.
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { counter, gauge } from '../telemetry/metrics.js';

export class ExporterMetrics {
  private readonly bytes: Counter<'exporter'>;
  private readonly objects: Counter<'exporter'>;
  private readonly retriesC: Counter<'exporter'>;
  private readonly failedAttempts: Counter<'exporter'>;
  private readonly inFlightG: Gauge<'exporter'>;
  private readonly lastSuccess: Gauge<'exporter'>;
  private readonly deadLetterC: Counter<'exporter'>;
  private readonly droppedC: Counter<'exporter' | 'reason'>;
  private readonly gaveUpC: Counter<'exporter'>;
  private inFlight = 0;

  constructor(
    registry: Registry,
    readonly exporter: string,
  ) {
    this.bytes = counter(registry, 'spanmeter_exporter_sent_bytes_total', 'Bytes (as sent on the wire, i.e. compressed) an exporter delivered successfully.', ['exporter']);
    this.objects = counter(registry, 'spanmeter_exporter_sent_objects_total', 'Objects, files or requests an exporter delivered successfully.', ['exporter']);
    this.retriesC = counter(registry, 'spanmeter_exporter_retries_total', 'Delivery attempts that failed and were retried after a backoff.', ['exporter']);
    this.failedAttempts = counter(registry, 'spanmeter_exporter_failed_attempts_total', 'Delivery attempts that failed (retried or not).', ['exporter']);
    this.inFlightG = gauge(registry, 'spanmeter_exporter_in_flight_requests', 'Deliveries currently in progress (including their retry waits).', ['exporter']);
    this.lastSuccess = gauge(registry, 'spanmeter_exporter_last_success_timestamp_seconds', 'Unix time of the last successful delivery.', ['exporter']);
    this.deadLetterC = counter(registry, 'spanmeter_exporter_dead_lettered_records_total', 'Records the destination rejected permanently (e.g. HTTP 400), written to the dead-letter folder.', ['exporter']);
    this.droppedC = counter(registry, 'spanmeter_exporter_dropped_batches_total', 'Batches dropped on purpose by a best-effort exporter (OTLP forward), by reason.', ['exporter', 'reason']);
    this.gaveUpC = counter(registry, 'spanmeter_exporter_gave_up_batches_total', 'Deliveries that failed after max_elapsed_time; the batch was handed back to the caller (batch processor retry buffer).', ['exporter']);
  }

  delivered(bytes: number): void {
    this.bytes.inc({ exporter: this.exporter }, bytes);
    this.objects.inc({ exporter: this.exporter });
    this.lastSuccess.set({ exporter: this.exporter }, Date.now() / 1000);
  }
  retried(): void {
    this.retriesC.inc({ exporter: this.exporter });
  }
  attemptFailed(): void {
    this.failedAttempts.inc({ exporter: this.exporter });
  }
  gaveUp(): void {
    this.gaveUpC.inc({ exporter: this.exporter });
  }
  deadLettered(records: number): void {
    this.deadLetterC.inc({ exporter: this.exporter }, records);
  }
  dropped(reason: string, n = 1): void {
    this.droppedC.inc({ exporter: this.exporter, reason }, n);
  }
  /** Runs `fn` counted as one in-flight delivery. */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlightG.set({ exporter: this.exporter }, ++this.inFlight);
    try {
      return await fn();
    } finally {
      this.inFlightG.set({ exporter: this.exporter }, --this.inFlight);
    }
  }
}
