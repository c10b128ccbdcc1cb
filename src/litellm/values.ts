/**
 * Small helpers shared by the LiteLLM normalisers (spans and StandardLoggingPayload): Python
 * truthiness, Python `round()`, dict access, usage extraction from `usage_object`, and the
 * decoding of `metadata.*` span values.
 */
import type { LlmUsage } from '../data/llm-call.js';
import { parsePythonLiteral, pyToJson } from './pyliteral.js';

export type Dict = Record<string, unknown>;

export const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Python truthiness of a JSON-ish value (`None`, `0`, `''`, `[]`, `{}` are false). */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || v === 0n) return false;
  if (typeof v === 'number' && Number.isNaN(v)) return true;
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

/** Python 3 `round(x)` for a double: nearest integer, ties to even. */
export function pyRound(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** A value as a dimension-ready string: strings as is, numbers/bools as Python's str(), else null. */
export function pyStr(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'bigint') return v.toString();
  return null;
}

/** Non-negative integer token count from a JSON-ish value; anything else is 0. */
export function count(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v);
  if (typeof v === 'bigint' && v > 0n) return Number(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return 0;
}

/**
 * Usage from a LiteLLM `usage_object` (OpenAI-style `Usage`): prompt/completion/total, cached
 * read tokens (`prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`),
 * cache-creation tokens (`cache_creation_input_tokens`, `prompt_tokens_details.cache_creation_tokens`)
 * and reasoning tokens (`completion_tokens_details.reasoning_tokens`).
 */
export function usageFromObject(uo: unknown): LlmUsage {
  const u = isDict(uo) ? uo : {};
  const ptd = isDict(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const ctd = isDict(u.completion_tokens_details) ? u.completion_tokens_details : {};
  const promptTokens = count(u.prompt_tokens);
  const completionTokens = count(u.completion_tokens);
  return {
    promptTokens,
    completionTokens,
    totalTokens: count(u.total_tokens) || promptTokens + completionTokens,
    cachedReadTokens: count(ptd.cached_tokens) || count(u.cache_read_input_tokens),
    cacheCreationTokens: count(u.cache_creation_input_tokens) || count(ptd.cache_creation_tokens),
    reasoningTokens: count(ctd.reasoning_tokens),
  };
}

/**
 * Decodes one `metadata.<key>` span attribute value (research/litellm-otel-spans.md §2.1):
 * `""` → null; a string that looks like a container (`{`, `[`, `(`) → JSON if it parses, else a
 * Python literal, else the raw string; other values as they are.
 */
export function decodeMetadataValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v !== 'string') return v ?? null;
  if (v === '') return null;
  let i = 0;
  while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  const first = v[i];
  if (first !== '{' && first !== '[' && first !== '(') return v;
  if (first !== '(' && mayBeJson(v, i + 1)) {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      /* not JSON: try a Python literal */
    }
  }
  const r = parsePythonLiteral(v);
  return r.ok ? pyToJson(r.value) : v;
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/**
 * Cheap pre-check that skips JSON.parse (and its exception) for the usual Python repr: JSON
 * containers start their first item with `"`, a digit, `-`, `{`, `[`, `t`/`f`/`n`, or are empty;
 * a repr dict/list of strings starts with `'`.
 */
function mayBeJson(v: string, from: number): boolean {
  let i = from;
  while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  const c = v[i];
  return c !== "'" && c !== 'N' && c !== 'T' && c !== 'F' && c !== '(';
}

/** `"1764355422.941052"`-style decimal seconds → epoch nanoseconds as a decimal string. */
export function secondsToNanos(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '0';
  let s = String(seconds);
  if (/e/i.test(s)) s = seconds.toFixed(9);
  const [int, frac = ''] = s.split('.');
  const ns = BigInt(int) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  return ns.toString();
}
