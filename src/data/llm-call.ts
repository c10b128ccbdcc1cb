/**
 * `llm_calls`: one normalised record per LLM call, whatever it came from (a gateway's span, its
 * logging payload). This is the ONE place downstream code learns about an LLM call: processors
 * after the span conversion (enrichment, record mapping, transform, filter) read only this type,
 * never a gateway's attribute names. Where each field comes from, per source:
 * integrations/<vendor>/README.md.
 *
 * Conventions: `null` means "not known from the source" (an enrichment step may fill it);
 * strings are kept as the source wrote them (no cleaning here: that is the record mapping's
 * `mode: clean`).
 */
export interface LlmCall {
  /** Where the record came from. */
  source: 'span' | 'slo';
  /**
   * How the source laid the call out (e.g. `genai`, or a gateway's own layouts and versions): tells
   * which fields it could carry (see integrations/<vendor>/README.md). Null when unknown.
   */
  layout: string | null;
  /**
   * Stable identity of the call, used for `uniqueId`: the provider's response id, else the gateway's
   * call id, else `<traceId>-<spanId>` (each source's table: integrations/<vendor>/README.md).
   */
  id: string;
  /**
   * The gateway's own id of the call, shared by every record the gateway makes of it (and by its
   * retries and fallbacks): the de-duplication key of successful calls. Null when the source has none.
   */
  callId: string | null;
  /** OTel ids when the record came from a span (lower-case hex), for de-duplication and tracing. */
  traceId: string | null;
  spanId: string | null;

  /** Start and end of the call, epoch nanoseconds as a decimal string (no precision loss). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /**
   * Start of the call in epoch milliseconds and its duration in milliseconds, rounded exactly as
   * the billing system's reference callback does for this source (SLO: Python `round()` of the
   * float seconds × 1000; span: nanoseconds / 1e6 rounded half up). The records' times and call
   * durations come from these, so both sources stay byte-identical to the callback.
   */
  startTimeMs: number;
  durationMs: number;
  /** The gateway's call type, e.g. `acompletion`, `aembedding`, `aimage_generation`. */
  callType: string | null;

  /**
   * `model` as requested/resolved by the gateway (e.g. `gpt-4o`, `anthropic.claude-...`). SLO `model`;
   * from spans, the model the gateway sent to the provider.
   */
  model: string | null;
  /** `custom_llm_provider` (e.g. `openai`, `bedrock`, `azure`, `vertex_ai`). */
  provider: string | null;
  /**
   * Model map key (the gateway's pricing key) → the `sku` dimension. SLO: `model_map_information.model_map_value.key`;
   * span: `gen_ai.response.model` (docs/mapping.md); an enrichment source may override it.
   * When both this and `modelMapProvider` are null, the model map is unknown (sku/platform `unknown`).
   */
  modelMapKey: string | null;
  /**
   * → the `platform` dimension. SLO: the model map value's provider; span: `gen_ai.system` when
   * `modelMapKey` is known, else null.
   */
  modelMapProvider: string | null;
  /** The gateway's deployment id, the key for model enrichment. */
  modelId: string | null;
  /** Model group name the client asked for. */
  modelGroup: string | null;
  /**
   * `api_base` used for the call; the region is derived from its host. SLO: top-level `api_base`
   * (what the callback reads); spans: the deployment's api_base, or only its host.
   */
  apiBase: string | null;
  /**
   * Region when a source states it directly (e.g. an enrichment's `aws_region_name`,
   * `vertex_location`); wins over the api_base rule. The span conversion and the SLO reader leave it null.
   */
  region: string | null;
  /** Batch API retrieval. */
  batch: boolean;
  /**
   * `model_parameters.n` (images requested), null when unknown (consumers then assume 1, as the
   * callback does). 0 when the source explicitly logged `n: None` (the callback then emits no
   * `llm_images` record).
   */
  n: number | null;

  usage: LlmUsage;

  /** Virtual key facts. Strings as the source wrote them (empty → null). */
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
  /** Guardrail results when present (as the gateway logged them). */
  guardrails: unknown[] | null;

  requestTags: string[] | null;
  /** Cost as the gateway computed it (informational). */
  responseCost: number | null;
  /** Streaming call (`stream` / `llm.is_streaming`), null when unknown. Informational. */
  stream: boolean | null;
  /**
   * Data-quality flag: attributes the source lost (OTel span `droppedAttributesCount`; an SDK at
   * its attribute limit may evict the OLDEST attributes first, i.e. `metadata.*`). 0 when complete.
   */
  droppedAttributes: number;
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
  /** Python traceback (`error_information.traceback` / `error.stack_trace`), used to classify errors. */
  traceback: string | null;
  /**
   * For a rate-limit refusal: whose limit was hit (`provider`, or the gateway's `key`, `team`,
   * `user`, ...), which rate (`rpm` | `tpm`) and the limit, as the source's message states them.
   */
  limitSubject: string | null;
  limitRate: string | null;
  limitValue: string | null;
  /** For a refusal by a content guardrail: which kind (e.g. `openai-moderation`). */
  guardrail: string | null;
}
