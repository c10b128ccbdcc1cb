/**
 * Billing-value checks on an {@link LlmCall}, whatever its source: the absurd is refused (epoch 0,
 * far-future times, negative or imprecise token counts), real history is not (a backfill of
 * years-old logs still bills). Decisions:
 * - start time outside [earliest, now + max_future] → dropped (billing it at another time would
 *   be wrong);
 * - duration negative or above max_duration → clamped into the range (the tokens still bill; the
 *   latency is a measurement, and the clamp is counted);
 * - token counts and `n` not safe integers in [0, max_tokens] → dropped;
 * - ids and dimension strings longer than max_id_length → replaced by `sha256:<hex>` of the value
 *   (stable, so de-duplication and grouping still work; counted).
 */
import { createHash } from 'node:crypto';
import type { LlmCall } from './llm-call.js';
import { defaultBillingLimits } from '../config/service.js';

export interface LlmCallLimits {
  /** Earliest accepted start time, epoch ms. */
  earliestMs: number;
  /** How far past now a start time may be, ms (clock skew). */
  maxFutureMs: number;
  /** Longest duration kept as is, ms; longer is clamped. */
  maxDurationMs: number;
  /** Largest token count. */
  maxTokens: number;
  /** Longest id or dimension string kept as is; longer is hashed. */
  maxIdLength: number;
}

/** The limits of `service.billing_checks` left at its defaults (src/config/service.ts declares them). */
export const DEFAULT_LLM_CALL_LIMITS: Readonly<LlmCallLimits> = defaultBillingLimits();

export type DropReason = 'time_out_of_range' | 'invalid_tokens' | 'invalid_count';
export type Adjustment = 'duration_clamped' | 'id_hashed';

export type CheckResult = { ok: true; call: LlmCall; adjusted: Adjustment[] } | { ok: false; reason: DropReason; detail: string };

/** The string fields bounded by max_id_length (the id and the dimensions meter records carry). */
const BOUNDED = [
  'id',
  'callId',
  'callType',
  'model',
  'provider',
  'modelMapKey',
  'modelMapProvider',
  'modelId',
  'modelGroup',
  'apiBase',
  'region',
  'keyHash',
  'keyAlias',
  'teamId',
  'teamAlias',
  'userId',
  'orgId',
  'endUser',
] as const satisfies readonly (keyof LlmCall)[];

const TOKEN_FIELDS = ['promptTokens', 'completionTokens', 'totalTokens', 'cachedReadTokens', 'cacheCreationTokens', 'reasoningTokens'] as const;

/** A stable stand-in for an over-long string. */
export function hashId(s: string): string {
  return `sha256:${createHash('sha256').update(s).digest('hex')}`;
}

const iso = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/** Checks one call; returns it (possibly a changed copy) or why it must be dropped. */
export function checkLlmCall(call: LlmCall, limits: LlmCallLimits = DEFAULT_LLM_CALL_LIMITS, now = Date.now()): CheckResult {
  const start = call.startTimeMs;
  if (!Number.isSafeInteger(start) || start < limits.earliestMs || start > now + limits.maxFutureMs) {
    return {
      ok: false,
      reason: 'time_out_of_range',
      detail: `start time ${iso(start)} outside [${iso(limits.earliestMs)}, now + ${limits.maxFutureMs / 3600_000} h]`,
    };
  }
  for (const f of TOKEN_FIELDS) {
    const v = call.usage[f];
    if (!Number.isSafeInteger(v) || v < 0 || v > limits.maxTokens) {
      return { ok: false, reason: 'invalid_tokens', detail: `${f} ${v} is not an integer in [0, ${limits.maxTokens}]` };
    }
  }
  if (call.n !== null && (!Number.isSafeInteger(call.n) || call.n < 0 || call.n > limits.maxTokens)) {
    return { ok: false, reason: 'invalid_count', detail: `n ${call.n} is not a non-negative integer` };
  }

  const adjusted: Adjustment[] = [];
  let out = call;
  const d = call.durationMs;
  if (!Number.isFinite(d) || d < 0 || d > limits.maxDurationMs) {
    const clamped = Number.isFinite(d) && d > 0 ? limits.maxDurationMs : 0;
    let startNs: bigint;
    try {
      startNs = BigInt(out.startTimeUnixNano);
    } catch {
      startNs = BigInt(start) * 1_000_000n;
    }
    out = { ...out, durationMs: clamped, endTimeUnixNano: (startNs + BigInt(clamped) * 1_000_000n).toString() };
    adjusted.push('duration_clamped');
  }
  for (const k of BOUNDED) {
    const v = out[k];
    if (typeof v === 'string' && v.length > limits.maxIdLength) {
      if (out === call) out = { ...call };
      (out as unknown as Record<string, unknown>)[k] = hashId(v);
      if (!adjusted.includes('id_hashed')) adjusted.push('id_hashed');
    }
  }
  return { ok: true, call: out, adjusted };
}
