/**
 * A realistic LiteLLM workload for benchmarks: OTLP requests of ~512 spans in the v1.79 layout (or LiteLLM's OTel v2),
 * three spans per LLM call (root "Received Proxy Server Request", a `postgres` service span, and
 * the billing `litellm_request` span with the full attribute set), with varied teams, keys and
 * models, ~5% failures (429 with the error attributes and a stack trace) and ~20% of calls with
 * cached prompt tokens. Deterministic for a given seed. Self-written (shapes from
 * docs/mapping.md, "Decoding span attributes").
 */
import { createHash } from 'node:crypto';

export const SPANS_PER_CALL = 3;

type Attr = { key: string; value: Record<string, unknown> };
const s = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });
const i = (key: string, v: number): Attr => ({ key, value: { intValue: String(v) } });
const d = (key: string, v: number): Attr => ({ key, value: { doubleValue: v } });

const MODELS = [
  { model: 'gpt-4o', response: 'gpt-4o-2024-08-06', system: 'openai', apiBase: 'https://api.openai.com' },
  { model: 'gpt-4o-mini', response: 'gpt-4o-mini-2024-07-18', system: 'openai', apiBase: 'https://api.openai.com' },
  {
    model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    response: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    system: 'bedrock',
    apiBase: 'https://bedrock-runtime.us-east-1.amazonaws.com',
  },
  { model: 'gemini-1.5-pro', response: 'gemini-1.5-pro-002', system: 'vertex_ai', apiBase: 'https://us-central1-aiplatform.googleapis.com' },
  { model: 'text-embedding-3-small', response: 'text-embedding-3-small', system: 'openai', apiBase: 'https://api.openai.com' },
];
const TEAMS = Array.from({ length: 40 }, (_, k) => ({ id: `team-${k}`, bu: `bu-${k % 7}` }));
const KEYS = Array.from({ length: 200 }, (_, k) => ({ alias: `key-${k}`, team: TEAMS[k % TEAMS.length]!, user: `user-${k % 50}` }));

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (seed: string, n: number) => createHash('sha1').update(seed).digest('hex').padEnd(n, '0').slice(0, n);

export interface CallFacts {
  responseId: string;
  failed: boolean;
}

/** LiteLLM's span layouts the workload can be written in. */
export type WorkloadLayout = 'v1.79' | 'v2';

/** The facts of call number `n`, drawn in the same order whatever the layout: both layouts bill the same calls. */
function drawCall(n: number, runId: string, rand: () => number, startNs: bigint) {
  const m = MODELS[Math.floor(rand() * MODELS.length)]!;
  const key = KEYS[Math.floor(rand() * KEYS.length)]!;
  const failed = rand() < 0.05;
  const cached = !failed && rand() < 0.2;
  const prompt = 20 + Math.floor(rand() * 4000);
  const completion = failed ? 0 : 1 + Math.floor(rand() * 800);
  const cachedTokens = cached ? Math.floor(prompt * 0.6) : 0;
  const durNs = BigInt(200_000_000 + Math.floor(rand() * 4_000_000_000));
  return {
    m,
    key,
    failed,
    prompt,
    completion,
    cachedTokens,
    responseId: `chatcmpl-${runId}-${n}`,
    traceId: hex(`t${runId}${n}`, 32),
    rootId: hex(`r${runId}${n}`, 16),
    end: startNs + durNs,
  };
}

/** LiteLLM v2's provider names (`_PROVIDER_BY_LITELLM`). */
const V2_PROVIDER: Record<string, string> = { openai: 'openai', bedrock: 'aws.bedrock', vertex_ai: 'gcp.vertex_ai' };

/**
 * The three spans of call number `n` in LiteLLM's OTel v2 layout with its legacy attributes (the
 * default of `LITELLM_OTEL_V2=true`): the FastAPI server span, a database span and the CLIENT
 * LLM span, the identity on both of the latter (baggage). The same facts as {@link callSpans}.
 */
function callSpansV2(n: number, runId: string, rand: () => number, startNs: bigint): { spans: object[]; facts: CallFacts } {
  const { m, key, failed, prompt, completion, cachedTokens, responseId, traceId, rootId: serverId, end } = drawCall(n, runId, rand, startNs);
  const embedding = m.model.includes('embedding');
  const op = embedding ? 'embeddings' : 'chat';
  const provider = V2_PROVIDER[m.system] ?? m.system;
  const streaming = rand() < 0.3;
  const baggage: Attr[] = [
    s('litellm.team.id', key.team.id),
    s('litellm.api_key.hash', hex(`k${key.alias}`, 64)),
    s('litellm.metadata.user_api_key_alias', key.alias),
    s('litellm.metadata.user_api_key_user_id', key.user),
    s('gen_ai.request.model', m.model),
    s('litellm.provider.model', `${m.system}/${m.model}`),
  ];
  const llm: Attr[] = [s('gen_ai.operation.name', op), s('gen_ai.provider.name', provider)];
  if (!failed) {
    llm.push(s('gen_ai.response.model', m.response), s('gen_ai.response.id', responseId), s('gen_ai.response.finish_reasons', 'stop'));
    llm.push(i('gen_ai.usage.input_tokens', prompt), i('gen_ai.usage.output_tokens', completion));
    if (cachedTokens) llm.push(i('gen_ai.usage.cache_read.input_tokens', cachedTokens));
  }
  llm.push(
    s('server.address', new URL(m.apiBase).hostname),
    i('server.port', 443),
    s('litellm.call_id', `${runId}-call-${n}`),
    s('litellm.call_type', embedding ? 'aembedding' : 'acompletion'),
  );
  if (!failed)
    llm.push(
      d('litellm.cost.total', 0.0001),
      d('litellm.cost.input', 0.00005),
      d('litellm.cost.output', 0.00005),
      d('litellm.cost.discount_amount', 0),
      d('litellm.cost.original', 0.0001),
    );
  if (streaming) llm.push({ key: 'litellm.request.streaming', value: { boolValue: true } });
  llm.push(s('litellm.request.route', '/v1/chat/completions'), s('gen_ai.system', provider));
  if (!failed)
    llm.push(i('gen_ai.usage.prompt_tokens', prompt), i('gen_ai.usage.completion_tokens', completion), i('gen_ai.usage.total_tokens', prompt + completion));
  llm.push(...baggage);
  if (failed) {
    llm.push(
      s('error.type', 'RateLimitError'),
      s(
        'error.message',
        `litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for ${m.model} on requests per min (RPM): Limit 5000, Used 5000, Requested 1.`,
      ),
      s('litellm.provider.error.code', '429'),
      s('litellm.provider.error.llm_provider', m.system),
      s(
        'litellm.provider.error.stack_trace',
        '  File "/usr/lib/python3.13/site-packages/litellm/utils.py", line 1483, in wrapper_async\n    result = await original_function(*args, **kwargs)\n'.repeat(
          6,
        ),
      ),
    );
  }
  const spans = [
    {
      traceId,
      spanId: hex(`p${runId}${n}`, 16),
      parentSpanId: serverId,
      name: 'postgres.select LiteLLM_VerificationToken',
      kind: 3,
      startTimeUnixNano: String(startNs - 2_000_000n),
      endTimeUnixNano: String(startNs - 1_000_000n),
      attributes: [s('db.system.name', 'postgresql'), s('db.operation.name', 'select'), ...baggage],
      status: {},
    },
    {
      traceId,
      spanId: hex(`b${runId}${n}`, 16),
      parentSpanId: serverId,
      name: `${op} ${m.model}`,
      kind: 3,
      startTimeUnixNano: String(startNs),
      endTimeUnixNano: String(end),
      attributes: llm,
      status: failed ? { code: 2, message: 'RateLimitError' } : {},
    },
    {
      traceId,
      spanId: serverId,
      name: 'POST /v1/chat/completions',
      kind: 2,
      startTimeUnixNano: String(startNs - 3_000_000n),
      endTimeUnixNano: String(end + 1_000_000n),
      attributes: [
        s('http.request.method', 'POST'),
        s('http.route', '/v1/chat/completions'),
        s('url.path', '/v1/chat/completions'),
        i('http.response.status_code', failed ? 429 : 200),
      ],
      status: {},
    },
  ];
  return { spans, facts: { responseId, failed } };
}

/** The three spans of call number `n` (unique over a run when `runId` differs). */
export function callSpans(
  n: number,
  runId: string,
  rand: () => number,
  startNs: bigint,
  layout: WorkloadLayout = 'v1.79',
): { spans: object[]; facts: CallFacts } {
  if (layout === 'v2') return callSpansV2(n, runId, rand, startNs);
  const { m, key, failed, prompt, completion, cachedTokens, responseId, traceId, rootId, end } = drawCall(n, runId, rand, startNs);
  const usage = failed
    ? "{'completion_tokens': 0, 'completion_tokens_details': None, 'prompt_tokens': 0, 'prompt_tokens_details': None, 'total_tokens': 0}"
    : `{'completion_tokens': ${completion}, 'completion_tokens_details': {'accepted_prediction_tokens': 0, 'audio_tokens': 0, 'reasoning_tokens': 0, 'rejected_prediction_tokens': 0, 'text_tokens': None}, 'prompt_tokens': ${prompt}, 'prompt_tokens_details': {'audio_tokens': 0, 'cached_tokens': ${cachedTokens}, 'image_tokens': None, 'text_tokens': None}, 'total_tokens': ${prompt + completion}}`;
  const hidden = JSON.stringify({
    additional_headers: failed ? {} : { x_ratelimit_limit_requests: 5000, x_ratelimit_remaining_requests: 4999 },
    api_base: failed ? null : m.apiBase,
    batch_models: null,
    cache_key: null,
    litellm_model_name: failed ? null : m.model,
    litellm_overhead_time_ms: failed ? null : 3.2,
    model_id: failed ? null : hex(`model${m.model}`, 8) + '-ff4e-4db6-8126-99157a2ff4a9',
    response_cost: failed ? null : 0.0001,
    usage_object: null,
  });
  const billing: Attr[] = [
    s('metadata.applied_guardrails', '[]'),
    s('metadata.cold_storage_object_key', ''),
    s('metadata.mcp_tool_call_metadata', ''),
    s('metadata.prompt_management_metadata', ''),
    s('metadata.requester_custom_headers', '{}'),
    s('metadata.requester_ip_address', ''),
    s('metadata.requester_metadata', '{}'),
    s('metadata.spend_logs_metadata', ''),
    s('metadata.usage_object', usage),
    s('metadata.user_api_key_alias', key.alias),
    s('metadata.user_api_key_auth_metadata', `{'business_unit_id': '${key.team.bu}'}`),
    s('metadata.user_api_key_budget_reset_at', ''),
    s('metadata.user_api_key_end_user_id', ''),
    s('metadata.user_api_key_hash', hex(`k${key.alias}`, 64)),
    s('metadata.user_api_key_max_budget', ''),
    s('metadata.user_api_key_org_id', ''),
    s('metadata.user_api_key_request_route', '/v1/chat/completions'),
    d('metadata.user_api_key_spend', 0.25),
    s('metadata.user_api_key_team_alias', ''),
    s('metadata.user_api_key_team_id', key.team.id),
    s('metadata.user_api_key_user_email', ''),
    s('metadata.user_api_key_user_id', key.user),
    s('metadata.vector_store_request_metadata', ''),
    s('hidden_params', hidden),
    d('gen_ai.cost.discount_amount', 0),
    d('gen_ai.cost.discount_percent', 0),
    d('gen_ai.cost.input_cost', 0.00005),
    d('gen_ai.cost.original_cost', 0.0001),
    d('gen_ai.cost.output_cost', 0.00005),
    d('gen_ai.cost.tool_usage_cost', 0),
    d('gen_ai.cost.total_cost', 0.0001),
    s('gen_ai.request.model', m.model),
    s('llm.request.type', m.model.includes('embedding') ? 'aembedding' : 'acompletion'),
    s('gen_ai.system', m.system),
    s('llm.is_streaming', rand() < 0.3 ? 'True' : 'False'),
  ];
  if (failed) {
    billing.push(
      s('error.code', '429'),
      s('error.type', 'RateLimitError'),
      s(
        'error.message',
        `litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for ${m.model} on requests per min (RPM): Limit 5000, Used 5000, Requested 1.`,
      ),
      s('error.llm_provider', m.system),
      s(
        'error.stack_trace',
        '  File "/usr/lib/python3.13/site-packages/litellm/utils.py", line 1483, in wrapper_async\n    result = await original_function(*args, **kwargs)\n'.repeat(
          6,
        ),
      ),
    );
  } else {
    billing.push(
      s('gen_ai.response.id', responseId),
      s('gen_ai.response.model', m.response),
      i('llm.usage.total_tokens', prompt + completion),
      i('gen_ai.usage.completion_tokens', completion),
      i('gen_ai.usage.prompt_tokens', prompt),
    );
  }
  const spans = [
    {
      traceId,
      spanId: hex(`p${runId}${n}`, 16),
      parentSpanId: rootId,
      name: 'postgres',
      kind: 1,
      startTimeUnixNano: String(startNs - 2_000_000n),
      endTimeUnixNano: String(startNs - 1_000_000n),
      attributes: [s('service', 'postgres'), s('call_type', 'get_data')],
      status: { code: 1 },
    },
    {
      traceId,
      spanId: hex(`b${runId}${n}`, 16),
      parentSpanId: rootId,
      name: 'litellm_request',
      kind: 1,
      startTimeUnixNano: String(startNs),
      endTimeUnixNano: String(end),
      attributes: billing,
      status: failed ? { code: 2, message: 'RateLimitError' } : { code: 1 },
    },
    {
      traceId,
      spanId: rootId,
      name: 'Received Proxy Server Request',
      kind: 2,
      startTimeUnixNano: String(startNs - 3_000_000n),
      endTimeUnixNano: String(end + 1_000_000n),
      attributes: [],
      status: {},
    },
  ];
  return { spans, facts: { responseId, failed } };
}

/** One OTLP/JSON ExportTraceServiceRequest with `calls` calls (3 spans each). */
export function request(
  firstCall: number,
  calls: number,
  runId: string,
  seed: number,
  startNs = 1_764_355_422_941_051_904n,
  layout: WorkloadLayout = 'v1.79',
): { body: object; facts: CallFacts[] } {
  const rand = rng(seed);
  const spans: object[] = [];
  const facts: CallFacts[] = [];
  for (let k = 0; k < calls; k++) {
    const c = callSpans(firstCall + k, runId, rand, startNs + BigInt(k) * 1_000_000n, layout);
    spans.push(...c.spans);
    facts.push(c.facts);
  }
  return {
    body: {
      resourceSpans: [
        {
          resource: {
            attributes: [
              s('telemetry.sdk.language', 'python'),
              s('telemetry.sdk.name', 'opentelemetry'),
              s('telemetry.sdk.version', '1.25.0'),
              s('service.name', 'litellm'),
              s('deployment.environment', 'production'),
            ],
          },
          scopeSpans: [{ scope: { name: 'litellm' }, spans }],
        },
      ],
    },
    facts,
  };
}
