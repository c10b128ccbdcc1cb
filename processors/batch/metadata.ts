import { defineMetadata } from '../../src/telemetry/declare.js';

export const metadata = defineMetadata({
  type: 'batch',
  kind: 'processor',
  stability: 'beta',
  description: 'Cuts meter records into batches (size, bytes, timeout; one open batch per partition) with a bounded retry buffer.',
  metrics: {
    pending: {
      name: 'spanmeter_processor_batch_pending_records',
      type: 'gauge',
      labels: ['processor', 'pipeline'],
      description: 'Records held by a batch processor: open batches plus cut batches waiting for or retrying delivery.',
    },
    batches: {
      name: 'spanmeter_processor_batch_batches_total',
      type: 'counter',
      labels: ['processor', 'pipeline', 'trigger'],
      description: 'Batches cut, by trigger (size, bytes, timeout, shutdown).',
    },
    sendFailures: {
      name: 'spanmeter_processor_batch_send_failures_total',
      type: 'counter',
      labels: ['processor', 'pipeline'],
      description: 'Times the exporters failed a cut batch; it is kept and sent again after a backoff.',
    },
    refused: {
      name: 'spanmeter_processor_batch_refused_records_total',
      type: 'counter',
      labels: ['processor', 'pipeline'],
      description: 'Records refused with back-pressure because max_pending_records was reached.',
    },
    merged: {
      name: 'spanmeter_processor_batch_merged_total',
      type: 'counter',
      labels: ['processor', 'pipeline'],
      description: 'Cut batches sent in one object with the batch before them (send_batch_max_size): they waited for the exporters or for merge_wait.',
    },
  },
});
