/**
 * A month-end world for report and reconcile tests: LLM calls over a few days, teams, keys and
 * models (errors, cached tokens, image generation among them), the meter records the amberflo
 * processor makes of them, cut into objects as the batch processor would, and the usage an
 * independent oracle expects from the calls themselves.
 */
import type { LlmCall } from '../../src/data/llm-call.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import type { EncodedObject } from '../../src/output/encode.js';
import { encodeBatch } from '../../integrations/amberflo/objects.js';
import { toMeterRecords } from '../../integrations/amberflo/mapping.js';
import { llmCall } from './llm-call.js';

export const DAY0 = Date.UTC(2026, 9, 3); // 2026-10-03, a past day
const DAY = 86_400_000;

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEAMS = ['team-a', 'team-b', null];
const KEYS = ['key-1', 'key-2'];
const MODELS = ['gpt-4o', 'claude-sonnet', 'gemini-pro'];

/** `n` calls over `days` days from DAY0, in time order. */
export function makeCalls(n: number, seed = 1, days = 3): LlmCall[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const calls: LlmCall[] = [];
  for (let i = 0; i < n; i++) {
    const t = DAY0 + Math.floor((i / n) * days * DAY) + Math.floor(r() * 1000);
    const image = r() < 0.05;
    const failed = !image && r() < 0.08;
    const prompt = failed ? 0 : 10 + Math.floor(r() * 2000);
    const cached = failed || image ? 0 : Math.floor(r() * prompt * (r() < 0.3 ? 1 : 0));
    const completion = failed ? 0 : 1 + Math.floor(r() * 500);
    calls.push(
      llmCall({
        id: `chatcmpl-${seed}-${String(i).padStart(6, '0')}`,
        startTimeMs: t,
        startTimeUnixNano: `${t}000000`,
        endTimeUnixNano: `${t + 1000}000000`,
        durationMs: failed ? 5 + Math.floor(r() * 50) : 100 + Math.floor(r() * 5000),
        callType: image ? 'aimage_generation' : 'acompletion',
        model: image ? 'dall-e-3' : pick(MODELS),
        provider: 'openai',
        teamId: pick(TEAMS),
        keyAlias: pick(KEYS),
        keyHash: `hash-${Math.floor(r() * 2)}`,
        n: image ? 1 + Math.floor(r() * 3) : null,
        usage: {
          promptTokens: prompt,
          completionTokens: completion,
          totalTokens: prompt + completion,
          cachedReadTokens: cached,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
        },
        error: failed
          ? {
              type: 'RateLimitError',
              code: '429',
              message: 'rate limited',
              provider: 'openai',
              traceback: null,
              limitSubject: null,
              limitRate: null,
              limitValue: null,
              guardrail: null,
            }
          : null,
      }),
    );
  }
  return calls;
}

export const MAPPING = { mode: 'clean', hostedEnv: 'prod', sendObjectMetadata: false } as const;

/** The records of calls, cut into objects of about `callsPerObject` calls each (time order). */
export function objectsOf(
  calls: readonly LlmCall[],
  callsPerObject = 20,
  path = 'litellm-metering',
): { obj: EncodedObject; calls: LlmCall[]; records: MeterRecord[] }[] {
  const out: { obj: EncodedObject; calls: LlmCall[]; records: MeterRecord[] }[] = [];
  for (let i = 0; i < calls.length; i += callsPerObject) {
    const group = calls.slice(i, i + callsPerObject);
    const records = group.flatMap((c) => toMeterRecords(c, MAPPING));
    out.push({ obj: encodeBatch(records, { path }), calls: group, records });
  }
  return out;
}

/** The usage rows expected from the calls (computed from the calls, not from their records). */
export function expectedUsage(calls: readonly LlmCall[], fromMs = -Infinity, toMs = Infinity): Record<string, unknown>[] {
  const rows = new Map<string, { row: Record<string, unknown>; latencies: number[] }>();
  for (const c of calls) {
    if (c.startTimeMs < fromMs || c.startTimeMs >= toMs) continue;
    const day = new Date(c.startTimeMs).toISOString().slice(0, 10);
    const team = c.teamId ?? 'unknown';
    const key = c.keyAlias ?? 'unknown';
    const model = c.model ?? 'unknown';
    const id = [day, team, key, model].join('|');
    let e = rows.get(id);
    if (!e)
      rows.set(
        id,
        (e = { row: { day, team, key, model, calls: 0, errors: 0, input_tokens: 0, cached_tokens: 0, output_tokens: 0, images: 0 }, latencies: [] }),
      );
    const r = e.row as Record<string, number>;
    r.calls! += 1;
    if (c.error) r.errors! += 1;
    r.input_tokens! += c.usage.promptTokens;
    r.cached_tokens! += Math.min(c.usage.cachedReadTokens, c.usage.promptTokens);
    r.output_tokens! += c.usage.completionTokens;
    if (c.callType === 'aimage_generation') r.images! += c.n ?? 1;
    e.latencies.push(c.durationMs);
  }
  // Nearest-rank percentiles; the report's histogram is exact below 1,024 ms and within ~1.1 % above.
  const pct = (xs: number[], q: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.max(1, Math.ceil(q * s.length)) - 1]!;
  };
  return [...rows.values()].map(({ row, latencies }): Record<string, unknown> => ({
    ...row,
    latency_p50_ms: pct(latencies, 0.5),
    latency_p95_ms: pct(latencies, 0.95),
    latency_p99_ms: pct(latencies, 0.99),
  }));
}

/** `|a - b| / b` within 1.2 % (the histogram's bucket width above 1,024 ms), exact below. */
export function latencyClose(actual: number, expected: number): boolean {
  return expected < 1024 ? actual === expected : Math.abs(actual - expected) <= expected * 0.012;
}

/** The "LiteLLM_SpendLogs" row LiteLLM writes for a call (the columns reconcile reads, and a few more). */
export interface SpendRow {
  request_id: string;
  call_type: string;
  api_key: string;
  spend: number;
  total_tokens: number;
  prompt_tokens: number;
  completion_tokens: number;
  startTime: number;
  endTime: number;
  model: string;
  model_group: string;
  user: string;
  metadata: Record<string, unknown>;
  team_id: string | null;
  status: 'success' | 'failure';
}

export function spendRow(c: LlmCall): SpendRow {
  return {
    request_id: c.id,
    call_type: c.callType ?? '',
    api_key: c.keyHash ?? '',
    spend: 0.001,
    total_tokens: c.usage.promptTokens + c.usage.completionTokens,
    prompt_tokens: c.usage.promptTokens,
    completion_tokens: c.usage.completionTokens,
    startTime: c.startTimeMs,
    endTime: c.startTimeMs + c.durationMs,
    model: c.model ?? '',
    model_group: c.model ?? '',
    user: c.userId ?? '',
    metadata: { user_api_key_alias: c.keyAlias, user_api_key_team_id: c.teamId },
    team_id: c.teamId,
    status: c.error ? 'failure' : 'success',
  };
}
