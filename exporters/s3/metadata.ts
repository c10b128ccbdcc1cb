import { defineMetadata } from '../../src/telemetry/declare.js';

// Its metrics are the shared object-exporter ones (src/output/), labelled with its id.
export const metadata = defineMetadata({
  type: 's3',
  kind: 'exporter',
  stability: 'beta',
  description: 'Uploads gzip JSON meter files to S3 or an S3-compatible store (the key layout of Amberflo’s callback).',
  metrics: {},
});
