/**
 * One LiteLLM billing span → {@link LlmCall} (MAPPING.md §1.2, §1.3). The attribute names of
 * LiteLLM's `otel` callback are known here and in src/litellm only.
 */
import type { LlmCall, LlmError, LlmUsage } from '../../src/data/llm-call.js';
import type { AttrValue, Attributes, Span } from '../../src/data/span.js';
import { decodeMetadataValue, isDict, pyStr, pyTruthy, usageFromMetadataValue, type Dict } from '../../src/litellm/values.js';

/** `metadata.<key>` attributes read into an LlmCall. */
const METADATA_KEYS = [
  'user_api_key_auth_metadata',
  'user_api_key_hash',
  'user_api_key_alias',
  'user_api_key_team_id',
  'user_api_key_team_alias',
  'user_api_key_user_id',
  'user_api_key_org_id',
  'user_api_key_end_user_id',
  'guardrail_information',
] as const;

/** The attribute that marks an LLM-call span (v1.79 child layout and v1.81+ root layout alike). */
export const LLM_CALL_ATTRIBUTE = 'llm.request.type';

/**
 * Every span attribute that {@link isLlmCallSpan} and {@link spanToLlmCall} read, and nothing else
 * (a test reads all conformance spans through a proxy and holds the two to this list). The processor
 * declares it as its `spanAttributes`, so that the OTLP receiver does not build the values of the
 * others (request and response bodies, cost breakdowns, ...).
 */
export const SPAN_ATTRIBUTES: ReadonlySet<string> = new Set([
  LLM_CALL_ATTRIBUTE,
  ...METADATA_KEYS.map((k) => `metadata.${k}`),
  'hidden_params',
  'metadata.usage_object',
  'metadata.model_group',
  'gen_ai.usage.prompt_tokens',
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.completion_tokens',
  'gen_ai.usage.output_tokens',
  'llm.usage.total_tokens',
  'gen_ai.usage.total_tokens',
  'gen_ai.usage.cache_read.input_tokens',
  'gen_ai.usage.cache_creation.input_tokens',
  'gen_ai.response.model',
  'gen_ai.response.id',
  'gen_ai.request.model',
  'gen_ai.system',
  'gen_ai.provider.name',
  'gen_ai.cost.total_cost',
  'litellm.call_id',
  'llm.is_streaming',
  'error.type',
  'error.code',
  'error.message',
  'error.llm_provider',
  'error.stack_trace',
]);

export function isLlmCallSpan(span: Span): boolean {
  const v = span.attributes[LLM_CALL_ATTRIBUTE];
  return v !== undefined && v !== null;
}

/** Attribute as a string; LiteLLM writes Python `None` as `""`, so `""` is null. */
function s(a: Attributes, key: string): string | null {
  const v = a[key];
  if (v === undefined || v === null) return null;
  const str = pyStr(v);
  return str === '' ? null : str;
}

/** Negative counts are passed on as they are: the billing-value checks drop them, counted and logged. */
function int(v: AttrValue | undefined): number | null {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}

function parseHiddenParams(v: AttrValue | undefined): Dict | null {
  if (typeof v !== 'string' || v === '') return null;
  try {
    const parsed = JSON.parse(v) as unknown;
    return isDict(parsed) ? parsed : null;
  } catch {
    const d = decodeMetadataValue(v); // older versions may have used str(dict)
    return isDict(d) ? d : null;
  }
}

/** Rounds nanoseconds to milliseconds, half up. */
function nsToMs(ns: bigint): number {
  if (ns <= 0n) return 0;
  return Number((ns + 500_000n) / 1_000_000n);
}

/** Converts a span already known to be an LLM call. Never throws on odd attribute values. */
export function spanToLlmCall(span: Span): LlmCall {
  const a = span.attributes;
  const hp = parseHiddenParams(a.hidden_params);
  const fromObject = usageFromMetadataValue(a['metadata.usage_object']);
  const prompt = int(a['gen_ai.usage.prompt_tokens']) ?? int(a['gen_ai.usage.input_tokens']);
  const completion = int(a['gen_ai.usage.completion_tokens']) ?? int(a['gen_ai.usage.output_tokens']);
  const total = int(a['llm.usage.total_tokens']) ?? int(a['gen_ai.usage.total_tokens']);
  // The usage_object's counts, overridden by the attributes that state them (same key order).
  const usage: LlmUsage = {
    promptTokens: prompt ?? fromObject.promptTokens,
    completionTokens: completion ?? fromObject.completionTokens,
    totalTokens: total ?? (prompt !== null || completion !== null ? (prompt ?? 0) + (completion ?? 0) : fromObject.totalTokens),
    // semconv opt-in mode (later LiteLLM versions) also states cache tokens as attributes.
    cachedReadTokens: fromObject.cachedReadTokens || (int(a['gen_ai.usage.cache_read.input_tokens']) ?? 0),
    cacheCreationTokens: fromObject.cacheCreationTokens || (int(a['gen_ai.usage.cache_creation.input_tokens']) ?? 0),
    reasoningTokens: fromObject.reasoningTokens,
  };

  const responseModel = s(a, 'gen_ai.response.model');
  const system = s(a, 'gen_ai.system') ?? s(a, 'gen_ai.provider.name');
  const start = span.startTimeUnixNano;
  const end = span.endTimeUnixNano;

  let error: LlmError | null = null;
  const errorType = s(a, 'error.type');
  if (errorType !== null || span.status.code === 2) {
    error = {
      type: errorType,
      code: s(a, 'error.code'),
      message: s(a, 'error.message') ?? (span.status.message || null),
      provider: s(a, 'error.llm_provider'),
      traceback: s(a, 'error.stack_trace'),
    };
  }

  // Only the metadata keys the LlmCall carries are decoded (the others cost time and are unused).
  const keyMetadata = meta(a, 'metadata.user_api_key_auth_metadata');
  const guardrails = meta(a, 'metadata.guardrail_information');
  const stream = s(a, 'llm.is_streaming');
  return {
    source: 'span',
    id: s(a, 'gen_ai.response.id') ?? s(a, 'litellm.call_id') ?? `${span.traceId}-${span.spanId}`,
    traceId: span.traceId || null,
    spanId: span.spanId || null,
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: end.toString(),
    startTimeMs: nsToMs(start),
    durationMs: nsToMs(end - start),
    callType: s(a, LLM_CALL_ATTRIBUTE),
    // gen_ai.request.model can be empty (LiteLLM #31583); the deployment's model name is the next best.
    model: s(a, 'gen_ai.request.model') ?? (typeof hp?.litellm_model_name === 'string' && hp.litellm_model_name !== '' ? hp.litellm_model_name : null),
    provider: system,
    // MAPPING.md §1.3: sku = gen_ai.response.model, platform = gen_ai.system when sku is known.
    modelMapKey: responseModel,
    modelMapProvider: responseModel !== null ? system : null,
    modelId: typeof hp?.model_id === 'string' && hp.model_id !== '' ? hp.model_id : null,
    modelGroup: s(a, 'metadata.model_group'),
    apiBase: typeof hp?.api_base === 'string' && hp.api_base !== '' ? hp.api_base : null,
    region: null,
    batch: pyTruthy(hp?.batch_models),
    n: null,
    usage,
    keyHash: strOf(meta(a, 'metadata.user_api_key_hash')),
    keyAlias: strOf(meta(a, 'metadata.user_api_key_alias')),
    keyMetadata: isDict(keyMetadata) ? keyMetadata : null,
    teamId: strOf(meta(a, 'metadata.user_api_key_team_id')),
    teamAlias: strOf(meta(a, 'metadata.user_api_key_team_alias')),
    teamMetadata: null,
    userId: strOf(meta(a, 'metadata.user_api_key_user_id')),
    orgId: strOf(meta(a, 'metadata.user_api_key_org_id')),
    endUser: strOf(meta(a, 'metadata.user_api_key_end_user_id')),
    error,
    guardrails: Array.isArray(guardrails) ? guardrails : null,
    requestTags: null,
    responseCost: typeof a['gen_ai.cost.total_cost'] === 'number' ? a['gen_ai.cost.total_cost'] : typeof hp?.response_cost === 'number' ? hp.response_cost : null,
    stream: stream === null ? null : stream === 'True' || stream === 'true',
    droppedAttributes: span.droppedAttributesCount,
  };
}

/** A `metadata.<key>` attribute decoded (see decodeMetadataValue); undefined when absent. */
function meta(a: Attributes, name: string): unknown {
  const v = a[name];
  return v === undefined ? undefined : decodeMetadataValue(v);
}

function strOf(v: unknown): string | null {
  const str = pyStr(v);
  return str === '' ? null : str;
}
