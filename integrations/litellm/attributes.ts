/**
 * The span attribute names LiteLLM writes, per layout, and the OpenTelemetry GenAI conventions'
 * names that LiteLLM's OTel v2 and other instrumentations (OpenLLMetry, OpenLIT, the OTel
 * OpenAI/Bedrock/Vertex instrumentations) write. No other file of the project names them.
 * Sources: LiteLLM `litellm/integrations/opentelemetry.py` (v1), `opentelemetry_utils/gen_ai_semconv.py`
 * (v1 semconv opt-in), `litellm/integrations/otel/` (v2: `model/semconv.py`, `mappers/genai.py`,
 * `mappers/legacy.py`); README.md beside this file has the table of what each layout carries.
 */

/** LiteLLM v1 (`callbacks: ["otel"]` up to today's default): the billing span carries these. */
export const V1 = {
  /** LiteLLM's call type (`acompletion`, `aembedding`, ...); its presence marks a v1 billing span. */
  callType: 'llm.request.type',
  hiddenParams: 'hidden_params',
  usageObject: 'metadata.usage_object',
  modelGroupOld: 'metadata.model_group',
  /** From 1.81 on. */
  modelGroup: 'litellm.model_group',
  providerModel: 'litellm.provider.model',
  teamMetadata: 'litellm.team.metadata',
  callId: 'litellm.call_id',
  promptTokens: 'gen_ai.usage.prompt_tokens',
  completionTokens: 'gen_ai.usage.completion_tokens',
  totalTokensOld: 'llm.usage.total_tokens',
  totalTokens: 'gen_ai.usage.total_tokens',
  system: 'gen_ai.system',
  streaming: 'llm.is_streaming',
  cost: 'gen_ai.cost.total_cost',
  errorType: 'error.type',
  errorCode: 'error.code',
  errorMessage: 'error.message',
  errorProvider: 'error.llm_provider',
  errorStack: 'error.stack_trace',
  httpStatus: 'http.response.status_code',
} as const;

/** `metadata.<key>` attributes of v1 spans that an LlmCall takes (one per StandardLoggingMetadata key). */
export const V1_METADATA = {
  keyMetadata: 'metadata.user_api_key_auth_metadata',
  keyHash: 'metadata.user_api_key_hash',
  keyAlias: 'metadata.user_api_key_alias',
  teamId: 'metadata.user_api_key_team_id',
  teamAlias: 'metadata.user_api_key_team_alias',
  userId: 'metadata.user_api_key_user_id',
  orgId: 'metadata.user_api_key_org_id',
  endUser: 'metadata.user_api_key_end_user_id',
  guardrails: 'metadata.guardrail_information',
} as const;

/** The OpenTelemetry GenAI semantic conventions (and their older names still in use). */
export const GENAI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  promptTokens: 'gen_ai.usage.prompt_tokens',
  completionTokens: 'gen_ai.usage.completion_tokens',
  totalTokens: 'gen_ai.usage.total_tokens',
  cacheRead: 'gen_ai.usage.cache_read.input_tokens',
  cacheCreation: 'gen_ai.usage.cache_creation.input_tokens',
  stream: 'gen_ai.request.stream',
  outputType: 'gen_ai.output.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  errorMessage: 'error.message',
  httpStatus: 'http.response.status_code',
} as const;

/** LiteLLM OTel v2 (`LITELLM_OTEL_V2=true`): its own attributes beside the GenAI conventions. */
export const V2 = {
  callId: 'litellm.call_id',
  callType: 'litellm.call_type',
  providerModel: 'litellm.provider.model',
  cost: 'litellm.cost.total',
  streaming: 'litellm.request.streaming',
  /** `LITELLM_OTEL_LEGACY_COMPAT` (on by default) adds this beside `litellm.request.streaming`, as a bool. */
  legacyStreaming: 'llm.is_streaming',
  /** Identity, copied onto every span of the request through OTel baggage. */
  teamId: 'litellm.team.id',
  teamAlias: 'litellm.team.alias',
  teamMetadata: 'litellm.team.metadata',
  keyHash: 'litellm.api_key.hash',
  keyAlias: 'litellm.metadata.user_api_key_alias',
  userId: 'litellm.metadata.user_api_key_user_id',
  orgId: 'litellm.metadata.user_api_key_org_id',
  endUser: 'litellm.metadata.user_api_key_end_user_id',
  endUserId: 'litellm.end_user.id',
  errorCode: 'litellm.provider.error.code',
  errorProvider: 'litellm.provider.error.llm_provider',
  errorStack: 'litellm.provider.error.stack_trace',
} as const;

/** Name of the v1 proxy's root span (kind SERVER). */
export const V1_ROOT_SPAN_NAME = 'Received Proxy Server Request';

/** OTLP span kinds. */
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;
