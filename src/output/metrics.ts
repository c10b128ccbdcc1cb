/**
 * Metrics every exporter shares, on top of the standard `settings.metrics` (sent / sendFailed /
 * queueSize). Registered once per service registry and labelled by exporter id, so several
 * exporter instances share the same metric families.
 */
import type { Registry } from 'prom-client';
import { instruments, type Instruments } from '../telemetry/declare.js';
import { DELIVERY_METRICS } from '../telemetry/metadata.js';

export class ExporterMetrics {
  private readonly m: Instruments<typeof DELIVERY_METRICS>;
  private inFlight = 0;

  constructor(
    registry: Registry,
    readonly exporter: string,
  ) {
    this.m = instruments(registry, DELIVERY_METRICS);
  }

  delivered(bytes: number): void {
    this.m.sentBytes.inc({ exporter: this.exporter }, bytes);
    this.m.sentObjects.inc({ exporter: this.exporter });
    this.m.lastSuccess.set({ exporter: this.exporter }, Date.now() / 1000);
  }
  retried(): void {
    this.m.retries.inc({ exporter: this.exporter });
  }
  attemptFailed(): void {
    this.m.failedAttempts.inc({ exporter: this.exporter });
  }
  gaveUp(): void {
    this.m.gaveUp.inc({ exporter: this.exporter });
  }
  deadLettered(records: number): void {
    this.m.deadLettered.inc({ exporter: this.exporter }, records);
  }
  dropped(reason: string, n = 1): void {
    this.m.droppedBatches.inc({ exporter: this.exporter, reason }, n);
  }
  /** Runs `fn` counted as one in-flight delivery. */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    this.m.inFlight.set({ exporter: this.exporter }, ++this.inFlight);
    try {
      return await fn();
    } finally {
      this.m.inFlight.set({ exporter: this.exporter }, --this.inFlight);
    }
  }
}
