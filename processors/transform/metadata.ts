import { defineMetadata } from '../../src/telemetry/declare.js';

/** Only the standard processor metrics. */
export const metadata = defineMetadata({
  type: 'transform',
  kind: 'processor',
  stability: 'beta',
  description: 'Sets, renames or deletes dimensions of meter records (values may reference other fields with {{path}}).',
  metrics: {},
});
