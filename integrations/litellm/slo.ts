/**
 * StandardLoggingPayload (LiteLLM's `standard_logging_object`, what its `s3_v2`, `gcs_bucket` and
 * `generic_api` loggers write) → {@link LlmCall}. Field choices follow the Amberflo callback
 * (litellm-logging-callback @8710dc0 `amberflo/transformer.py`) so that `mode: compat` reproduces it:
 * usage from `metadata.usage_object`, region host from the top-level `api_base`, sku/platform from
 * `model_map_information.model_map_value`, errors from `error_information`.
 */
import type { LlmCall, LlmError } from '../../src/data/llm-call.js';
import { classifyError } from './errors.js';
import { isDict, pyRound, pyStr, pyTruthy, secondsToNanos, usageFromObject, type Dict } from './values.js';

/** The payload cannot be turned into an LLM call; the message says why. */
export class SloError extends Error {
  override name = 'SloError';
}

const strOrNull = (v: unknown): string | null => pyStr(v);
const nonEmpty = (v: unknown): string | null => {
  const s = pyStr(v);
  return s === '' ? null : s;
};

/** Converts one StandardLoggingPayload object. Throws {@link SloError} when it is not one. */
export function sloToLlmCall(slo: unknown): LlmCall {
  if (!isDict(slo)) throw new SloError('not a JSON object');
  const start = slo.startTime;
  const end = slo.endTime;
  if (typeof start !== 'number' || !Number.isFinite(start)) throw new SloError('startTime is missing or not a number');
  if (typeof end !== 'number' || !Number.isFinite(end)) throw new SloError('endTime is missing or not a number');
  const id = nonEmpty(slo.id) ?? nonEmpty(slo.trace_id);
  if (id === null) throw new SloError('id is missing');
  if (!('metadata' in slo) && !('call_type' in slo)) throw new SloError('neither metadata nor call_type: not a StandardLoggingPayload');

  const md: Dict = isDict(slo.metadata) ? slo.metadata : {};
  const hp: Dict | null = isDict(slo.hidden_params) ? slo.hidden_params : null;
  const mmi = isDict(slo.model_map_information) ? slo.model_map_information : {};
  const mmv = mmi.model_map_value;
  const modelInfo = pyTruthy(mmv) && isDict(mmv) ? mmv : null;
  const mp = slo.model_parameters;
  let n: number | null = null;
  if (pyTruthy(mp) && isDict(mp) && 'n' in mp) {
    n = typeof mp.n === 'number' ? mp.n : mp.n === null ? 0 : null;
  }

  return {
    source: 'slo',
    layout: 'litellm.slo',
    id,
    callId: nonEmpty(slo.litellm_call_id),
    traceId: null,
    spanId: null,
    startTimeUnixNano: secondsToNanos(start),
    endTimeUnixNano: secondsToNanos(end),
    startTimeMs: pyRound(start * 1000),
    durationMs: pyRound((end - start) * 1000),
    callType: strOrNull(slo.call_type),
    model: strOrNull(slo.model),
    provider: strOrNull(slo.custom_llm_provider),
    modelMapKey: modelInfo ? strOrNull(modelInfo.key) : null,
    modelMapProvider: modelInfo ? strOrNull(modelInfo.litellm_provider) : null,
    modelId: nonEmpty(hp?.model_id) ?? nonEmpty(slo.model_id),
    modelGroup: nonEmpty(slo.model_group),
    apiBase: nonEmpty(slo.api_base),
    region: null,
    batch: pyTruthy(hp?.batch_models),
    n,
    usage: usageFromObject(md.usage_object),
    keyHash: nonEmpty(md.user_api_key_hash),
    keyAlias: strOrNull(md.user_api_key_alias),
    keyMetadata: isDict(md.user_api_key_auth_metadata) ? md.user_api_key_auth_metadata : null,
    teamId: strOrNull(md.user_api_key_team_id),
    teamAlias: strOrNull(md.user_api_key_team_alias),
    teamMetadata: null,
    userId: strOrNull(md.user_api_key_user_id),
    orgId: nonEmpty(md.user_api_key_org_id),
    endUser: nonEmpty(slo.end_user) ?? nonEmpty(md.user_api_key_end_user_id),
    error: errorFrom(slo.error_information),
    guardrails: Array.isArray(slo.guardrail_information) ? slo.guardrail_information : isDict(slo.guardrail_information) ? [slo.guardrail_information] : null,
    requestTags: Array.isArray(slo.request_tags) ? slo.request_tags.filter((t): t is string => typeof t === 'string') : null,
    responseCost: typeof slo.response_cost === 'number' ? slo.response_cost : null,
    stream: typeof slo.stream === 'boolean' ? slo.stream : isDict(mp) && typeof mp.stream === 'boolean' ? mp.stream : null,
    droppedAttributes: 0,
  };
}

function errorFrom(ei: unknown): LlmError | null {
  if (!isDict(ei) || !pyTruthy(ei.error_class)) return null;
  return classifyError({
    type: strOrNull(ei.error_class),
    code: strOrNull(ei.error_code),
    message: strOrNull(ei.error_message),
    provider: strOrNull(ei.llm_provider),
    traceback: strOrNull(ei.traceback),
  });
}
