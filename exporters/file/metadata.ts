import { defineMetadata } from '../../src/telemetry/declare.js';

// Its metrics are the shared object-exporter ones (src/output/), labelled with its id.
export const metadata = defineMetadata({
  type: 'file',
  kind: 'exporter',
  stability: 'beta',
  description: 'Writes gzip JSON meter files to a local directory in the key layout of Amberflo’s callback (atomic writes).',
  metrics: {},
});
