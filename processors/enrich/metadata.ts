import { defineMetadata, type Instruments } from '../../src/telemetry/declare.js';

export const metadata = defineMetadata({
  type: 'enrich',
  kind: 'processor',
  stability: 'alpha',
  description:
    'Fills team, key and model facts into LLM calls from the LiteLLM admin API, its database or a catalogue file (cached, bounded, never blocking longer than a budget).',
  metrics: {
    entries: {
      name: 'spanmeter_enrich_cache_entries',
      type: 'gauge',
      labels: ['processor', 'kind', 'type'],
      description: 'Entries in the cache by kind and type (positive, negative).',
    },
    lookups: {
      name: 'spanmeter_enrich_lookups_total',
      type: 'counter',
      labels: ['processor', 'kind', 'result'],
      description: 'Lookups by kind (team, key, model) and result: hit, stale (used and re-fetched), negative (known unknown), miss.',
    },
    refused: {
      name: 'spanmeter_enrich_refused_batches_total',
      type: 'counter',
      labels: ['processor'],
      description: 'Batches refused with back-pressure (on_miss: wait and the source could not answer in wait_timeout).',
    },
    lastSuccess: {
      name: 'spanmeter_enrich_source_last_success_timestamp_seconds',
      type: 'gauge',
      labels: ['processor', 'source'],
      description: 'Time of the last successful request to the source.',
    },
    sourceRequests: {
      name: 'spanmeter_enrich_source_requests_total',
      type: 'counter',
      labels: ['processor', 'source', 'kind', 'op', 'outcome'],
      description: 'Requests to the source by operation (list, get) and outcome (ok, not_found, error, timeout, unauthorized, invalid).',
    },
    sourceUp: {
      name: 'spanmeter_enrich_source_up',
      type: 'gauge',
      labels: ['processor', 'source'],
      description:
        '1 when the last request to the source succeeded, 0 when it failed. Registered only when an enrich processor is configured (so are the other `spanmeter_enrich_*`).',
    },
    unresolved: {
      name: 'spanmeter_enrich_unresolved_total',
      type: 'counter',
      labels: ['processor', 'kind', 'reason'],
      description: 'Lookups a record went on without, by reason: budget (took longer than the budget), rate_limited, in_flight_limit, source_error.',
    },
  },
});

/** The processor's instruments (shared by its instances: told apart by the `processor` label). */
export type EnrichMetrics = Instruments<typeof metadata.metrics>;
