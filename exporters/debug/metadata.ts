import { defineMetadata } from '../../src/telemetry/declare.js';

export const metadata = defineMetadata({
  type: 'debug',
  kind: 'exporter',
  stability: 'beta',
  description: 'Prints what it receives (a count, or every record) to stdout, for trying things out.',
  metrics: {},
});
