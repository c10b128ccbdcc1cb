/** The processor's own Prometheus metrics, registered on the service registry (shared by instances). */
import type { Counter, Gauge, Registry } from 'prom-client';
import { counter, gauge } from '../../src/telemetry/metrics.js';

export class EnrichMetrics {
  readonly lookups: Counter<'processor' | 'kind' | 'result'>;
  readonly unresolved: Counter<'processor' | 'kind' | 'reason'>;
  readonly sourceRequests: Counter<'processor' | 'source' | 'kind' | 'op' | 'outcome'>;
  readonly sourceUp: Gauge<'processor' | 'source'>;
  readonly lastSuccess: Gauge<'processor' | 'source'>;
  readonly entries: Gauge<'processor' | 'kind' | 'type'>;
  readonly refused: Counter<'processor'>;

  constructor(registry: Registry) {
    this.lookups = counter(registry, 'spanmeter_enrich_lookups_total', 'Lookups by kind (team, key, model) and result: hit, stale (used and re-fetched), negative (known unknown), miss.', ['processor', 'kind', 'result']);
    this.unresolved = counter(registry, 'spanmeter_enrich_unresolved_total', 'Lookups a record went on without, by reason: budget (took longer than the budget), rate_limited, in_flight_limit, source_error.', ['processor', 'kind', 'reason']);
    this.sourceRequests = counter(registry, 'spanmeter_enrich_source_requests_total', 'Requests to the source by operation (list, get) and outcome (ok, not_found, error, timeout, unauthorized, invalid).', ['processor', 'source', 'kind', 'op', 'outcome']);
    this.sourceUp = gauge(registry, 'spanmeter_enrich_source_up', '1 when the last request to the source succeeded, 0 when it failed.', ['processor', 'source']);
    this.lastSuccess = gauge(registry, 'spanmeter_enrich_source_last_success_timestamp_seconds', 'Time of the last successful request to the source.', ['processor', 'source']);
    this.entries = gauge(registry, 'spanmeter_enrich_cache_entries', 'Entries in the cache by kind and type (positive, negative).', ['processor', 'kind', 'type']);
    this.refused = counter(registry, 'spanmeter_enrich_refused_batches_total', 'Batches refused with back-pressure (on_miss: wait and the source could not answer in wait_timeout).', ['processor']);
  }
}
