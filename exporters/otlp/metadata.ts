import { defineMetadata } from '../../src/telemetry/declare.js';

export const metadata = defineMetadata({
  type: 'otlp',
  kind: 'exporter',
  stability: 'beta',
  description: 'Forwards spans and logs unchanged to another OTLP/HTTP endpoint (best-effort: own bounded queue, never slows metering).',
  metrics: {
    forwarded: {
      name: 'spanmeter_exporter_forwarded_items_total',
      type: 'counter',
      labels: ['exporter', 'signal', 'outcome'],
      description:
        'Spans (`signal="spans"`) and log records (`signal="logs"`) the OTLP forward exporter delivered (`outcome="sent"`) or dropped (`outcome="dropped"`).',
    },
  },
});
