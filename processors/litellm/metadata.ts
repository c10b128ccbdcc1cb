import { defineMetadata } from '../../src/telemetry/declare.js';

export const metadata = defineMetadata({
  type: 'litellm',
  kind: 'processor',
  stability: 'beta',
  description: 'LiteLLM OTel spans (every layout) and GenAI-convention spans → one normalised LLM-call record per call (de-duplicated).',
  metrics: {
    callsOut: {
      name: 'spanmeter_litellm_llm_calls_total',
      type: 'counter',
      labels: ['processor', 'pipeline'],
      description: 'LLM calls the litellm processor emitted.',
    },
    spansSeen: {
      name: 'spanmeter_litellm_spans_seen_total',
      type: 'counter',
      labels: ['processor', 'pipeline'],
      description: 'Spans the litellm processor examined (billing or not).',
    },
    droppedAttrSpans: {
      name: 'spanmeter_litellm_spans_with_dropped_attributes_total',
      type: 'counter',
      labels: ['processor', 'pipeline'],
      description:
        "LLM-call spans with droppedAttributesCount > 0 (LiteLLM evicted attributes; metadata.* may be missing). LiteLLM's SDK evicted attributes (128 per span by default). Alert on any increase: see [litellm.md](litellm.md#attribute-limit).",
    },
    byLayout: {
      name: 'spanmeter_litellm_calls_by_layout_total',
      type: 'counter',
      labels: ['processor', 'pipeline', 'layout'],
      description:
        'LLM calls by the span layout they were read from (`litellm.v1.child`, `litellm.v1.root`, `litellm.v1.request-span`, `litellm.v1.semconv`, `litellm.v2`, `litellm.v2.legacy`, `genai`): shows which LiteLLM output a fleet sends, and when an upgrade changed it.',
    },
    unbillableSpans: {
      name: 'spanmeter_litellm_unbillable_spans_total',
      type: 'counter',
      labels: ['processor', 'pipeline', 'reason'],
      description:
        'Spans that look like LLM calls (a GenAI operation, token usage, a LiteLLM call id) but could not be billed: `unknown_operation` (a `gen_ai.operation.name` spanmeter does not know), `no_operation` (usage without any operation). Each is also logged (at most once a minute per reason) and shown on the status page. Alert on any increase.',
    },
    identityJoined: {
      name: 'spanmeter_litellm_identity_joined_total',
      type: 'counter',
      labels: ['processor', 'pipeline'],
      description: "LLM calls whose team or key facts came from another span of the same request (the proxy's root or server span).",
    },
  },
});
