/**
 * Metrics declared once: each component's `metadata.ts` (and the core's src/telemetry/metadata.ts)
 * lists its metrics with name, type, labels and meaning; the instruments are built from that list
 * and docs/metrics.md is generated from it, so a metric cannot exist without its documentation.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ComponentKind, Stability } from '../component.js';

export interface MetricDeclaration {
  /** Prometheus name, `spanmeter_…` (counters end in `_total`). */
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** Label names, in order. */
  labels: readonly string[];
  /** One or two sentences for people: HELP text and the row of docs/metrics.md. */
  description: string;
  /** Histograms: bucket upper bounds. */
  buckets?: readonly number[];
}

export type MetricDeclarations = Readonly<Record<string, MetricDeclaration>>;

/** A component's metadata (as the Collector's metadata.yaml): what the factory and the docs say about it. */
export interface ComponentMetadata<M extends MetricDeclarations = MetricDeclarations> {
  type: string;
  kind: ComponentKind;
  stability: Stability;
  /** One line for `spanmeter components` and docs. */
  description: string;
  /** The metrics this component type registers besides the standard ones. */
  metrics: M;
}

export function defineMetrics<const M extends MetricDeclarations>(metrics: M): M {
  return metrics;
}

export function defineMetadata<const M extends MetricDeclarations>(metadata: ComponentMetadata<M>): ComponentMetadata<M> {
  return metadata;
}

type LabelsOf<D extends MetricDeclaration> = D['labels'][number];

/** The prom-client instrument of each declaration. */
export type Instruments<M extends MetricDeclarations> = {
  [K in keyof M]: M[K]['type'] extends 'counter' ? Counter<LabelsOf<M[K]>> : M[K]['type'] extends 'gauge' ? Gauge<LabelsOf<M[K]>> : Histogram<LabelsOf<M[K]>>;
};

/**
 * The instruments of `metrics` in `registry`. Get-or-create: several instances of one component
 * type, and instances created again by a config reload, share one metric family (told apart by labels).
 */
export function instruments<const M extends MetricDeclarations>(registry: Registry, metrics: M): Instruments<M> {
  const out: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(metrics)) out[key] = instrument(registry, d);
  return out as Instruments<M>;
}

/** One declared instrument (get-or-create). */
export function instrument(registry: Registry, d: MetricDeclaration): Counter | Gauge | Histogram {
  const existing = registry.getSingleMetric(d.name);
  if (existing) return existing as Counter | Gauge | Histogram;
  const base = { name: d.name, help: d.description, labelNames: [...d.labels], registers: [registry] };
  if (d.type === 'counter') return new Counter(base);
  if (d.type === 'gauge') return new Gauge(base);
  return new Histogram({ ...base, ...(d.buckets ? { buckets: [...d.buckets] } : {}) });
}

/**
 * Sets the function prom-client calls before each scrape of `metric` (the values are read from
 * elsewhere then, e.g. a gauge of bytes on disk). Replaces any function set before.
 */
export function onCollect<T extends Counter | Gauge | Histogram>(metric: T, collect: (this: T) => void): T {
  (metric as { collect?: (this: T) => void }).collect = collect;
  return metric;
}
