import { defineMetadata } from '../../src/telemetry/declare.js';

/**
 * Besides the standard processor metrics: the metered usage, counted as the processor hands each
 * call's meter records on; `team` and `model` are `unknown` when the call has none, and pairs past
 * the 1,000th count as `(other)`.
 */
export const metadata = defineMetadata({
  type: 'amberflo',
  kind: 'processor',
  stability: 'beta',
  description: "LLM calls → Amberflo meter records (llm_api_call, llm_api_call_ms, llm_text_tokens, ...), parity with Amberflo's LiteLLM callback.",
  metrics: {
    calls: {
      name: 'spanmeter_metered_calls_total',
      type: 'counter',
      labels: ['team', 'model'],
      description: 'LLM calls metered (turned into meter records).',
    },
    failedCalls: {
      name: 'spanmeter_metered_failed_calls_total',
      type: 'counter',
      labels: ['team', 'model'],
      description: 'Metered LLM calls that failed.',
    },
    tokens: {
      name: 'spanmeter_metered_tokens_total',
      type: 'counter',
      labels: ['team', 'model', 'direction'],
      description: 'Tokens metered: `direction` `in` (prompt, cached included) or `out` (completion).',
    },
  },
});
