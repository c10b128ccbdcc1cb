/**
 * Small helpers shared by the LiteLLM normalisers (spans and StandardLoggingPayload): Python
 * truthiness, Python `round()`, dict access, usage extraction from `usage_object`, and the
 * decoding of `metadata.*` span values.
 */
import type { LlmUsage } from '../../src/data/llm-call.js';
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
 * Usage from a `metadata.usage_object` span attribute: the same result as
 * `usageFromObject(decodeMetadataValue(v))`, with a fast path for the form LiteLLM writes (the
 * repr of a `Usage`: a dict of plain ints and None, two levels deep), which skips building the
 * dicts. Anything else takes the general path. A property test holds the two equal.
 */
export function usageFromMetadataValue(v: unknown): LlmUsage {
  if (typeof v === 'string') {
    const fast = scanUsageRepr(v);
    if (fast) return fast;
  }
  return usageFromObject(decodeMetadataValue(v));
}

const FAIL = -1;
/**
 * The usage_object keys usageFromObject reads, by index: 0–4 at the top level, 5–6 the details
 * dicts, 7–8 inside `prompt_tokens_details`, 9 inside `completion_tokens_details`.
 */
export const USAGE_KEYS = [
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cache_read_input_tokens',
  'cache_creation_input_tokens',
  'prompt_tokens_details',
  'completion_tokens_details',
  'cached_tokens',
  'cache_creation_tokens',
  'reasoning_tokens',
] as const;
const TOP_KEYS = 5;
const PTD = 5;
const CTD = 6;
const CACHED = 7;
const CACHE_CREATION = 8;
const REASONING = 9;
/** The indexes in USAGE_KEYS of the names of each length. */
const KEYS_BY_LENGTH: number[][] = [];
USAGE_KEYS.forEach((name, k) => (KEYS_BY_LENGTH[name.length] ??= []).push(k));
/** Stands for any other key (matches no index above). */
const OTHER_KEY = -2;
/** The scalar words repr() writes for these values. */
const KEYWORDS = ['None', 'True', 'False'];

/**
 * Scans `{'key': value, ...}` where a value is a decimal int of at most 15 digits, None, True,
 * False or (at the top level) a dict of those, separated by single spaces as repr() writes them.
 * Returns null for anything else (the general parser then decides, errors included).
 */
export function scanUsageRepr(text: string): LlmUsage | null {
  return new UsageScanner(text).scan();
}

/**
 * The scanner of {@link scanUsageRepr} (a class: its position is a field, not a closure variable).
 * Keys are identified by their index in USAGE_KEYS and counts kept in fields, so that no string or
 * dict is made and no property is looked up by name.
 */
class UsageScanner {
  private i = 0;
  private readonly n: number;
  /** Counts of the top-level keys 0–4. */
  private readonly top = [0, 0, 0, 0, 0];
  /** The last `prompt_tokens_details` / `completion_tokens_details`: null when absent or not a dict. */
  private ptdCached: number | null = null;
  private ptdCreation = 0;
  private ctdReasoning: number | null = null;
  constructor(private readonly s: string) {
    this.n = s.length;
  }

  private spaces(): void {
    while (this.i < this.n && this.s.charCodeAt(this.i) === 32) this.i++;
  }

  /**
   * A key: a single-quoted run without backslashes, double quotes or newlines. Returns its index in
   * USAGE_KEYS, OTHER_KEY for any other name (no string is made), FAIL otherwise.
   */
  private key(): number {
    const s = this.s;
    if (s.charCodeAt(this.i) !== 39) return FAIL;
    const from = this.i + 1;
    const end = s.indexOf("'", from);
    if (end < 0) return FAIL;
    this.i = end + 1;
    const len = end - from;
    // A known name (none has a backslash, a double quote or a newline) is told by its length and
    // its characters; any other key is checked for those three.
    const candidates = KEYS_BY_LENGTH[len];
    if (candidates !== undefined) {
      for (let c = 0; c < candidates.length; c++) {
        const k = candidates[c]!;
        const name = USAGE_KEYS[k]!; // k comes from USAGE_KEYS' own indices
        let j = 0;
        while (j < len && s.charCodeAt(from + j) === name.charCodeAt(j)) j++;
        if (j === len) return k;
      }
    }
    for (let j = from; j < end; j++) {
      const c = s.charCodeAt(j);
      if (c === 92 || c === 34 || c === 10) return FAIL;
    }
    return OTHER_KEY;
  }

  /** A scalar as count() would read it after pyToJson; FAIL when it is not one of the simple forms. */
  private scalar(): number {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (c >= 48 && c <= 57) {
      const from = this.i;
      let j = from;
      while (j < this.n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
      const len = j - from;
      if (len > 15 || (len > 1 && c === 48)) return FAIL;
      const next = s.charCodeAt(j);
      if ((next >= 65 && next <= 90) || (next >= 97 && next <= 122) || next === 95 || next === 46) return FAIL;
      this.i = j;
      let v = 0;
      for (let k = from; k < j; k++) v = v * 10 + (s.charCodeAt(k) - 48);
      return v;
    }
    for (const word of KEYWORDS) {
      if (s.startsWith(word, this.i)) {
        const next = s.charCodeAt(this.i + word.length);
        if ((next >= 48 && next <= 57) || (next >= 65 && next <= 90) || (next >= 97 && next <= 122) || next === 95) return FAIL;
        this.i += word.length;
        return 0; // None → null, booleans: count() reads both as 0
      }
    }
    return FAIL;
  }

  /**
   * `{'k': scalar, ...}` as the value of top-level key `owner`: a details dict (PTD, CTD) replaces the
   * counts read from an earlier one (the last one wins, as in a dict); any other dict is only checked.
   * FAIL when it is not of that form (nested dicts fail).
   */
  private dict(owner: number): number {
    const s = this.s;
    if (s.charCodeAt(this.i) !== 123) return FAIL; // {
    this.i++;
    if (owner === PTD) {
      this.ptdCached = 0;
      this.ptdCreation = 0;
    } else if (owner === CTD) this.ctdReasoning = 0;
    this.spaces();
    if (s.charCodeAt(this.i) === 125) {
      this.i++;
      return 0;
    }
    for (;;) {
      const k = this.key();
      if (k === FAIL) return FAIL;
      this.spaces();
      if (s.charCodeAt(this.i) !== 58) return FAIL; // :
      this.i++;
      this.spaces();
      const v = this.scalar();
      if (v === FAIL) return FAIL;
      if (owner === PTD) {
        if (k === CACHED) this.ptdCached = v;
        else if (k === CACHE_CREATION) this.ptdCreation = v;
      } else if (owner === CTD && k === REASONING) this.ctdReasoning = v;
      this.spaces();
      const c = s.charCodeAt(this.i);
      this.i++;
      if (c === 125) return 0; // }
      if (c !== 44) return FAIL; // ,
      this.spaces();
      if (s.charCodeAt(this.i) === 125) return FAIL; // trailing comma: the general parser's business
    }
  }

  scan(): LlmUsage | null {
    const s = this.s;
    if (s.charCodeAt(0) !== 123) return null;
    this.i = 1;
    this.spaces();
    if (s.charCodeAt(this.i) === 125) return null; // {} — general path (it is JSON too)
    for (;;) {
      const k = this.key();
      if (k === FAIL) return null;
      this.spaces();
      if (s.charCodeAt(this.i) !== 58) return null;
      this.i++;
      this.spaces();
      if (s.charCodeAt(this.i) === 123) {
        // A nested dict: the details dicts are kept; others are checked and skipped.
        if (this.dict(k) === FAIL) return null;
        if (k >= 0 && k < TOP_KEYS) this.top[k] = 0; // count(dict) is 0
      } else {
        const v = this.scalar();
        if (v === FAIL) return null;
        if (k === PTD) this.ptdCached = null;
        else if (k === CTD) this.ctdReasoning = null;
        else if (k >= 0 && k < TOP_KEYS) this.top[k] = v;
      }
      this.spaces();
      const c = s.charCodeAt(this.i);
      this.i++;
      if (c === 125) break;
      if (c !== 44) return null;
      this.spaces();
      if (s.charCodeAt(this.i) === 125) return null;
    }
    if (this.i !== this.n) return null;
    const [prompt, completion, total, cacheRead, cacheCreation] = this.top as [number, number, number, number, number];
    return {
      promptTokens: prompt,
      completionTokens: completion,
      totalTokens: total || prompt + completion,
      cachedReadTokens: (this.ptdCached ?? 0) || cacheRead,
      cacheCreationTokens: cacheCreation || (this.ptdCached === null ? 0 : this.ptdCreation),
      reasoningTokens: this.ctdReasoning ?? 0,
    };
  }
}

/**
 * Decodes one `metadata.<key>` span attribute value (docs/mapping.md, "Decoding span attributes"):
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
  const [int = '0', frac = ''] = s.split('.');
  const ns = BigInt(int) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  return ns.toString();
}
