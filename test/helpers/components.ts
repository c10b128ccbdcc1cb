/**
 * Small components for tests, registered through the same API as plugins:
 * - receiver `test_source` (produces `type` from its config) whose instances expose `emit(data)`;
 * - processor `test_tag` (any type → same) that records the order of lifecycle calls;
 * - exporter `test_capture` (any type) that keeps everything it receives, optionally slowly.
 */
import { BackpressureError, defineExporter, defineFactory, defineProcessor, type ConsumeContext, type Consumer } from '../../src/component.js';
import { Duration, Settings, Type } from '../../src/config/declare.js';
import type { ComponentRegistry } from '../../src/registry.js';
import type { ComponentMetrics } from '../../src/telemetry/metrics.js';

export const events: string[] = [];

export class TestSource {
  started = false;
  constructor(
    readonly id: string,
    readonly next: Consumer<unknown>,
    private readonly metrics?: ComponentMetrics,
  ) {}
  async start() {
    events.push(`start receiver:${this.id}`);
    this.started = true;
  }
  async shutdown() {
    events.push(`shutdown receiver:${this.id}`);
    this.started = false;
  }
  emit(data: unknown) {
    if (!this.started) throw new Error('not started');
    return this.next.consume(data, { receiver: this.id, transport: 'test' }).then(
      () => this.metrics?.accepted(Array.isArray(data) ? data.length : 1, 'test'),
      (e: unknown) => {
        this.metrics?.refused(Array.isArray(data) ? data.length : 1, 'test');
        throw e;
      },
    );
  }
}

export class Capture {
  readonly received: unknown[] = [];
  readonly contexts: (ConsumeContext | undefined)[] = [];
  delayMs: number;
  maxInFlight: number;
  /** While true, every consume is refused with BackpressureError (a dead downstream). */
  refuse: boolean;
  inFlight = 0;
  constructor(
    readonly id: string,
    cfg: { delay_ms: number; max_in_flight: number; refuse: boolean },
    private readonly metrics?: ComponentMetrics,
  ) {
    this.delayMs = cfg.delay_ms;
    this.maxInFlight = cfg.max_in_flight;
    this.refuse = cfg.refuse;
  }
  async start() {
    events.push(`start exporter:${this.id}`);
  }
  async shutdown() {
    events.push(`shutdown exporter:${this.id}`);
  }
  async consume(data: unknown, ctx?: ConsumeContext) {
    if (this.refuse) throw new BackpressureError(`${this.id} refuses everything`, 0.05);
    if (this.inFlight >= this.maxInFlight) throw new BackpressureError(`${this.id} is busy`, 2);
    this.inFlight++;
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      this.received.push(data);
      this.contexts.push(ctx);
      this.metrics?.sent(Array.isArray(data) ? data.length : 1);
    } finally {
      this.inFlight--;
    }
  }
}

const anyType = ['spans', 'llm_calls', 'meter_events'] as const;

export function registerTestComponents(registry: ComponentRegistry): void {
  registry.register(
    defineFactory({
      kind: 'receiver',
      type: 'test_source',
      description: 'Test receiver: emits what the test gives it.',
      stability: 'development',
      produces: 'meter_events',
      configSchema: { type: 'object', additionalProperties: false, properties: {} },
      defaultConfig: () => ({}),
      create: (s, next) => new TestSource(s.id, next, s.metrics),
    }),
    'test',
  );
  registry.register(
    defineFactory({
      kind: 'receiver',
      type: 'test_span_source',
      description: 'Test receiver producing spans.',
      stability: 'development',
      produces: 'spans',
      configSchema: { type: 'object', additionalProperties: false, properties: {} },
      defaultConfig: () => ({}),
      create: (s, next) => new TestSource(s.id, next, s.metrics),
    }),
    'test',
  );
  registry.register(
    defineProcessor({
      kind: 'processor',
      type: 'test_tag',
      description: 'Test processor: passes data through, recording lifecycle calls.',
      stability: 'development',
      consumes: anyType,
      produces: 'same',
      configSchema: Settings(
        {
          label: Type.String({ default: 'x', description: 'A label.' }),
          timeout: Duration({ default: '1s', description: 'A duration, to check conversion.' }),
        },
        { description: 'Test processor settings.' },
      ),
      create: (s, next) => ({
        async start() {
          events.push(`start processor:${s.pipeline}/${s.id}`);
        },
        async shutdown() {
          events.push(`shutdown processor:${s.pipeline}/${s.id}`);
        },
        consume: (data, ctx) => next.consume(data, ctx),
      }),
    }),
    'test',
  );
  registry.register(
    defineExporter({
      kind: 'exporter',
      type: 'test_capture',
      description: 'Test exporter: keeps everything.',
      stability: 'development',
      consumes: anyType,
      configSchema: Settings(
        {
          delay_ms: Type.Integer({ minimum: 0, default: 0, description: 'Wait before taking each batch.' }),
          max_in_flight: Type.Integer({ minimum: 1, default: 1000, description: 'Batches taken at once before refusing.' }),
          refuse: Type.Boolean({ default: false, description: 'Refuse every batch.' }),
        },
        { description: 'Test exporter settings.' },
      ),
      create: (s) => new Capture(s.id, s.config, s.metrics),
    }),
    'test',
  );
}
