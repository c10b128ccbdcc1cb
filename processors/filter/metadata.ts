import { defineMetadata } from '../../src/telemetry/declare.js';

/** Only the standard processor metrics: dropped records count as `reason="filtered"`. */
export const metadata = defineMetadata({
  type: 'filter',
  kind: 'processor',
  stability: 'beta',
  description: 'Drops meter records by condition (e.g. meterApiName == "llm_api_call_ms").',
  metrics: {},
});
