import { defineMetadata } from '../../src/telemetry/declare.js';

/** The metered-usage counters the processor feeds are the core's (docs/metrics.md, Metered usage). */
export const metadata = defineMetadata({
  type: 'amberflo',
  kind: 'processor',
  stability: 'beta',
  description: "LLM calls → Amberflo meter records (llm_api_call, llm_api_call_ms, llm_text_tokens, ...), parity with Amberflo's LiteLLM callback.",
  metrics: {},
});
