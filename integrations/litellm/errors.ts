/**
 * LiteLLM's failures, classified into the normalised fields of {@link LlmError}: the rate limit a
 * 429 names, the guardrail a 400 names, and the proxy's authorisation refusal. The message formats
 * are LiteLLM's and its providers' (the parity reference is Amberflo's callback, litellm-logging-callback
 * @8710dc0 `amberflo/transformer.py`, `_extract_error_details`).
 */
import type { LlmError } from '../../src/data/llm-call.js';

/** OpenAI's 429: `Rate limit reached for gpt-4o-mini in organization org-… on requests per min (RPM): Limit 3, …`. */
const OPENAI_429 = /Rate limit reached .* on .*\(([^:]+)\): Limit (\d+)/;
/** LiteLLM's own 429 (a key, team or user budget): `Rate limit exceeded for key: … Limit type: requests … Current limit: 10`. */
const LITELLM_429 = /Rate limit exceeded for (\w+):.+Limit type: (\w+).+Current limit: (\d+)/;
/** 400 messages of LiteLLM's content guardrails, by prefix. */
const GUARDRAILS: [prefix: string, kind: string][] = [
  ["400: {'error': 'Content blocked: ", 'litellm-content-filter'],
  ["400: {'error': 'Violated OpenAI moderation policy'", 'openai-moderation'],
];

/** The raw facts a LiteLLM layout states about a failure, before classification. */
export interface RawError {
  type: string | null;
  code: string | null;
  message: string | null;
  provider: string | null;
  traceback: string | null;
}

/** A failure with its classification (never throws; unknown formats leave the fields null). */
export function classifyError(raw: RawError): LlmError {
  // Every field in the order the log's decoder writes them (one hidden class for all errors).
  const e: LlmError = {
    type: raw.type,
    code: raw.code,
    message: raw.message,
    provider: raw.provider,
    traceback: raw.traceback,
    limitSubject: null,
    limitRate: null,
    limitValue: null,
    guardrail: null,
  };
  const message = raw.message ?? '';
  if (raw.code === '429') {
    if (raw.provider === 'openai') {
      const m = OPENAI_429.exec(message);
      if (m) {
        e.limitSubject = 'provider';
        e.limitRate = m[1]!.toLowerCase();
        e.limitValue = m[2]!;
      }
    } else {
      const m = LITELLM_429.exec(message);
      if (m) {
        e.limitSubject = m[1]!;
        e.limitRate = m[2] === 'requests' ? 'rpm' : 'tpm';
        e.limitValue = m[3]!;
      }
    }
  } else if (raw.code === '400') {
    for (const [prefix, kind] of GUARDRAILS) {
      if (message.startsWith(prefix)) {
        e.guardrail = kind;
        break;
      }
    }
  }
  // The proxy refuses a model the key may not call with a ProxyException raised in
  // `_can_object_call_model`, whose code it leaves unset: it is an authorisation failure.
  if (raw.type === 'ProxyException' && (raw.traceback ?? '').includes('_can_object_call_model')) e.code = '401';
  return e;
}
