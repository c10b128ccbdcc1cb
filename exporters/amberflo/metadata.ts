import { defineMetadata } from '../../src/telemetry/declare.js';

/** Its metrics are the shared object exporter's (src/output), registered by that code. */
export const metadata = defineMetadata({
  type: 'amberflo',
  kind: 'exporter',
  stability: 'beta',
  description: "POSTs meter records to Amberflo's ingest API (gzip, ≤1000 records/1 MB, retries, dead-letter folder).",
  metrics: {},
});
