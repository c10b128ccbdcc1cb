/**
 * The core's metrics (the standard per-component counters and the service's own gauges), declared
 * once: src/telemetry/metrics.ts builds them, docs/metrics.md is generated from them.
 */
import { defineMetrics } from './declare.js';

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
