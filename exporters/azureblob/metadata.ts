import { defineMetadata } from '../../src/telemetry/declare.js';

// Its metrics are the shared object-exporter ones (src/output/), labelled with its id.
export const metadata = defineMetadata({
  type: 'azureblob',
  kind: 'exporter',
  stability: 'beta',
  description: 'Uploads gzip JSON meter files to Azure Blob Storage (the key layout of Amberflo’s callback).',
  metrics: {},
});
