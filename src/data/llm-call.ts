/**
 * `llm_calls`: one normalised record per LLM call, whatever it came from (a LiteLLM span, a
 * StandardLoggingPayload). This is the ONE place downstream code learns about an LLM call:
 * processors after `litellm` (enrich, amberflo, transform, filter) read only this type, never
 * LiteLLM's attribute names.
 *
 * Conventions: `null` means "not known from the source" (an enrichment step may fill it);
 * strings are kept as the source wrote them (no cleaning here: that is the amberflo processor's
 * `mode: clean`).
 */
export interface LlmCall {
  /** Where the record came from. */
  source: 'span' | 'slo';
  /**
   * Stable identity of the call, used for `uniqueId` (MAPPING.md §1.3):
   * SLO `id`; span: `gen_ai.response.id` ?? `litellm.call_id` ?? `<traceId>-<spanId>`.
   */
  id: string;
  /** OTel ids when the record came from a span (lower-case hex), for de-duplication and tracing. */
  traceId: string | null;
  spanId: string | null;

  /** Start and end of the call, epoch nanoseconds as a decimal string (no precision loss). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** LiteLLM `call_type`, e.g. `acompletion`, `aembedding`, `aimage_generation`. */
  callType: string | null;

  /** `model` as requested/resolved by LiteLLM (e.g. `gpt-4o`, `bedrock/anthropic.claude-...`). */
  model: string | null;
  /** `custom_llm_provider` (e.g. `openai`, `bedrock`, `azure`, `vertex_ai`). */
  provider: string | null;
  /** Model map key (LiteLLM's pricing key) → Amberflo `sku`. */
  modelMapKey: string | null;
  /** `model_map_information.model_map_value.litellm_provider` → Amberflo `platform`. */
  modelMapProvider: string | null;
  /** Deployment id (`hidden_params.model_id`), the key for model enrichment. */
  modelId: string | null;
  /** Model group name the client asked for. */
  modelGroup: string | null;
  /** `api_base` used for the call (region is derived from its host). */
  apiBase: string | null;
  /** Region when a source states it directly (e.g. `aws_region_name`, `vertex_location`). */
  region: string | null;
  /** Batch API retrieval (`hidden_params.batch_models` set). */
  batch: boolean;
  /** `model_parameters.n` (images requested), null when unknown. */
  n: number | null;

  usage: LlmUsage;

  /** Virtual key facts. */
  keyHash: string | null;
  keyAlias: string | null;
  /** `user_api_key_auth_metadata` / key metadata, decoded (dict). */
  keyMetadata: Record<string, unknown> | null;
  teamId: string | null;
  teamAlias: string | null;
  /** Team metadata, only from an enrichment source (spans and SLOs do not carry it). */
  teamMetadata: Record<string, unknown> | null;
  userId: string | null;
  orgId: string | null;
  endUser: string | null;

  /** Failure details; null on success. */
  error: LlmError | null;
  /** Guardrail results when present (as logged by LiteLLM). */
  guardrails: unknown[] | null;

  /** Everything else the source offered that a user may want to map (decoded `hidden_params`, request tags, ...). */
  hiddenParams: Record<string, unknown> | null;
  requestTags: string[] | null;
  /** Cost as LiteLLM computed it (informational). */
  responseCost: number | null;
}

export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens read from the provider's cache (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
  cachedReadTokens: number;
  /** Prompt tokens written to the cache (Anthropic `cache_creation_input_tokens`). */
  cacheCreationTokens: number;
  /** Completion tokens spent on reasoning. */
  reasoningTokens: number;
}

export interface LlmError {
  /** Exception class, e.g. `RateLimitError`, `ProxyException`. */
  type: string | null;
  /** HTTP-ish status code as a string when known, e.g. "429". */
  code: string | null;
  message: string | null;
  provider: string | null;
}
