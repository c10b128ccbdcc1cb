/**
 * Event-loop delay gauges that mean what their names say.
 *
 * Node's `monitorEventLoopDelay({ resolution })` runs a timer every `resolution` ms and records the
 * time between two of its firings, i.e. the resolution itself plus any delay. prom-client's default
 * `nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds` report those values as they are,
 * so at the collector's 100 ms resolution an idle collector showed a "p99 lag" of ~0.1 s and every
 * figure was 0.1 s too high (the same finding as open-telemetry/opentelemetry-js-contrib#2794; the
 * Elastic APM agent subtracts the resolution too). These gauges keep prom-client's names and
 * subtract the resolution (never below 0): a loop that is never late reads 0.
 *
 * The values cover the time since the previous scrape (the histogram is reset at each one, as
 * prom-client's was). Node does not record the first interval after a reset, so a block that starts
 * within one interval of a scrape is missed (the next scrape's `nodejs_eventloop_lag_seconds` still
 * sees a block in progress). A timer of `resolution` ms keeps sampling while the collector idles;
 * 100 ms keeps that cost at ten wake-ups a second.
 */
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { onCollect, instruments } from './declare.js';
import { EVENT_LOOP_METRICS } from './metadata.js';

/** The statistics reported, each the key of its declaration in {@link EVENT_LOOP_METRICS}. */
export const EVENT_LOOP_DELAY_STATS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const satisfies readonly (keyof typeof EVENT_LOOP_METRICS)[];
export type EventLoopDelayStat = (typeof EVENT_LOOP_DELAY_STATS)[number];

/**
 * Seconds of delay from a snapshot of the histogram (nanoseconds, resolution included), or null
 * when it holds no sample (nothing to say since the last scrape).
 */
export function delayStats(
  h: Pick<ELDHistogram, 'count' | 'min' | 'max' | 'mean' | 'stddev' | 'percentile'>,
  resolutionMs: number,
): Record<EventLoopDelayStat, number> | null {
  if (!(h.count > 0)) return null;
  const beyond = (ns: number) => Math.max(0, ns / 1e9 - resolutionMs / 1e3);
  return {
    min: beyond(h.min),
    max: beyond(h.max),
    mean: beyond(h.mean),
    // A spread, not a delay: the resolution is not in it.
    stddev: Number.isFinite(h.stddev) ? h.stddev / 1e9 : 0,
    p50: beyond(h.percentile(50)),
    p90: beyond(h.percentile(90)),
    p99: beyond(h.percentile(99)),
  };
}

/**
 * Registers the seven gauges in `registry` (replacing any of the same name, such as prom-client's
 * defaults) and starts the histogram behind them; returns a function that stops it.
 */
export function registerEventLoopDelay(registry: Registry, resolutionMs: number): () => void {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  for (const stat of EVENT_LOOP_DELAY_STATS) registry.removeSingleMetric(EVENT_LOOP_METRICS[stat].name);
  const gauges = instruments(registry, EVENT_LOOP_METRICS);
  // The first gauge's collect sets all seven from one snapshot, then starts a new window.
  onCollect(gauges.min, () => {
    const s = delayStats(h, resolutionMs);
    h.reset();
    if (!s) return;
    for (const k of EVENT_LOOP_DELAY_STATS) gauges[k].set(s[k]);
  });
  return () => h.disable();
}
