/**
 * Builds LiteLLM-shaped OTLP/JSON requests (v1.79 layout: root "Received Proxy Server Request",
 * a `postgres` service span and the billing `litellm_request` child), self-written for tests.
 * Attribute names and encodings follow docs/mapping.md, "Decoding span attributes".
 */
import { createHash } from 'node:crypto';

export interface CallSpec {
  /** Unique per call; becomes gen_ai.response.id and seeds the trace/span ids. */
  responseId: string;
  model?: string;
  responseModel?: string;
  system?: string;
  promptTokens?: number;
  completionTokens?: number;
  keyAlias?: string;
  businessUnit?: string;
  userId?: string;
  teamId?: string;
  startNs?: bigint;
  durationNs?: bigint;
}

const hex = (seed: string, chars: number) => createHash('sha256').update(seed).digest('hex').slice(0, chars);
const s = (key: string, v: string) => ({ key, value: { stringValue: v } });
const i = (key: string, v: number) => ({ key, value: { intValue: String(v) } });
const d = (key: string, v: number) => ({ key, value: { doubleValue: v } });

/** The spans of one LLM call (3 spans, 1 billing). */
export function callSpans(c: CallSpec): object[] {
  const traceId = hex(`t-${c.responseId}`, 32);
  const rootId = hex(`r-${c.responseId}`, 16);
  const start = c.startNs ?? 1764355422941051904n;
  const end = start + (c.durationNs ?? 3490752000n);
  const prompt = c.promptTokens ?? 11;
  const completion = c.completionTokens ?? 2;
  const usage = `{'completion_tokens': ${completion}, 'completion_tokens_details': {'accepted_prediction_tokens': 0, 'audio_tokens': 0, 'reasoning_tokens': 0, 'rejected_prediction_tokens': 0, 'text_tokens': None}, 'prompt_tokens': ${prompt}, 'prompt_tokens_details': {'audio_tokens': 0, 'cached_tokens': 0, 'image_tokens': None, 'text_tokens': None}, 'total_tokens': ${prompt + completion}}`;
  const hidden = JSON.stringify({
    api_base: 'https://api.openai.com',
    batch_models: null,
    litellm_model_name: c.model ?? 'gpt-4o',
    model_id: 'e78e6819-ff4e-4db6-8126-99157a2ff4a9',
    response_cost: 4.75e-5,
  });
  return [
    {
      traceId,
      spanId: hex(`p-${c.responseId}`, 16),
      parentSpanId: rootId,
      name: 'postgres',
      kind: 1,
      startTimeUnixNano: String(start - 2000000n),
      endTimeUnixNano: String(start - 1000000n),
      attributes: [s('service', 'postgres'), s('call_type', 'get_data')],
      status: { code: 1 },
    },
    {
      traceId,
      spanId: hex(`b-${c.responseId}`, 16),
      parentSpanId: rootId,
      name: 'litellm_request',
      kind: 1,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(end),
      attributes: [
        s('metadata.applied_guardrails', '[]'),
        s('metadata.requester_metadata', '{}'),
        s('metadata.usage_object', usage),
        s('metadata.user_api_key_alias', c.keyAlias ?? 'user-key'),
        s('metadata.user_api_key_auth_metadata', c.businessUnit ? `{'business_unit_id': '${c.businessUnit}'}` : '{}'),
        s('metadata.user_api_key_hash', hex(`k-${c.keyAlias ?? 'user-key'}`, 64)),
        s('metadata.user_api_key_org_id', ''),
        s('metadata.user_api_key_request_route', '/v1/chat/completions'),
        d('metadata.user_api_key_spend', 0),
        s('metadata.user_api_key_team_alias', ''),
        s('metadata.user_api_key_team_id', c.teamId ?? ''),
        s('metadata.user_api_key_user_id', c.userId ?? 'default_user_id'),
        s('hidden_params', hidden),
        d('gen_ai.cost.total_cost', 4.75e-5),
        s('gen_ai.request.model', c.model ?? 'gpt-4o'),
        s('llm.request.type', 'acompletion'),
        s('gen_ai.system', c.system ?? 'openai'),
        s('llm.is_streaming', 'False'),
        s('gen_ai.response.id', c.responseId),
        s('gen_ai.response.model', c.responseModel ?? 'gpt-4o-2024-08-06'),
        i('llm.usage.total_tokens', prompt + completion),
        i('gen_ai.usage.completion_tokens', completion),
        i('gen_ai.usage.prompt_tokens', prompt),
      ],
      status: { code: 1 },
    },
    {
      traceId,
      spanId: rootId,
      name: 'Received Proxy Server Request',
      kind: 2,
      startTimeUnixNano: String(start - 3000000n),
      endTimeUnixNano: String(end + 1000000n),
      attributes: [],
      status: {},
    },
  ];
}

/** An OTLP/JSON ExportTraceServiceRequest holding the spans of the given calls. */
export function otlpRequest(calls: CallSpec[]): object {
  return {
    resourceSpans: [
      {
        resource: { attributes: [s('service.name', 'litellm'), s('telemetry.sdk.language', 'python')] },
        scopeSpans: [{ scope: { name: 'litellm' }, spans: calls.flatMap(callSpans) }],
      },
    ],
  };
}

/**
 * An OTLP/JSON request with one span that looks like an LLM call (a GenAI operation, token usage)
 * but names an operation nobody bills: the litellm processor counts, logs and shows it.
 */
export function unbillableRequest(name = 'summarize doc', startNs: bigint = 1764355422941051904n): object {
  return {
    resourceSpans: [
      {
        resource: { attributes: [] },
        scopeSpans: [
          {
            scope: { name: 'x' },
            spans: [
              {
                traceId: '11111111111111111111111111111111',
                spanId: '2222222222222222',
                name,
                kind: 3,
                startTimeUnixNano: String(startNs),
                endTimeUnixNano: String(startNs + 1_000_000_000n),
                attributes: [
                  { key: 'gen_ai.operation.name', value: { stringValue: 'summarize' } },
                  { key: 'gen_ai.usage.input_tokens', value: { intValue: '10' } },
                ],
                status: {},
              },
            ],
          },
        ],
      },
    ],
  };
}
