/**
 * Provider names and operations as LiteLLM and the OTel GenAI conventions spell them.
 *
 * `LlmCall.provider` holds LiteLLM's `custom_llm_provider` spelling (`bedrock`, `azure`,
 * `vertex_ai`), which the v1 layouts and LiteLLM's logs carry and which downstream mappings key on.
 * LiteLLM's OTel v2 writes the GenAI conventions' names instead (`aws.bedrock`, `azure.ai.openai`),
 * from its own table (`litellm/integrations/otel/model/semconv.py`, `_PROVIDER_BY_LITELLM`): that
 * table is inverted here, with the conventions' other well-known values beside it.
 */

/** GenAI `gen_ai.provider.name` / `gen_ai.system` value → LiteLLM provider name. */
const TO_LITELLM: Readonly<Record<string, string>> = {
  // LiteLLM v2's table, inverted (where several LiteLLM names map to one, the first is used).
  'azure.ai.openai': 'azure',
  'azure.ai.inference': 'azure_ai',
  'aws.bedrock': 'bedrock',
  'gcp.vertex_ai': 'vertex_ai',
  'gcp.gemini': 'gemini',
  mistral_ai: 'mistral',
  x_ai: 'xai',
  'ibm.watsonx.ai': 'watsonx',
  // Other values of the GenAI conventions and of instrumentations that follow older drafts.
  'az.ai.openai': 'azure',
  'az.ai.inference': 'azure_ai',
  'gcp.gen_ai': 'vertex_ai',
  vertex_ai: 'vertex_ai',
  openai: 'openai',
  OpenAI: 'openai',
  Anthropic: 'anthropic',
  Bedrock: 'bedrock',
  AWS: 'bedrock',
  'Azure OpenAI': 'azure',
  Gemini: 'gemini',
  VertexAI: 'vertex_ai',
  MistralAI: 'mistral',
  Cohere: 'cohere',
  Groq: 'groq',
};

/**
 * LiteLLM's spelling of a provider name written either way; names LiteLLM itself uses (and any
 * unknown name) are kept as they are.
 */
export function litellmProvider(name: string | null): string | null {
  if (name === null) return null;
  return Object.hasOwn(TO_LITELLM, name) ? TO_LITELLM[name]! : name;
}

/**
 * The model LiteLLM sent to the provider, as v1 writes it (`gpt-4o`, `anthropic.claude-3-5-haiku…`):
 * v2's `litellm.provider.model` may carry LiteLLM's routing prefix (`azure/my-deployment`,
 * `bedrock/anthropic.claude…`), which v1's `gen_ai.request.model` does not.
 */
export function withoutProviderPrefix(model: string, provider: string | null): string {
  const i = model.indexOf('/');
  if (i <= 0) return model;
  const head = model.slice(0, i);
  return head === provider || KNOWN_PREFIXES.has(head) ? model.slice(i + 1) : model;
}

/** LiteLLM provider names that appear as `<provider>/` routing prefixes of model names. */
const KNOWN_PREFIXES: ReadonlySet<string> = new Set([
  'openai',
  'azure',
  'azure_ai',
  'anthropic',
  'bedrock',
  'bedrock_converse',
  'vertex_ai',
  'vertex_ai_beta',
  'gemini',
  'cohere',
  'cohere_chat',
  'mistral',
  'deepseek',
  'groq',
  'perplexity',
  'xai',
  'watsonx',
  'text-completion-openai',
  'openrouter',
  'together_ai',
  'fireworks_ai',
  'hosted_vllm',
  'ollama',
  'ollama_chat',
  'sagemaker',
  'databricks',
]);

/**
 * What a GenAI `gen_ai.operation.name` means for billing. LiteLLM v2 derives it from its call type
 * (`_OPERATION_BY_CALL_TYPE`; unknown call types become `chat`); other instrumentations write the
 * conventions' values.
 * - `bill`: an LLM call (chat, completions, embeddings, image/speech/transcription/OCR generation,
 *   retrieval, agent invocation, moderation);
 * - `skip`: a span of the request that is not an LLM call (tool execution, management of stored
 *   responses and vector stores, agent creation), never billed even when it carries a cost.
 */
export function operationKind(op: string): 'bill' | 'skip' | 'unknown' {
  if (BILLED_OPERATIONS.has(op)) return 'bill';
  if (SKIPPED_OPERATIONS.has(op)) return 'skip';
  return 'unknown';
}

const BILLED_OPERATIONS: ReadonlySet<string> = new Set([
  'chat',
  'text_completion',
  'embeddings',
  'generate_content',
  'retrieval',
  'invoke_agent',
  'litellm.moderation',
]);
const SKIPPED_OPERATIONS: ReadonlySet<string> = new Set([
  'execute_tool',
  'create_agent',
  'litellm.responses_management',
  'litellm.vector_store_management',
  'litellm.vector_store_file_management',
  'litellm.guardrail',
]);

/**
 * LiteLLM call types that are not LLM calls (MCP tool calls and listings): never billed, in
 * any layout, although LiteLLM logs them like calls and gives them a cost.
 */
export const UNBILLED_CALL_TYPES: ReadonlySet<string> = new Set(['call_mcp_tool', 'list_mcp_tools']);
