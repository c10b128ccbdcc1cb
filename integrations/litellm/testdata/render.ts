/**
 * Writes a {@link Scenario} as the OTLP/JSON request LiteLLM (or another GenAI instrumentation)
 * sends for it, in each layout. Self-written from LiteLLM's source (BerriAI/litellm), not captured:
 * - `litellm.v1.child`: `litellm/integrations/opentelemetry.py` as of v1.79 (@00145a6c and before):
 *   root `Received Proxy Server Request` without attributes, the `litellm_request` child with
 *   `set_attributes`, a `postgres` service span and `raw_gen_ai_request`;
 * - `litellm.v1.root`: the same file from 1.81 (the newest copy read, with `litellm.call_id`,
 *   `litellm.model_group`, `litellm.provider.model`): `_handle_success` writes onto the proxy's root
 *   span when there is one; a failed attempt ends that span, so a fallback's success is lost;
 * - `litellm.v1.request-span`: the same with `USE_OTEL_LITELLM_REQUEST_SPAN=true` (a `litellm_request`
 *   child per call; the root keeps `http.*` and the team id/alias);
 * - `litellm.v1.semconv`: with `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`
 *   (`opentelemetry_utils/gen_ai_semconv.py` @30e77781): a CLIENT `{op} {model}` span, raw
 *   `gen_ai.provider.name`, `gen_ai.request.stream` only when streaming, cache token attributes;
 * - `litellm.v2` / `litellm.v2.legacy`: `LITELLM_OTEL_V2=true` (`litellm/integrations/otel/`:
 *   `mappers/genai.py` @00e7401e, `mappers/legacy.py` @2bd05a5c, `model/semconv.py` @0012d9a7,
 *   `emitter.py` @05bac28f; the key set of `tests/integration/observability/
 *   test_arize_otel_v2_openinference_family.py` @3be676f2), with `LITELLM_OTEL_LEGACY_COMPAT`
 *   off and on (its default). Success leaves the status UNSET; a pre-call refusal has no LLM span;
 * - `genai`: the OTel GenAI conventions as the OpenAI instrumentations write them (no LiteLLM, no identity).
 */
import { createHash } from 'node:crypto';
import type { Call, Scenario } from './scenarios.js';

export const LAYOUTS = [
  'litellm.v1.child',
  'litellm.v1.root',
  'litellm.v1.request-span',
  'litellm.v1.semconv',
  'litellm.v2',
  'litellm.v2.legacy',
  'genai',
] as const;
export type FixtureLayout = (typeof LAYOUTS)[number];

type Value = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: Value[] } };
type Attr = { key: string; value: Value };
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attr[];
  status: { code?: number; message?: string };
  events?: { timeUnixNano: string; name: string; attributes: Attr[] }[];
}

const str = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });
const int = (key: string, v: number): Attr => ({ key, value: { intValue: String(v) } });
const dbl = (key: string, v: number): Attr => ({ key, value: { doubleValue: v } });
const bool = (key: string, v: boolean): Attr => ({ key, value: { boolValue: v } });
const hex = (seed: string, chars: number) => createHash('sha256').update(seed).digest('hex').slice(0, chars);

const INTERNAL = 1;
const SERVER = 2;
const CLIENT = 3;
const OK = { code: 1 };
const UNSET = {};

/** LiteLLM v2's provider names (`_PROVIDER_BY_LITELLM`). */
const V2_PROVIDER: Record<string, string> = {
  openai: 'openai',
  azure: 'azure.ai.openai',
  anthropic: 'anthropic',
  bedrock: 'aws.bedrock',
  vertex_ai: 'gcp.vertex_ai',
  gemini: 'gcp.gemini',
};
/** LiteLLM v2's operations (`_OPERATION_BY_CALL_TYPE`). */
const V2_OPERATION: Record<string, string> = { acompletion: 'chat', aembedding: 'embeddings', aimage_generation: 'generate_content' };
/** v1 semconv (`_gen_ai_operation_name`): embeddings, text_completion, else chat. */
const semconvOperation = (callType: string) =>
  callType.includes('embedding') ? 'embeddings' : callType.includes('text_completion') ? 'text_completion' : 'chat';

/** A Python repr of the usage object LiteLLM logs (`metadata.usage_object`). */
function usageRepr(c: Call): string {
  const u = c.usage;
  const parts = [`'completion_tokens': ${u.completion}`, `'prompt_tokens': ${u.prompt}`, `'total_tokens': ${u.prompt + u.completion}`];
  parts.push(`'completion_tokens_details': ${u.reasoning ? `{'reasoning_tokens': ${u.reasoning}}` : 'None'}`);
  parts.push(`'prompt_tokens_details': {'audio_tokens': None, 'cached_tokens': ${u.cacheRead ?? 0}}`);
  if (c.provider === 'anthropic') parts.push(`'cache_creation_input_tokens': ${u.cacheCreation ?? 0}`, `'cache_read_input_tokens': ${u.cacheRead ?? 0}`);
  return `{${parts.join(', ')}}`;
}

interface Ids {
  trace: string;
  span: (role: string) => string;
}

function ids(s: Scenario, layout: string): Ids {
  return { trace: hex(`trace/${s.name}/${layout}`, 32), span: (role) => hex(`span/${s.name}/${layout}/${role}`, 16) };
}

function times(c: Call, from = 0n, to = 0n) {
  return { startTimeUnixNano: String(c.startNs - from), endTimeUnixNano: String(c.startNs + c.durationNs + to) };
}

/** The request's time span: from 5 ms before the first call to 2 ms after the last. */
function requestTimes(s: Scenario) {
  const first = s.calls[0]!;
  const last = s.calls[s.calls.length - 1]!;
  return { startTimeUnixNano: String(first.startNs - 5_000_000n), endTimeUnixNano: String(last.startNs + last.durationNs + 2_000_000n) };
}

// ---------------------------------------------------------------------------------------------
// v1

interface V1Options {
  /** 1.81+: input/output token names, litellm.call_id, litellm.model_group, litellm.provider.model, http.* on failure. */
  modern: boolean;
  semconv: boolean;
}

/** `OpenTelemetry.set_attributes` of the v1 logger, then `_record_exception_on_span` on failure. */
function v1Attributes(s: Scenario, c: Call, o: V1Options, responseId: string | null): Attr[] {
  const id = s.identity;
  const a: Attr[] = [
    str('metadata.user_api_key_hash', id.keyHash),
    str('metadata.user_api_key_alias', id.keyAlias),
    str('metadata.user_api_key_team_id', id.teamId),
    str('metadata.user_api_key_team_alias', id.teamAlias),
    str('metadata.user_api_key_user_id', id.userId),
    str('metadata.user_api_key_org_id', id.orgId),
    str('metadata.user_api_key_end_user_id', ''),
    str(
      'metadata.user_api_key_auth_metadata',
      `{${Object.entries(id.keyMetadata)
        .map(([k, v]) => `'${k}': '${v}'`)
        .join(', ')}}`,
    ),
    str('metadata.user_api_key_request_route', s.route),
    str('metadata.usage_object', usageRepr(c)),
    str('metadata.applied_guardrails', '[]'),
  ];
  if (!o.modern) a.push(str('metadata.model_group', c.modelGroup));
  a.push(
    str('hidden_params', JSON.stringify({ api_base: c.apiBase, batch_models: null, litellm_model_name: c.model, model_id: c.modelId, response_cost: c.cost })),
  );
  if (o.modern) a.push(str('http.route', s.route), str('litellm.model_group', c.modelGroup), str('litellm.provider.model', c.model));
  if (!c.error) a.push(dbl('gen_ai.cost.input_cost', c.cost / 2), dbl('gen_ai.cost.output_cost', c.cost / 2), dbl('gen_ai.cost.total_cost', c.cost));
  a.push(str('gen_ai.request.model', c.model), str('llm.request.type', c.callType));
  if (o.semconv) {
    a.push(str('gen_ai.provider.name', c.error && !c.error.provider ? '' : c.provider));
    if (c.stream) a.push(bool('gen_ai.request.stream', true));
    if (c.usage.cacheCreation) a.push(int('gen_ai.usage.cache_creation.input_tokens', c.usage.cacheCreation));
    if (c.usage.cacheRead) a.push(int('gen_ai.usage.cache_read.input_tokens', c.usage.cacheRead));
  } else {
    a.push(str('gen_ai.system', c.error && !c.error.provider ? '' : c.provider), str('llm.is_streaming', c.stream ? 'True' : 'False'));
  }
  if (!c.error) {
    // ≤ 1.80: chat and text completions only; 1.81+: the payload's id when the response has none.
    const rid = responseId ?? (o.modern ? s.callId : null);
    if (rid !== null) a.push(str('gen_ai.response.id', rid));
  }
  if (o.modern) a.push(str('litellm.call_id', s.callId));
  if (c.responseModel !== null) a.push(str('gen_ai.response.model', c.responseModel));
  if (!c.error) {
    const total = c.usage.prompt + c.usage.completion;
    if (o.modern)
      a.push(int('gen_ai.usage.total_tokens', total), int('gen_ai.usage.output_tokens', c.usage.completion), int('gen_ai.usage.input_tokens', c.usage.prompt));
    else
      a.push(
        int('llm.usage.total_tokens', total),
        int('gen_ai.usage.completion_tokens', c.usage.completion),
        int('gen_ai.usage.prompt_tokens', c.usage.prompt),
      );
  }
  if (c.error) {
    a.push(str('error.code', c.error.code));
    if (o.modern && /^\d+$/.test(c.error.code)) a.push(int('http.response.status_code', Number(c.error.code)));
    a.push(
      str('error.type', c.error.class),
      str('error.message', c.error.message),
      str('error.llm_provider', c.error.provider),
      str('error.stack_trace', c.error.traceback),
    );
  }
  return a;
}

function v1Status(c: Call) {
  return c.error ? { code: 2, message: c.error.message } : OK;
}

function exceptionEvent(c: Call) {
  return c.error
    ? [
        {
          timeUnixNano: String(c.startNs + c.durationNs),
          name: 'exception',
          attributes: [str('exception.type', c.error.class), str('exception.message', c.error.message)],
        },
      ]
    : undefined;
}

function postgres(s: Scenario, i: Ids, parent: string, extra: Attr[] = [], name = 'postgres', kind = INTERNAL): OtlpSpan {
  const c = s.calls[0]!;
  return {
    traceId: i.trace,
    spanId: i.span('postgres'),
    parentSpanId: parent,
    name,
    kind,
    ...times(c, 3_000_000n, -c.durationNs - 2_000_000n),
    attributes: [str('service', 'postgres'), str('call_type', 'get_data'), ...extra],
    status: OK,
  };
}

/** LiteLLM ≤ 1.80: every call a `litellm_request` child; the root has no attributes. */
function v1Child(s: Scenario, i: Ids): OtlpSpan[] {
  const root = i.span('root');
  const spans: OtlpSpan[] = [postgres(s, i, root)];
  const copies = s.duplicated ? 2 : 1;
  s.calls.forEach((c, n) => {
    for (let k = 0; k < copies; k++) {
      const self = i.span(`call-${n}-${k}`);
      spans.push({
        traceId: i.trace,
        spanId: self,
        parentSpanId: root,
        name: 'litellm_request',
        kind: INTERNAL,
        ...times(c),
        attributes: v1Attributes(s, c, { modern: false, semconv: false }, c.responseId),
        status: v1Status(c),
        events: exceptionEvent(c),
      });
      if (!c.error && k === 0)
        spans.push({
          traceId: i.trace,
          spanId: i.span(`raw-${n}`),
          parentSpanId: self,
          name: 'raw_gen_ai_request',
          kind: INTERNAL,
          ...times(c),
          attributes: [str(`llm.${c.provider}.messages`, "[{'role': 'user', 'content': 'hi'}]")],
          status: OK,
        });
    }
  });
  spans.push({ traceId: i.trace, spanId: root, name: 'Received Proxy Server Request', kind: SERVER, ...requestTimes(s), attributes: [], status: UNSET });
  return spans;
}

/**
 * 1.81+ default: the attributes go onto the proxy's root span. The first failure ends that span
 * (`_handle_failure`), and later writes to it are lost: a fallback's success never arrives, and a
 * duplicated success writes the same span again.
 */
function v1Root(s: Scenario, i: Ids): OtlpSpan[] {
  const root = i.span('root');
  const c = s.calls.find((x) => x.error) ?? s.calls[0]!;
  const attrs = v1Attributes(s, c, { modern: true, semconv: false }, c.responseId);
  attrs.push(str('url.path', s.route), int('http.response.status_code', c.error ? Number(c.error.code) : 200));
  return [
    postgres(s, i, root),
    {
      traceId: i.trace,
      spanId: i.span('raw'),
      parentSpanId: root,
      name: 'raw_gen_ai_request',
      kind: INTERNAL,
      ...times(c),
      attributes: [str(`llm.${c.provider}.messages`, "[{'role': 'user', 'content': 'hi'}]")],
      status: OK,
    },
    {
      traceId: i.trace,
      spanId: root,
      name: 'Received Proxy Server Request',
      kind: SERVER,
      ...requestTimes(s),
      attributes: attrs,
      status: v1Status(c),
      events: exceptionEvent(c),
    },
  ];
}

/** `USE_OTEL_LITELLM_REQUEST_SPAN=true` (and the semconv opt-in, whose CLIENT span needs it). */
function v1RequestSpan(s: Scenario, i: Ids, semconv: boolean): OtlpSpan[] {
  const root = i.span('root');
  const spans: OtlpSpan[] = [postgres(s, i, root)];
  const copies = s.duplicated ? 2 : 1;
  s.calls.forEach((c, n) => {
    for (let k = 0; k < copies; k++) {
      // The duplicated span of BerriAI/litellm#31121 carries a regenerated response id.
      const responseId = c.responseId !== null && k > 0 ? `${c.responseId}-b` : c.responseId;
      spans.push({
        traceId: i.trace,
        spanId: i.span(`call-${n}-${k}`),
        parentSpanId: root,
        name: semconv ? `${semconvOperation(c.callType)} ${c.model}` : 'litellm_request',
        kind: semconv ? CLIENT : INTERNAL,
        ...times(c),
        attributes: v1Attributes(s, c, { modern: true, semconv }, responseId),
        status: v1Status(c),
        events: exceptionEvent(c),
      });
    }
  });
  const failed = s.calls.find((x) => x.error);
  const rootAttrs = [
    str('http.route', s.route),
    str('url.path', s.route),
    str('metadata.user_api_key_team_id', s.identity.teamId),
    str('metadata.user_api_key_team_alias', s.identity.teamAlias),
  ];
  rootAttrs.push(int('http.response.status_code', failed && s.calls.length === 1 ? Number(failed.error!.code) : 200));
  spans.push({
    traceId: i.trace,
    spanId: root,
    name: 'Received Proxy Server Request',
    kind: SERVER,
    ...requestTimes(s),
    attributes: rootAttrs,
    status: failed && s.calls.length === 1 ? { code: 2 } : OK,
  });
  return spans;
}

// ---------------------------------------------------------------------------------------------
// v2

/** Identity LiteLLM v2 copies onto every span started after authentication (OTel baggage). */
function baggage(s: Scenario, c: Call): Attr[] {
  const id = s.identity;
  return [
    str('litellm.team.id', id.teamId),
    str('litellm.team.alias', id.teamAlias),
    str('litellm.api_key.hash', id.keyHash),
    str('litellm.metadata.user_api_key_alias', id.keyAlias),
    str('litellm.metadata.user_api_key_user_id', id.userId),
    str('litellm.metadata.user_api_key_org_id', id.orgId),
    str('gen_ai.request.model', c.modelGroup),
    str('litellm.provider.model', `${c.provider}/${c.model}`),
  ];
}

/** `GenAIMapper` (+ `LegacyMapper`) on the LLM-call span, then `stamp_error`. */
function v2LlmSpan(s: Scenario, i: Ids, c: Call, parent: string, role: string, legacy: boolean, responseId: string | null): OtlpSpan {
  const op = V2_OPERATION[c.callType] ?? 'chat';
  const provider = V2_PROVIDER[c.provider] ?? c.provider;
  const host = new URL(c.apiBase).hostname;
  const a: Attr[] = [str('gen_ai.operation.name', op), str('gen_ai.provider.name', provider)];
  if (c.callType === 'aimage_generation') a.push(str('gen_ai.output.type', 'image'));
  if (c.responseModel !== null) a.push(str('gen_ai.response.model', c.responseModel));
  if (!c.error && responseId !== null) a.push(str('gen_ai.response.id', responseId));
  if (!c.error) {
    a.push(int('gen_ai.usage.input_tokens', c.usage.prompt), int('gen_ai.usage.output_tokens', c.usage.completion));
    if (c.usage.cacheCreation) a.push(int('gen_ai.usage.cache_creation.input_tokens', c.usage.cacheCreation));
    if (c.usage.cacheRead) a.push(int('gen_ai.usage.cache_read.input_tokens', c.usage.cacheRead));
  }
  a.push(
    str('server.address', host),
    int('server.port', 443),
    str('litellm.call_id', s.callId),
    str('litellm.call_type', c.callType),
    str('litellm.provider.model', `${c.provider}/${c.model}`),
  );
  if (!c.error) a.push(dbl('litellm.cost.total', c.cost), dbl('litellm.cost.input', c.cost / 2), dbl('litellm.cost.output', c.cost / 2));
  if (c.stream) a.push(bool('litellm.request.streaming', true));
  a.push(str('litellm.request.route', s.route));
  if (legacy) {
    a.push(str('gen_ai.system', provider));
    if (!c.error)
      a.push(
        int('gen_ai.usage.prompt_tokens', c.usage.prompt),
        int('gen_ai.usage.completion_tokens', c.usage.completion),
        int('gen_ai.usage.total_tokens', c.usage.prompt + c.usage.completion),
      );
    if (c.stream) a.push(bool('llm.is_streaming', true));
  }
  a.push(...baggage(s, c));
  if (c.error) {
    a.push(str('error.type', c.error.class), str('error.message', c.error.message), str('litellm.provider.error.code', c.error.code));
    a.push(str('litellm.provider.error.stack_trace', c.error.traceback));
    if (c.error.provider) a.push(str('litellm.provider.error.llm_provider', c.error.provider));
  }
  return {
    traceId: i.trace,
    spanId: i.span(role),
    parentSpanId: parent,
    name: `${op} ${c.modelGroup}`,
    kind: CLIENT,
    ...times(c),
    attributes: a,
    status: c.error ? { code: 2, message: c.error.message } : UNSET,
    events: exceptionEvent(c),
  };
}

function v2(s: Scenario, i: Ids, legacy: boolean): OtlpSpan[] {
  const server = i.span('server');
  const first = s.calls[0]!;
  const spans: OtlpSpan[] = [
    {
      traceId: i.trace,
      spanId: i.span('auth'),
      parentSpanId: server,
      name: 'auth',
      kind: INTERNAL,
      ...times(first, 4_000_000n, -first.durationNs - 3_000_000n),
      attributes: [],
      status: UNSET,
    },
    postgres(s, i, server, [str('db.system.name', 'postgresql'), ...baggage(s, first)], 'postgres.select LiteLLM_VerificationToken', CLIENT),
  ];
  if (s.proxyRefusal) {
    const c = first;
    spans.push({
      traceId: i.trace,
      spanId: i.span('guardrail'),
      parentSpanId: server,
      name: 'execute_guardrail openai-moderation',
      kind: INTERNAL,
      ...times(c),
      attributes: [
        str('litellm.guardrail.name', 'openai-moderation'),
        str('litellm.guardrail.status', 'guardrail_intervened'),
        dbl('litellm.cost.guardrail', 0.0001),
        ...baggage(s, c),
      ],
      status: { code: 2, message: 'guardrail_intervened' },
    });
  } else {
    const copies = s.duplicated ? 2 : 1;
    s.calls.forEach((c, n) => {
      for (let k = 0; k < copies; k++)
        spans.push(v2LlmSpan(s, i, c, server, `call-${n}-${k}`, legacy, c.responseId !== null && k > 0 ? `${c.responseId}-b` : c.responseId));
    });
    if (s.name === 'completion') {
      // An MCP tool call of the same request: it has a cost, and it is not an LLM call.
      spans.push({
        traceId: i.trace,
        spanId: i.span('mcp'),
        parentSpanId: server,
        name: 'tools/call get_weather',
        kind: CLIENT,
        ...times(first),
        attributes: [
          str('gen_ai.operation.name', 'execute_tool'),
          str('gen_ai.tool.name', 'get_weather'),
          str('mcp.method.name', 'tools/call'),
          str('litellm.call_id', 'a0b1c2d3-0000-4000-8000-00000000mcp1'),
          dbl('litellm.cost.total', 0.001),
          ...baggage(s, first),
        ],
        status: UNSET,
      });
    }
  }
  const refused = s.proxyRefusal ? first.error! : null;
  const serverAttrs = [
    str('http.request.method', 'POST'),
    str('http.route', s.route),
    str('url.path', s.route),
    int('http.response.status_code', refused ? Number(refused.code) : 200),
  ];
  if (refused) serverAttrs.push(str('error.type', refused.class), str('error.message', refused.message));
  spans.push({
    traceId: i.trace,
    spanId: server,
    name: `POST ${s.route}`,
    kind: SERVER,
    ...requestTimes(s),
    attributes: serverAttrs,
    status: refused ? { code: 2, message: refused.message } : UNSET,
  });
  return spans;
}

// ---------------------------------------------------------------------------------------------
// Other GenAI instrumentations

function genai(s: Scenario, i: Ids): OtlpSpan[] {
  if (s.proxyRefusal) return []; // a LiteLLM guardrail: nothing another instrumentation sees
  const app = i.span('app');
  const spans: OtlpSpan[] = [];
  const copies = s.duplicated ? 2 : 1;
  s.calls.forEach((c, n) => {
    const op = c.callType === 'aembedding' ? 'embeddings' : c.callType === 'aimage_generation' ? 'generate_content' : 'chat';
    for (let k = 0; k < copies; k++) {
      const a: Attr[] = [
        str('gen_ai.operation.name', op),
        str('gen_ai.system', V2_PROVIDER[c.provider] ?? c.provider),
        str('gen_ai.request.model', c.model),
        str('server.address', new URL(c.apiBase).hostname),
      ];
      if (c.stream) a.push(bool('gen_ai.request.stream', true));
      if (!c.error) {
        if (c.responseModel !== null) a.push(str('gen_ai.response.model', c.responseModel));
        if (c.responseId !== null) a.push(str('gen_ai.response.id', c.responseId));
        a.push(int('gen_ai.usage.input_tokens', c.usage.prompt), int('gen_ai.usage.output_tokens', c.usage.completion));
        if (c.usage.cacheRead) a.push(int('gen_ai.usage.cache_read.input_tokens', c.usage.cacheRead));
        if (c.usage.cacheCreation) a.push(int('gen_ai.usage.cache_creation.input_tokens', c.usage.cacheCreation));
      } else a.push(str('error.type', c.error.class));
      spans.push({
        traceId: i.trace,
        spanId: i.span(`call-${n}-${k}`),
        parentSpanId: app,
        name: `${op} ${c.model}`,
        kind: CLIENT,
        ...times(c),
        attributes: a,
        status: c.error ? { code: 2, message: c.error.message } : UNSET,
      });
    }
  });
  spans.push({ traceId: i.trace, spanId: app, name: 'handle_request', kind: INTERNAL, ...requestTimes(s), attributes: [], status: UNSET });
  return spans;
}

/** The OTLP/JSON `ExportTraceServiceRequest` of a scenario in a layout. */
export function render(s: Scenario, layout: FixtureLayout): object {
  const i = ids(s, layout);
  const spans =
    layout === 'litellm.v1.child'
      ? v1Child(s, i)
      : layout === 'litellm.v1.root'
        ? v1Root(s, i)
        : layout === 'litellm.v1.request-span'
          ? v1RequestSpan(s, i, false)
          : layout === 'litellm.v1.semconv'
            ? v1RequestSpan(s, i, true)
            : layout === 'litellm.v2'
              ? v2(s, i, false)
              : layout === 'litellm.v2.legacy'
                ? v2(s, i, true)
                : genai(s, i);
  const litellm = layout !== 'genai';
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            str('service.name', litellm ? 'litellm' : 'chat-app'),
            str('telemetry.sdk.language', 'python'),
            str('telemetry.sdk.name', 'opentelemetry'),
          ],
        },
        scopeSpans: [
          {
            scope: { name: litellm ? 'litellm' : 'opentelemetry.instrumentation.openai_v2' },
            spans: spans.map((sp) => (sp.events === undefined ? (({ events: _, ...rest }) => rest)(sp) : sp)),
          },
        ],
      },
    ],
  };
}
