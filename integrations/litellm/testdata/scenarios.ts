/**
 * The LLM calls of the layout fixtures: each scenario is one proxy request (one or more calls)
 * described once, independent of how LiteLLM lays it out; render.ts writes it in every layout.
 */

export interface Usage {
  prompt: number;
  completion: number;
  /** Prompt tokens read from the provider's cache (part of `prompt`). */
  cacheRead?: number;
  /** Prompt tokens written to the cache (part of `prompt`). */
  cacheCreation?: number;
  reasoning?: number;
}

export interface CallError {
  /** Exception class (`error_information.error_class`). */
  class: string;
  code: string;
  message: string;
  provider: string;
  traceback: string;
}

/** One call LiteLLM made (an attempt, for fallbacks). */
export interface Call {
  /** LiteLLM's call type (`acompletion`, `aembedding`, `aimage_generation`). */
  callType: string;
  /** LiteLLM's `custom_llm_provider`. */
  provider: string;
  /** The model LiteLLM sent to the provider, without a routing prefix. */
  model: string;
  /** The model group the client asked for. */
  modelGroup: string;
  /** The deployment's id (`hidden_params.model_id`). */
  modelId: string;
  apiBase: string;
  responseModel: string | null;
  /** The provider's response id (chat and text completions, images on some providers). */
  responseId: string | null;
  stream: boolean;
  usage: Usage;
  cost: number;
  error?: CallError;
  startNs: bigint;
  durationNs: bigint;
}

export interface Identity {
  teamId: string;
  teamAlias: string;
  keyHash: string;
  keyAlias: string;
  userId: string;
  orgId: string;
  /** Key metadata (`user_api_key_auth_metadata`): only the v1 layouts carry it. */
  keyMetadata: Record<string, string>;
}

export interface Scenario {
  name: string;
  what: string;
  /** LiteLLM's call id (`litellm_call_id`), shared by every attempt of the request. */
  callId: string;
  route: string;
  identity: Identity;
  calls: Call[];
  /**
   * The proxy refused the request before any LLM call (a pre-call guardrail): v1 logs it as a
   * failed call; v2 has no LLM span for it (the error is on the server span only).
   */
  proxyRefusal?: boolean;
  /** LiteLLM sent the call's span twice (BerriAI/litellm#31121: two span ids; from 1.81 on, regenerated response ids). */
  duplicated?: boolean;
}

const T0 = 1_764_355_422_941_051_904n;
const SEC = 1_000_000_000n;

const teamA: Identity = {
  teamId: 'team-a',
  teamAlias: 'Research',
  keyHash: '88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b',
  keyAlias: 'research-prod',
  userId: 'user-7',
  orgId: 'org-1',
  keyMetadata: { business_unit_id: 'bu-science' },
};

const openai = (over: Partial<Call>): Call => ({
  callType: 'acompletion',
  provider: 'openai',
  model: 'gpt-4o',
  modelGroup: 'gpt-4o',
  modelId: 'e78e6819-ff4e-4db6-8126-99157a2ff4a9',
  apiBase: 'https://api.openai.com',
  responseModel: 'gpt-4o-2024-08-06',
  responseId: 'chatcmpl-FixLayout01',
  stream: false,
  usage: { prompt: 11, completion: 2 },
  cost: 4.75e-5,
  startNs: T0,
  durationNs: 3n * SEC + 490_752_000n,
  ...over,
});

const traceback = (fn: string) =>
  `Traceback (most recent call last):\n  File "/usr/lib/python3.13/site-packages/litellm/main.py", line 516, in ${fn}\n    response = await init_response\n`;

export const SCENARIOS: Scenario[] = [
  {
    name: 'completion',
    what: 'a chat completion on OpenAI',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e01',
    route: '/v1/chat/completions',
    identity: teamA,
    calls: [openai({})],
  },
  {
    name: 'streaming',
    what: 'a streamed chat completion on Bedrock (provider name, routing prefix and region differ by layout)',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e02',
    route: '/v1/chat/completions',
    identity: teamA,
    calls: [
      openai({
        provider: 'bedrock',
        model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
        modelGroup: 'claude-haiku',
        apiBase: 'https://bedrock-runtime.us-east-1.amazonaws.com',
        responseModel: 'anthropic.claude-3-5-haiku-20241022-v1:0',
        responseId: 'chatcmpl-eb9a0e70-588d-4b9d-b850-eb56381d2b02',
        stream: true,
        usage: { prompt: 11, completion: 106 },
        cost: 4.328e-4,
      }),
    ],
  },
  {
    name: 'embedding',
    what: 'an embedding on OpenAI (no response id: LiteLLM v1.79 writes none for embeddings)',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e03',
    route: '/v1/embeddings',
    identity: teamA,
    calls: [
      openai({
        callType: 'aembedding',
        model: 'text-embedding-3-small',
        modelGroup: 'text-embedding-3-small',
        responseModel: 'text-embedding-3-small',
        responseId: null,
        usage: { prompt: 8, completion: 0 },
        cost: 1.6e-7,
      }),
    ],
  },
  {
    name: 'image',
    what: 'an image generation on OpenAI (n images, image tokens)',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e04',
    route: '/v1/images/generations',
    identity: teamA,
    calls: [
      openai({
        callType: 'aimage_generation',
        model: 'gpt-image-1',
        modelGroup: 'gpt-image-1',
        responseModel: null,
        responseId: '7b211caf-6302-44b2-bad8-4823b2baea04',
        usage: { prompt: 28, completion: 8320 },
        cost: 0.0834,
      }),
    ],
  },
  {
    name: 'cached-prompt',
    what: 'an Anthropic completion that read and wrote the prompt cache',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e05',
    route: '/v1/chat/completions',
    identity: teamA,
    calls: [
      openai({
        provider: 'anthropic',
        model: 'claude-sonnet-4-20250514',
        modelGroup: 'claude-sonnet',
        apiBase: 'https://api.anthropic.com',
        responseModel: 'claude-sonnet-4-20250514',
        responseId: 'chatcmpl-0c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e05',
        usage: { prompt: 2000, completion: 150, cacheRead: 1500, cacheCreation: 300 },
        cost: 0.00291,
      }),
    ],
  },
  {
    name: 'rate-limit',
    what: "OpenAI's 429 (tokens per minute)",
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e06',
    route: '/v1/chat/completions',
    identity: teamA,
    calls: [
      openai({
        responseModel: null,
        responseId: null,
        usage: { prompt: 0, completion: 0 },
        cost: 0,
        durationNs: 412_000_000n,
        error: {
          class: 'RateLimitError',
          code: '429',
          message:
            'litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29980, Requested 120.',
          provider: 'openai',
          traceback: traceback('acompletion'),
        },
      }),
    ],
  },
  {
    name: 'server-error',
    what: "the provider's 500",
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e07',
    route: '/v1/chat/completions',
    identity: teamA,
    calls: [
      openai({
        responseModel: null,
        responseId: null,
        usage: { prompt: 0, completion: 0 },
        cost: 0,
        durationNs: 1_204_000_000n,
        error: {
          class: 'InternalServerError',
          code: '500',
          message: 'litellm.InternalServerError: OpenAIException - The server had an error while processing your request.',
          provider: 'openai',
          traceback: traceback('acompletion'),
        },
      }),
    ],
  },
  {
    name: 'guardrail-failure',
    what: 'a request the OpenAI moderation guardrail refused before any LLM call',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e08',
    route: '/v1/chat/completions',
    identity: teamA,
    proxyRefusal: true,
    calls: [
      openai({
        model: 'gpt-4o-mini',
        modelGroup: 'gpt-4o-mini',
        responseModel: null,
        responseId: null,
        stream: true,
        usage: { prompt: 0, completion: 0 },
        cost: 0,
        durationNs: 96_000_000n,
        error: {
          class: 'HTTPException',
          code: '400',
          message: "400: {'error': 'Violated OpenAI moderation policy', 'moderation_result': {'violated_categories': ['harassment']}}",
          provider: '',
          traceback: '  File "/usr/lib/python3.13/site-packages/litellm/proxy/proxy_server.py", line 4915, in chat_completion\n',
        },
      }),
    ],
  },
  {
    name: 'fallback',
    what: 'a router fallback: gpt-4o answers 429, the fallback group gpt-4o-mini answers (one call id for both attempts)',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e09',
    route: '/v1/chat/completions',
    identity: teamA,
    calls: [
      openai({
        responseModel: null,
        responseId: null,
        usage: { prompt: 0, completion: 0 },
        cost: 0,
        durationNs: 300_000_000n,
        error: {
          class: 'RateLimitError',
          code: '429',
          message:
            'litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for gpt-4o in organization org-abc on requests per min (RPM): Limit 500, Used 500, Requested 1.',
          provider: 'openai',
          traceback: traceback('acompletion'),
        },
      }),
      openai({
        model: 'gpt-4o-mini',
        modelGroup: 'gpt-4o-mini',
        modelId: '1c9a4d2e-7b3f-4e8a-9d6c-5b4a3f2e1d09',
        responseModel: 'gpt-4o-mini-2024-07-18',
        responseId: 'chatcmpl-FixFallback09',
        usage: { prompt: 14, completion: 5 },
        cost: 5.1e-6,
        startNs: T0 + 320_000_000n,
        durationNs: 800_000_000n,
      }),
    ],
  },
  {
    name: 'duplicate-span',
    what: 'one completion whose span LiteLLM sent twice',
    callId: '6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e10',
    route: '/v1/messages',
    identity: teamA,
    duplicated: true,
    calls: [openai({ responseId: 'chatcmpl-FixDuplicate10' })],
  },
];
