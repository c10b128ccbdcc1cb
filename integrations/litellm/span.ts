/**
 * LiteLLM's spans (and GenAI-convention spans of other instrumentations) → {@link LlmCall}.
 *
 * {@link classifySpan} reads a span's layout from the span itself, never from configuration:
 * - `litellm.v1.*`: LiteLLM's v1 `otel` logger. The billing span has `llm.request.type`; it is the
 *   `litellm_request` child (≤ 1.80, or `USE_OTEL_LITELLM_REQUEST_SPAN`), the proxy's root span
 *   (1.81+ by default), or a CLIENT span `{operation} {model}` with the semconv opt-in;
 * - `litellm.v2`: LiteLLM's OTel v2 (`LITELLM_OTEL_V2`), a CLIENT span with `gen_ai.operation.name`
 *   and `litellm.call_id` / `litellm.call_type`, with or without its legacy duplicates;
 * - `genai`: any other span of the GenAI conventions with a billed `gen_ai.operation.name`
 *   (OpenLLMetry, OpenLIT, the OTel GenAI instrumentations), or OpenLLMetry's `llm.request.type`.
 * README.md beside this file tabulates each layout's attributes and the LlmCall field each fills.
 */
import type { LlmCall, LlmUsage } from '../../src/data/llm-call.js';
import type { AttrValue, Attributes, Span } from '../../src/data/span.js';
import { GENAI, SPAN_KIND_SERVER, V1, V1_METADATA, V1_ROOT_SPAN_NAME, V2 } from './attributes.js';
import { classifyError, type RawError } from './errors.js';
import { UNBILLED_CALL_TYPES, litellmProvider, operationKind, withoutProviderPrefix } from './providers.js';
import { decodeMetadataValue, isDict, pyStr, pyTruthy, usageFromMetadataValue, type Dict } from './values.js';

export type Layout = 'litellm.v1.child' | 'litellm.v1.root' | 'litellm.v1.request-span' | 'litellm.v1.semconv' | 'litellm.v2' | 'litellm.v2.legacy' | 'genai';

/** What a span is, for billing. */
export type Verdict =
  /** An LLM call: bill it, read as this layout. */
  | { kind: 'call'; layout: Layout }
  /** A span of the request that is known not to be an LLM call (tool, guardrail, management...). */
  | { kind: 'other'; reason: 'not_llm_call' | 'not_billed_operation' }
  /** It looks like an LLM call but cannot be billed: counted, logged and shown, never dropped silently. */
  | { kind: 'unbillable'; reason: 'unknown_operation' | 'no_operation'; detail: string };

/**
 * Attributes without which a span is neither a call, an identity carrier nor LLM-like: a receiver
 * may leave out spans that have none of them (see `Consumer.spanSelector`).
 */
export const SPAN_SELECTORS: ReadonlySet<string> = new Set([
  V1.callType,
  GENAI.operation,
  GENAI.inputTokens,
  GENAI.outputTokens,
  GENAI.promptTokens,
  GENAI.completionTokens,
  V2.callId,
  V2.cost,
  V1_METADATA.teamId,
  V1_METADATA.keyHash,
  V2.teamId,
  V2.keyHash,
]);

/**
 * Every span attribute that {@link classifySpan}, {@link spanToLlmCall} and {@link identityOf}
 * read, and nothing else (a test holds them to this list): the processor declares it, so that the
 * OTLP receiver does not build the values of the others (message bodies, cost breakdowns...).
 */
export const SPAN_ATTRIBUTES: ReadonlySet<string> = new Set([
  ...Object.values(V1),
  ...Object.values(V1_METADATA),
  ...Object.values(GENAI),
  ...Object.values(V2),
  'gen_ai.request.model',
]);

// ---------------------------------------------------------------------------------------------
// Reading attribute values

/** Attribute as a string; LiteLLM writes Python `None` as `""`, so `""` is null. */
function s(a: Attributes, key: string): string | null {
  const v = a[key];
  if (v === undefined || v === null) return null;
  const str = pyStr(v);
  return str === '' ? null : str;
}

function has(a: Attributes, key: string): boolean {
  const v = a[key];
  return v !== undefined && v !== null;
}

/**
 * A token count from an int, a double or a decimal string. Negative and huge counts are passed on
 * as they are: the billing-value checks drop them, counted and logged (src/data/llm-call-checks.ts).
 */
function int(v: AttrValue | undefined): number | null {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}

function bool(v: AttrValue | undefined): boolean | null {
  if (typeof v === 'boolean') return v;
  if (v === 'True' || v === 'true') return true;
  if (v === 'False' || v === 'false') return false;
  return null;
}

function num(v: AttrValue | undefined): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

function parseJsonDict(v: AttrValue | undefined): Dict | null {
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

/** A `metadata.<key>` attribute decoded (see decodeMetadataValue); undefined when absent. */
function meta(a: Attributes, name: string): unknown {
  const v = a[name];
  return v === undefined ? undefined : decodeMetadataValue(v);
}

function strOf(v: unknown): string | null {
  const str = pyStr(v);
  return str === '' ? null : str;
}

const nonEmpty = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

// ---------------------------------------------------------------------------------------------
// Classification

/** LiteLLM's own call types (`llm.request.type`), as opposed to OpenLLMetry's (`chat`, `embedding`...). */
function isLitellmV1(a: Attributes): boolean {
  if (has(a, V1.hiddenParams) || has(a, V1.usageObject) || has(a, V1.callId) || has(a, V1.modelGroup) || has(a, V1_METADATA.keyHash)) return true;
  const t = s(a, V1.callType);
  // LiteLLM's async call types start with "a" (acompletion, aembedding, aimage_generation...);
  // OpenLLMetry writes chat / completion / embedding / rerank.
  return t !== null && !OPENLLMETRY_REQUEST_TYPES.has(t);
}
const OPENLLMETRY_REQUEST_TYPES: ReadonlySet<string> = new Set(['chat', 'completion', 'embedding', 'rerank', 'unknown']);

/** The verdicts without details, made once (classifySpan runs for every span). */
const CALL: Readonly<Record<Layout, Verdict>> = Object.freeze(
  Object.fromEntries(
    (['litellm.v1.child', 'litellm.v1.root', 'litellm.v1.request-span', 'litellm.v1.semconv', 'litellm.v2', 'litellm.v2.legacy', 'genai'] as const).map(
      (layout) => [layout, Object.freeze({ kind: 'call', layout })],
    ),
  ) as Record<Layout, Verdict>,
);
const NOT_LLM: Verdict = Object.freeze({ kind: 'other', reason: 'not_llm_call' });
const NOT_BILLED: Verdict = Object.freeze({ kind: 'other', reason: 'not_billed_operation' });

export function classifySpan(span: Span): Verdict {
  const a = span.attributes;
  const v1Type = s(a, V1.callType);
  if (v1Type !== null && isLitellmV1(a)) {
    if (UNBILLED_CALL_TYPES.has(v1Type)) return NOT_BILLED;
    return CALL[v1Layout(span)];
  }
  const op = s(a, GENAI.operation);
  if (op !== null) {
    const litellm = has(a, V2.callId) || has(a, V2.callType);
    const callType = s(a, V2.callType);
    if (callType !== null && UNBILLED_CALL_TYPES.has(callType)) return NOT_BILLED;
    const k = operationKind(op);
    if (k === 'skip') return NOT_BILLED;
    if (k === 'unknown')
      return { kind: 'unbillable', reason: 'unknown_operation', detail: `gen_ai.operation.name "${op}" is not an operation spanmeter bills` };
    if (litellm) return CALL[has(a, GENAI.promptTokens) || has(a, GENAI.system) ? 'litellm.v2.legacy' : 'litellm.v2'];
    return CALL.genai;
  }
  if (v1Type !== null) return CALL.genai; // OpenLLMetry: llm.request.type without LiteLLM's attributes
  if (has(a, GENAI.inputTokens) || has(a, GENAI.outputTokens) || has(a, GENAI.promptTokens) || has(a, GENAI.completionTokens) || has(a, V2.callId)) {
    return { kind: 'unbillable', reason: 'no_operation', detail: 'token usage or a LiteLLM call id without gen_ai.operation.name or llm.request.type' };
  }
  return NOT_LLM;
}

function v1Layout(span: Span): Layout {
  const a = span.attributes;
  const root = span.kind === SPAN_KIND_SERVER || span.name === V1_ROOT_SPAN_NAME || span.parentSpanId === '';
  // ≤ 1.80 (the common case first): `gen_ai.system` and the prompt/completion token names.
  if (!root && has(a, V1.promptTokens) && has(a, V1.system)) return 'litellm.v1.child';
  if (has(a, GENAI.provider) && !has(a, V1.system)) return 'litellm.v1.semconv';
  if (root) return 'litellm.v1.root';
  // 1.81+ writes input/output tokens; a child there is the request span (USE_OTEL_LITELLM_REQUEST_SPAN).
  return has(a, GENAI.inputTokens) || has(a, V1.callId) || has(a, V1.modelGroup) ? 'litellm.v1.request-span' : 'litellm.v1.child';
}

/** A billing span of LiteLLM's v1 logger: the only kind the processor accepted before layouts were told apart. */
export function isLlmCallSpan(span: Span): boolean {
  return classifySpan(span).kind === 'call';
}

// ---------------------------------------------------------------------------------------------
// Conversion

/** Converts a span that {@link classifySpan} found to be a call. Never throws on odd attribute values. */
export function spanToLlmCall(span: Span, layout: Layout = callLayout(span)): LlmCall {
  return layout.startsWith('litellm.v1') ? fromV1(span, layout) : fromGenai(span, layout);
}

function callLayout(span: Span): Layout {
  const v = classifySpan(span);
  return v.kind === 'call' ? v.layout : 'genai';
}

/** `uniqueId` order (kept so that `compat` output stays the callback's): response id, call id, trace-span. */
function uniqueId(span: Span, a: Attributes, callId: string | null): string {
  return s(a, GENAI.responseId) ?? callId ?? `${span.traceId}-${span.spanId}`;
}

function fromV1(span: Span, layout: Layout): LlmCall {
  const a = span.attributes;
  const hp = parseJsonDict(a[V1.hiddenParams]);
  const fromObject = usageFromMetadataValue(a[V1.usageObject]);
  const prompt = int(a[V1.promptTokens]) ?? int(a[GENAI.inputTokens]);
  const completion = int(a[V1.completionTokens]) ?? int(a[GENAI.outputTokens]);
  const total = int(a[V1.totalTokensOld]) ?? int(a[V1.totalTokens]);
  // The usage_object's counts, overridden by the attributes that state them (same key order).
  const usage: LlmUsage = {
    promptTokens: prompt ?? fromObject.promptTokens,
    completionTokens: completion ?? fromObject.completionTokens,
    totalTokens: total ?? (prompt !== null || completion !== null ? (prompt ?? 0) + (completion ?? 0) : fromObject.totalTokens),
    // The semconv opt-in also states cache tokens as attributes.
    cachedReadTokens: fromObject.cachedReadTokens || (int(a[GENAI.cacheRead]) ?? 0),
    cacheCreationTokens: fromObject.cacheCreationTokens || (int(a[GENAI.cacheCreation]) ?? 0),
    reasoningTokens: fromObject.reasoningTokens,
  };

  const responseModel = s(a, GENAI.responseModel);
  const system = litellmProvider(s(a, V1.system) ?? s(a, GENAI.provider));
  const errorType = s(a, V1.errorType);
  const error =
    errorType !== null || span.status.code === 2
      ? classifyError({
          type: errorType,
          code: s(a, V1.errorCode),
          message: s(a, V1.errorMessage) ?? (span.status.message || null),
          provider: s(a, V1.errorProvider),
          traceback: s(a, V1.errorStack),
        })
      : null;

  // Only the metadata keys the LlmCall carries are decoded (the others cost time and are unused).
  const keyMetadata = meta(a, V1_METADATA.keyMetadata);
  const guardrails = meta(a, V1_METADATA.guardrails);
  const stream = s(a, V1.streaming) ?? s(a, GENAI.stream);
  const teamMetadata = parseJsonDict(a[V1.teamMetadata]);
  const callId = s(a, V1.callId);
  const start = span.startTimeUnixNano;
  const end = span.endTimeUnixNano;
  // Every field written here, in the order the log's decoder writes them: one hidden class for all calls.
  return {
    source: 'span',
    layout,
    id: uniqueId(span, a, callId),
    callId,
    traceId: span.traceId || null,
    spanId: span.spanId || null,
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: end.toString(),
    startTimeMs: nsToMs(start),
    durationMs: nsToMs(end - start),
    callType: s(a, V1.callType),
    // gen_ai.request.model can be empty (LiteLLM #31583); the deployment's model name is the next best.
    model: s(a, GENAI.requestModel) ?? nonEmpty(hp?.litellm_model_name) ?? s(a, V1.providerModel),
    provider: system,
    // sku = gen_ai.response.model, platform = the provider when the sku is known.
    modelMapKey: responseModel,
    modelMapProvider: responseModel !== null ? system : null,
    modelId: nonEmpty(hp?.model_id),
    modelGroup: s(a, V1.modelGroup) ?? s(a, V1.modelGroupOld),
    apiBase: nonEmpty(hp?.api_base),
    region: null,
    batch: pyTruthy(hp?.batch_models),
    n: null,
    usage,
    keyHash: strOf(meta(a, V1_METADATA.keyHash)),
    keyAlias: strOf(meta(a, V1_METADATA.keyAlias)),
    keyMetadata: isDict(keyMetadata) ? keyMetadata : null,
    teamId: strOf(meta(a, V1_METADATA.teamId)),
    teamAlias: strOf(meta(a, V1_METADATA.teamAlias)),
    teamMetadata,
    userId: strOf(meta(a, V1_METADATA.userId)),
    orgId: strOf(meta(a, V1_METADATA.orgId)),
    endUser: strOf(meta(a, V1_METADATA.endUser)),
    error,
    guardrails: Array.isArray(guardrails) ? guardrails : null,
    requestTags: null,
    responseCost: num(a[V1.cost]) ?? (typeof hp?.response_cost === 'number' ? hp.response_cost : null),
    stream: stream === null ? null : stream === 'True' || stream === 'true',
    droppedAttributes: span.droppedAttributesCount,
  };
}

/** LiteLLM v2 and other GenAI-convention spans. */
function fromGenai(span: Span, layout: Layout): LlmCall {
  const a = span.attributes;
  const litellm = layout !== 'genai';
  const provider = litellmProvider(s(a, GENAI.provider) ?? s(a, GENAI.system));
  const input = int(a[GENAI.inputTokens]) ?? int(a[GENAI.promptTokens]);
  const output = int(a[GENAI.outputTokens]) ?? int(a[GENAI.completionTokens]);
  const total = int(a[GENAI.totalTokens]);
  const usage: LlmUsage = {
    promptTokens: input ?? 0,
    completionTokens: output ?? 0,
    totalTokens: total ?? (input ?? 0) + (output ?? 0),
    cachedReadTokens: int(a[GENAI.cacheRead]) ?? 0,
    cacheCreationTokens: int(a[GENAI.cacheCreation]) ?? 0,
    reasoningTokens: 0,
  };
  const responseModel = s(a, GENAI.responseModel);
  const requestModel = s(a, GENAI.requestModel);
  // v2: gen_ai.request.model is the model group the client asked for; litellm.provider.model the deployment's model.
  const providerModel = s(a, V2.providerModel);
  const model = litellm ? (providerModel !== null ? withoutProviderPrefix(providerModel, provider) : requestModel) : (requestModel ?? responseModel);
  const host = s(a, GENAI.serverAddress);
  const port = int(a[GENAI.serverPort]);
  const streaming = bool(a[V2.streaming]) ?? bool(a[V2.legacyStreaming]) ?? bool(a[GENAI.stream]);
  const callId = s(a, V2.callId);
  const start = span.startTimeUnixNano;
  const end = span.endTimeUnixNano;
  return {
    source: 'span',
    layout,
    id: uniqueId(span, a, callId),
    callId,
    traceId: span.traceId || null,
    spanId: span.spanId || null,
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: end.toString(),
    startTimeMs: nsToMs(start),
    durationMs: nsToMs(end - start),
    callType: s(a, V2.callType) ?? s(a, V1.callType) ?? s(a, GENAI.operation),
    model,
    provider,
    modelMapKey: responseModel,
    modelMapProvider: responseModel !== null ? provider : null,
    modelId: null,
    modelGroup: litellm ? requestModel : null,
    // Only the host (and port) of the api_base is on the span: enough for the region rule.
    apiBase: host === null ? null : `https://${host}${port !== null && port !== 443 ? `:${port}` : ''}`,
    region: null,
    batch: false,
    n: null,
    usage,
    keyHash: s(a, V2.keyHash),
    keyAlias: s(a, V2.keyAlias),
    keyMetadata: null,
    teamId: s(a, V2.teamId),
    teamAlias: s(a, V2.teamAlias),
    teamMetadata: parseJsonDict(a[V2.teamMetadata]),
    userId: s(a, V2.userId),
    orgId: s(a, V2.orgId),
    endUser: s(a, V2.endUser) ?? s(a, V2.endUserId),
    error: genaiError(span, a),
    guardrails: null,
    requestTags: null,
    responseCost: num(a[V2.cost]),
    // v2 writes no streaming attribute on a call that does not stream.
    stream: streaming ?? (litellm ? false : null),
    droppedAttributes: span.droppedAttributesCount,
  };
}

function genaiError(span: Span, a: Attributes) {
  const type = s(a, GENAI.errorType);
  if (type === null && span.status.code !== 2) return null;
  const status = s(a, GENAI.httpStatus);
  const raw: RawError = {
    // v2 writes the error class, or the code when the class is unknown; the conventions allow a status code.
    type: type !== null && !/^\d{3}$/.test(type) ? type : null,
    code: s(a, V2.errorCode) ?? (type !== null && /^\d{3}$/.test(type) ? type : null) ?? status,
    message: s(a, GENAI.errorMessage) ?? (span.status.message || null),
    provider: s(a, V2.errorProvider),
    traceback: s(a, V2.errorStack),
  };
  return classifyError(raw);
}

// ---------------------------------------------------------------------------------------------
// Identity on other spans of the request

/** Team, key and user facts a span states (on any span of the request: the root, the server span). */
export interface Identity {
  teamId: string | null;
  teamAlias: string | null;
  teamMetadata: Record<string, unknown> | null;
  keyHash: string | null;
  keyAlias: string | null;
  userId: string | null;
  orgId: string | null;
  endUser: string | null;
}

/** The identity a non-billing span carries, or null when it carries none. */
export function identityOf(span: Span): Identity | null {
  const a = span.attributes;
  const id: Identity = {
    teamId: s(a, V2.teamId) ?? strOf(meta(a, V1_METADATA.teamId)),
    teamAlias: s(a, V2.teamAlias) ?? strOf(meta(a, V1_METADATA.teamAlias)),
    teamMetadata: parseJsonDict(a[V2.teamMetadata]),
    keyHash: s(a, V2.keyHash) ?? strOf(meta(a, V1_METADATA.keyHash)),
    keyAlias: s(a, V2.keyAlias) ?? strOf(meta(a, V1_METADATA.keyAlias)),
    userId: s(a, V2.userId) ?? strOf(meta(a, V1_METADATA.userId)),
    orgId: s(a, V2.orgId) ?? strOf(meta(a, V1_METADATA.orgId)),
    endUser: s(a, V2.endUser) ?? s(a, V2.endUserId) ?? strOf(meta(a, V1_METADATA.endUser)),
  };
  for (const k in id) if (id[k as keyof Identity] !== null) return id;
  return null;
}

/** Fills the identity fields a call lacks from another span of its request. Returns true when any was filled. */
export function joinIdentity(call: LlmCall, id: Identity): boolean {
  let filled = false;
  for (const k of IDENTITY_FIELDS) {
    if (call[k] === null && id[k] !== null) {
      (call as unknown as Record<string, unknown>)[k] = id[k];
      filled = true;
    }
  }
  return filled;
}
const IDENTITY_FIELDS = ['teamId', 'teamAlias', 'teamMetadata', 'keyHash', 'keyAlias', 'userId', 'orgId', 'endUser'] as const;

/**
 * The key under which duplicates of a call are recognised, or null (then trace and span ids).
 * LiteLLM reuses one call id across a router's retries and fallbacks, so the call id alone would
 * drop a successful retry after a failed attempt; but a call id has at most one successful
 * attempt, so successes are keyed by it (LiteLLM's duplicated spans of one call carry regenerated
 * response ids). Without a call id, a success is keyed by its response id. `kind` says which:
 * `c` (call id) or `r` (response id).
 */
export function dedupKey(call: LlmCall): { kind: 'c' | 'r'; value: string } | null {
  if (call.error !== null) return null;
  if (call.callId !== null) return { kind: 'c', value: call.callId };
  if (call.source === 'span' && !isTraceSpanId(call)) return { kind: 'r', value: call.id };
  return null;
}

/** Whether the call's id is the `<traceId>-<spanId>` fallback (no response id, no call id). */
function isTraceSpanId(call: LlmCall): boolean {
  const t = call.traceId ?? '';
  const sp = call.spanId ?? '';
  const id = call.id;
  return id.length === t.length + 1 + sp.length && id.charCodeAt(t.length) === 45 && id.startsWith(t) && id.endsWith(sp);
}
