/**
 * Self-telemetry metrics. Names follow the OpenTelemetry Collector's (`otelcol_receiver_accepted_spans`
 * → `spanmeter_receiver_accepted_spans_total`) so that existing dashboards and alerts translate.
 * Every service owns its own registry (no global state), so tests can run several side by side.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerEventLoopDelay } from './eventloop.js';
import { instruments, type Instruments } from './declare.js';
import { CORE_METRICS } from './metadata.js';

/** The prefix of prom-client's default process metrics (`spanmeter_process_cpu_seconds_total`, …). */
export const PROCESS_METRICS_PREFIX = 'spanmeter_';

/** The event-loop delay gauges' sampling interval: ten wake-ups a second when idle. */
const EVENT_LOOP_RESOLUTION_MS = 100;
/**
 * prom-client's own event-loop delay histogram, whose gauges `registerEventLoopDelay` replaces:
 * given an interval of ~24 days it does not wake the collector. (Its `nodejs_eventloop_lag_seconds`,
 * the time to the next setImmediate at a scrape, does not use it and stays.)
 */
const PROM_CLIENT_ELD_RESOLUTION_MS = 2 ** 31 - 1;

export class ServiceMetrics {
  readonly registry: Registry;
  /** The standard instruments (CORE_METRICS), by key. */
  readonly core: Instruments<typeof CORE_METRICS>;
  private stopEventLoopDelay?: () => void;

  constructor(version: string, opts: { processMetrics?: boolean } = {}) {
    const registry = (this.registry = new Registry());
    if (opts.processMetrics !== false) {
      collectDefaultMetrics({ register: registry, prefix: PROCESS_METRICS_PREFIX, eventLoopMonitoringPrecision: PROM_CLIENT_ELD_RESOLUTION_MS });
      this.stopEventLoopDelay = registerEventLoopDelay(registry, EVENT_LOOP_RESOLUTION_MS);
    }
    const m = (this.core = instruments(registry, CORE_METRICS));
    m.buildInfo.set({ version }, 1);
  }

  /** Stops the sampling behind the event-loop delay gauges (at shutdown). */
  close(): void {
    this.stopEventLoopDelay?.();
    this.stopEventLoopDelay = undefined;
  }

  forComponent(kind: 'receiver' | 'processor' | 'exporter', id: string, pipeline = ''): ComponentMetrics {
    return {
      accepted: (n, transport = '') => this.core.receiverAccepted.inc({ receiver: id, transport }, n),
      refused: (n, transport = '') => this.core.receiverRefused.inc({ receiver: id, transport }, n),
      failed: (n, transport = '') => this.core.receiverFailed.inc({ receiver: id, transport }, n),
      dropped: (n, reason) => this.core.processorDropped.inc({ processor: id, pipeline, reason }, n),
      sent: (n) => this.core.exporterSent.inc({ exporter: id }, n),
      sendFailed: (n) => this.core.exporterSendFailed.inc({ exporter: id }, n),
      queueSize: (v) => this.core.exporterQueueSize.set({ exporter: id }, v),
      queueCapacity: (v) => this.core.exporterQueueCapacity.set({ exporter: id }, v),
      kind,
    };
  }
}

/** The standard counters, pre-labelled for one component instance. */
export interface ComponentMetrics {
  kind: 'receiver' | 'processor' | 'exporter';
  /** Receivers: items acknowledged to the sender. */
  accepted(n: number, transport?: string): void;
  /** Receivers: items refused (back-pressure or bad input); the sender was told. */
  refused(n: number, transport?: string): void;
  /** Receivers: items lost to an internal error (should stay 0). */
  failed(n: number, transport?: string): void;
  /** Processors: items dropped on purpose, with a short reason label. */
  dropped(n: number, reason: string): void;
  /** Exporters: items delivered. */
  sent(n: number): void;
  /** Exporters: items whose delivery attempt failed (they are retried or dead-lettered, never silently lost). */
  sendFailed(n: number): void;
  queueSize(v: number): void;
  queueCapacity(v: number): void;
}
