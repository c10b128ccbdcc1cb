/**
 * Settings for a component created outside a running service (`spanmeter inspect`, fixture
 * generation, benchmarks, tests): silent logs, its own metrics registry, no durable storage.
 */
import { pino } from 'pino';
import type { ComponentKind, CreateSettings } from './component.js';
import { ServiceMetrics } from './telemetry/metrics.js';

export interface StandaloneOptions {
  /** The pipeline name it reports under (also its instance id). */
  pipeline: string;
  kind?: ComponentKind;
  /** Share one registry between several components (default: a new one). */
  metrics?: ServiceMetrics;
  /** Where it may keep state (default: a path that does not exist: nothing is written). */
  dataDir?: string;
}

export function standaloneSettings<C>(id: string, config: C, o: StandaloneOptions): CreateSettings<C> {
  const metrics = o.metrics ?? new ServiceMetrics(o.pipeline, { processMetrics: false });
  return {
    id,
    pipeline: o.pipeline,
    config,
    logger: pino({ level: 'silent' }),
    registry: metrics.registry,
    metrics: metrics.forComponent(o.kind ?? 'processor', id, o.pipeline),
    dataDir: o.dataDir ?? '/nonexistent',
    instanceId: o.pipeline,
  };
}
