import { defineMetadata } from '../../src/telemetry/declare.js';

/** Besides the standard receiver counters (accepted, refused, failed) it registers no metrics of its own. */
export const metadata = defineMetadata({
  type: 'litellm_logs',
  kind: 'receiver',
  stability: 'beta',
  description: "LiteLLM StandardLoggingPayload JSON (files, directories, gzip, NDJSON; or LiteLLM's generic_api logger over HTTP) → LLM calls.",
  metrics: {},
});
