/**
 * The core's metrics, declared once: every metric registered outside the component folders. Each
 * set is built (with `instruments`) by the module named above it; docs/metrics.md is generated
 * from {@link CORE_METRIC_SETS}.
 */
import { defineMetrics, type MetricDeclarations } from './declare.js';

/** The standard per-component metrics and the service's own gauges: src/telemetry/metrics.ts. */

export const CORE_METRICS = defineMetrics({
  buildInfo: { name: 'spanmeter_build_info', type: 'gauge', labels: ['version'], description: 'Build information.' },
  componentUp: {
    name: 'spanmeter_component_up',
    type: 'gauge',
    labels: ['kind', 'id'],
    description:
      '1 when a component has started and not stopped. `kind`: receiver, processor, exporter. A dormant component has no series here (see spanmeter_component_dormant), so `== 0` alerts do not fire for it.',
  },
  componentDormant: {
    name: 'spanmeter_component_dormant',
    type: 'gauge',
    labels: ['kind', 'id'],
    description:
      '1 for a component that is configured but dormant: an exporter whose `when` does not match (e.g. the sinks `AFLO_BACKEND_TYPE` does not pick). It sends nothing.',
  },
  receiverAccepted: {
    name: 'spanmeter_receiver_accepted_spans_total',
    type: 'counter',
    labels: ['receiver', 'transport'],
    description:
      'Spans (or items) accepted by a receiver and acknowledged to the sender. The input rate. With durability on, counted only after the write-ahead log fsync.',
  },
  receiverRefused: {
    name: 'spanmeter_receiver_refused_spans_total',
    type: 'counter',
    labels: ['receiver', 'transport'],
    description:
      'Spans (or items) refused by a receiver: back-pressure or invalid input; the sender was told. Non-zero means senders were told 429/503 (retry) or 400 (invalid). See `spanmeter_receiver_requests_total{outcome}` for which.',
  },
  receiverFailed: {
    name: 'spanmeter_receiver_failed_spans_total',
    type: 'counter',
    labels: ['receiver', 'transport'],
    description: 'Spans (or items) a receiver failed to hand on because of an internal error. Should stay 0.',
  },
  processorIncoming: {
    name: 'spanmeter_processor_incoming_items_total',
    type: 'counter',
    labels: ['processor', 'pipeline'],
    description: 'Items (spans, LLM calls or meter records) that entered a processor.',
  },
  processorOutgoing: {
    name: 'spanmeter_processor_outgoing_items_total',
    type: 'counter',
    labels: ['processor', 'pipeline'],
    description: 'Items a processor handed to the next stage.',
  },
  processorDropped: {
    name: 'spanmeter_processor_dropped_total',
    type: 'counter',
    labels: ['processor', 'pipeline', 'reason'],
    description:
      'Items a processor dropped on purpose (filtered, duplicate, not billable), by reason. `reason` e.g. not_llm_call, duplicate, invalid, filtered, permanent_error, shutdown_undelivered; each processor README lists its own.',
  },
  exporterSent: {
    name: 'spanmeter_exporter_sent_records_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Records (or spans) an exporter delivered successfully.',
  },
  exporterSendFailed: {
    name: 'spanmeter_exporter_send_failed_records_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Records (or spans) whose delivery attempt failed.',
  },
  exporterQueueSize: {
    name: 'spanmeter_exporter_queue_size',
    type: 'gauge',
    labels: ['exporter'],
    description: 'Records waiting in an exporter queue. Set by the object and API exporters (records) and the otlp exporter (spans).',
  },
  exporterQueueCapacity: {
    name: 'spanmeter_exporter_queue_capacity',
    type: 'gauge',
    labels: ['exporter'],
    description: 'Capacity of an exporter queue, in records. Set by the otlp (forward) exporter, where it counts span batches (its queue_size), not records.',
  },
});

/** Shared by every exporter's delivery code (retries, in-flight, dead letters): src/output/metrics.ts. */
export const DELIVERY_METRICS = defineMetrics({
  sentBytes: {
    name: 'spanmeter_exporter_sent_bytes_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Bytes (as sent on the wire, i.e. compressed) an exporter delivered successfully.',
  },
  sentObjects: {
    name: 'spanmeter_exporter_sent_objects_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Objects, files or requests an exporter delivered successfully.',
  },
  retries: {
    name: 'spanmeter_exporter_retries_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Delivery attempts that failed and were retried after a backoff.',
  },
  failedAttempts: {
    name: 'spanmeter_exporter_failed_attempts_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Delivery attempts that failed (retried or not).',
  },
  inFlight: {
    name: 'spanmeter_exporter_in_flight_requests',
    type: 'gauge',
    labels: ['exporter'],
    description: 'Deliveries currently in progress (including their retry waits).',
  },
  lastSuccess: {
    name: 'spanmeter_exporter_last_success_timestamp_seconds',
    type: 'gauge',
    labels: ['exporter'],
    description: 'Unix time of the last successful delivery. `time() - …` is the age of the last delivery (grows when idle too).',
  },
  deadLettered: {
    name: 'spanmeter_exporter_dead_lettered_records_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Records the destination rejected permanently (e.g. HTTP 400), written to the dead-letter folder.',
  },
  droppedBatches: {
    name: 'spanmeter_exporter_dropped_batches_total',
    type: 'counter',
    labels: ['exporter', 'reason'],
    description: 'Batches dropped on purpose by a best-effort exporter (OTLP forward), by reason. Only the best-effort OTLP-forward exporter drops data.',
  },
  gaveUp: {
    name: 'spanmeter_exporter_gave_up_batches_total',
    type: 'counter',
    labels: ['exporter'],
    description: 'Deliveries that failed after max_elapsed_time; the batch was handed back to the caller (batch processor retry buffer).',
  },
});

/** The spool of a durable object exporter, registered when it starts: src/output/delivery.ts. */
export const SPOOL_METRICS = defineMetrics({
  spoolObjects: {
    name: 'spanmeter_exporter_spool_objects',
    type: 'gauge',
    labels: ['exporter'],
    description:
      'Objects waiting in an exporter spool (on disk) for upload. Grows while the destination is unreachable; the spool counts against the disk budget.',
  },
});

/** A pipeline's write-ahead log: src/storage/durable-stage.ts. */
export const WAL_METRICS = defineMetrics({
  bytes: { name: 'spanmeter_wal_bytes', type: 'gauge', labels: ['pipeline'], description: 'Bytes of write-ahead log segments on disk.' },
  backlog: {
    name: 'spanmeter_wal_backlog_records',
    type: 'gauge',
    labels: ['pipeline'],
    description: 'Log records appended but not yet forwarded downstream. Should hover near 0; a steady rise means downstream is slower than the input.',
  },
  unsafe: {
    name: 'spanmeter_wal_unsafe_records',
    type: 'gauge',
    labels: ['pipeline'],
    description: 'Log records not yet durable downstream (after the checkpoint).',
  },
  appended: {
    name: 'spanmeter_wal_appended_records_total',
    type: 'counter',
    labels: ['pipeline'],
    description: 'Log records appended (one per accepted request chunk).',
  },
  syncs: { name: 'spanmeter_wal_syncs_total', type: 'counter', labels: ['pipeline'], description: 'fdatasync calls (group commits).' },
  commitSeconds: {
    name: 'spanmeter_wal_commit_duration_seconds',
    type: 'histogram',
    labels: ['pipeline'],
    description:
      'Time of each group commit: writing the appended records and their fdatasync. Every acknowledgement waits for one (and for the one running when its records arrived), so receiver latency is at least this; a slow or shared disk shows here first.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  refused: {
    name: 'spanmeter_wal_refused_total',
    type: 'counter',
    labels: ['pipeline'],
    description:
      'Appends refused because the disk budget (`service.durability.max_disk_bytes`) was full, or the file system had less than `service.durability.min_free_disk` free; receivers answer 429/503.',
  },
  truncated: {
    name: 'spanmeter_wal_recovery_truncated_bytes_total',
    type: 'counter',
    labels: ['pipeline'],
    description: 'Bytes of torn or corrupt log tail cut off during recovery.',
  },
  deadLettered: {
    name: 'spanmeter_wal_dead_letter_records_total',
    type: 'counter',
    labels: ['pipeline'],
    description:
      'Log records moved to the dead-letter folder: downstream rejected them permanently, or this build cannot decode them (a log written by a newer version).',
  },
});

/** The disk budget shared by write-ahead logs and spools, read at scrape time: src/service.ts. */
export const DISK_BUDGET_METRICS = defineMetrics({
  used: {
    name: 'spanmeter_disk_budget_used_bytes',
    type: 'gauge',
    labels: [],
    description: 'Bytes used by write-ahead logs and spools; when it reaches the budget, receivers answer 429/503.',
  },
  max: {
    name: 'spanmeter_disk_budget_max_bytes',
    type: 'gauge',
    labels: [],
    description: 'The disk budget for write-ahead logs and spools (`service.durability.max_disk_bytes`, env `SPANMETER_MAX_DISK_BYTES`; 0 = unlimited).',
  },
});

/** The billing-value checks every LLM call passes before the write-ahead log: src/data/llm-call-gate.ts. */
export const LLM_CALL_CHECK_METRICS = defineMetrics({
  dropped: {
    name: 'spanmeter_llm_calls_dropped_total',
    type: 'counter',
    labels: ['pipeline', 'reason'],
    description:
      'LLM calls dropped by the billing-value checks, by reason (time_out_of_range, invalid_tokens, invalid_count). Each reason is also logged at warn (at most one line per reason every 10 s).',
  },
  adjusted: {
    name: 'spanmeter_llm_calls_adjusted_total',
    type: 'counter',
    labels: ['pipeline', 'reason'],
    description:
      'LLM calls kept with a value changed by the billing-value checks, by reason (duration_clamped, id_hashed). See [security.md](security.md#billing-value-checks).',
  },
});

/** Metered usage by team and model, read from the service's accumulator at scrape time: src/telemetry/usage.ts. */
export const USAGE_METRICS = defineMetrics({
  calls: { name: 'spanmeter_metered_calls_total', type: 'counter', labels: ['team', 'model'], description: 'LLM calls metered (turned into meter records).' },
  failedCalls: { name: 'spanmeter_metered_failed_calls_total', type: 'counter', labels: ['team', 'model'], description: 'Metered LLM calls that failed.' },
  tokens: {
    name: 'spanmeter_metered_tokens_total',
    type: 'counter',
    labels: ['team', 'model', 'direction'],
    description: 'Tokens metered: `direction` `in` (prompt, cached included) or `out` (completion).',
  },
});

/** Event-loop delay beyond the sampling interval, keyed by statistic: src/telemetry/eventloop.ts. */
export const EVENT_LOOP_METRICS = defineMetrics({
  min: {
    name: 'spanmeter_nodejs_eventloop_lag_min_seconds',
    type: 'gauge',
    labels: [],
    description: 'The smallest event-loop delay since the last scrape, in seconds beyond the sampling interval (0: never late).',
  },
  max: {
    name: 'spanmeter_nodejs_eventloop_lag_max_seconds',
    type: 'gauge',
    labels: [],
    description: 'The largest event-loop delay since the last scrape, in seconds beyond the sampling interval: the longest the loop was blocked.',
  },
  mean: {
    name: 'spanmeter_nodejs_eventloop_lag_mean_seconds',
    type: 'gauge',
    labels: [],
    description: 'The mean event-loop delay since the last scrape, in seconds beyond the sampling interval.',
  },
  stddev: {
    name: 'spanmeter_nodejs_eventloop_lag_stddev_seconds',
    type: 'gauge',
    labels: [],
    description: 'The standard deviation of the event-loop delays since the last scrape, in seconds.',
  },
  p50: {
    name: 'spanmeter_nodejs_eventloop_lag_p50_seconds',
    type: 'gauge',
    labels: [],
    description: 'The median event-loop delay since the last scrape, in seconds beyond the sampling interval.',
  },
  p90: {
    name: 'spanmeter_nodejs_eventloop_lag_p90_seconds',
    type: 'gauge',
    labels: [],
    description: 'The 90th percentile of the event-loop delays since the last scrape, in seconds beyond the sampling interval.',
  },
  p99: {
    name: 'spanmeter_nodejs_eventloop_lag_p99_seconds',
    type: 'gauge',
    labels: [],
    description:
      'The 99th percentile of the event-loop delays since the last scrape, in seconds beyond the sampling interval. A long block counts as one sample, however long it is: read max beside it.',
  },
});

/** A section of docs/metrics.md: a heading, a paragraph saying when the metrics appear, their table. */
export interface CoreMetricSet {
  title: string;
  intro: string;
  metrics: MetricDeclarations;
}

/** Every core metric, in the order docs/metrics.md shows them. */
export const CORE_METRIC_SETS: readonly CoreMetricSet[] = [
  {
    title: 'Service and every component',
    intro: 'Every spanmeter registers these; the standard component metrics carry the component id as a label.',
    metrics: CORE_METRICS,
  },
  {
    title: 'Exporter delivery',
    intro:
      'Registered by the delivery code every exporter but `debug` shares, once such an exporter is created, and labelled by its id; `spanmeter_exporter_spool_objects` once an exporter with a spool (durability on) starts.',
    metrics: { ...DELIVERY_METRICS, ...SPOOL_METRICS },
  },
  {
    title: 'Write-ahead log and disk budget (durability)',
    intro:
      'The `spanmeter_wal_*` metrics appear once a pipeline writes a write-ahead log (`service.durability`); the disk budget gauges always (0 without durability).',
    metrics: { ...WAL_METRICS, ...DISK_BUDGET_METRICS },
  },
  {
    title: 'Billing-value checks (every LLM call, before the write-ahead log)',
    intro: 'Registered once a pipeline carries LLM calls.',
    metrics: LLM_CALL_CHECK_METRICS,
  },
  {
    title: 'Metered usage',
    intro:
      "Counted as the processor that turns calls into meter records hands each call's records on (a batch refused downstream is counted when it comes again). `team` is the call's team id and `model` its model, `unknown` when the call has none; after 1,000 distinct (team, model) pairs, further pairs count as `(other)`. The status page's \"Metered usage\" chart (admin `/status/usage`: the last hour and the last day, by team and by model) reads the same counts.",
    metrics: USAGE_METRICS,
  },
  {
    title: 'Event loop',
    intro:
      "spanmeter's own event-loop delay gauges (src/telemetry/eventloop.ts), under prom-client's names: they report how late the loop ran **beyond** the 100 ms sampling interval, so an idle collector reads 0 (prom-client's include the interval, which made every figure 0.1 s too high). They cover the time since the previous scrape; a long block counts as one sample however long it is, so watch `max` beside `p99`.",
    metrics: EVENT_LOOP_METRICS,
  },
];
