/**
 * `llm_calls` → Amberflo meter records (docs/mapping.md). The whole mapping is in this file: the
 * tables first (meters, dimension keys and where their values come from), then the rules.
 * Parity reference: Amberflo's callback, litellm-logging-callback @8710dc0 `amberflo/transformer.py`.
 */
import type { LlmCall } from '../../src/data/llm-call.js';
import type { MeterRecord } from '../../src/data/meter-record.js';

// ---------------------------------------------------------------------------------------------
// Tables

/** Meter API names. */
export const METERS = {
  call: 'llm_api_call', //               1 per call, errors included
  callMs: 'llm_api_call_ms', //          duration in ms (may be 0)
  textTokens: 'llm_text_tokens', //      prompt tokens (type in) and completion tokens (type out)
  images: 'llm_images', //               image generation: n images (type out)
  imageTokens: 'llm_image_tokens', //    image generation: completion tokens (type out)
  errorDetails: 'llm_error_details', //  1 per failed call
  objectMetadata: 'aflo.object_metadata', // business unit / team tag upserts (send_object_metadata)
} as const;

/**
 * Dimension key → how its value is found. `base` dimensions are on every usage record;
 * `pricing` on call and usage records; then per-meter extras. Placeholders are the callback's.
 */
export const DIMENSIONS = {
  base: {
    business_unit_id: 'keyMetadata.business_unit_id || teamMetadata.business_unit_id || teamId || "unknown"',
    team: 'teamId || "unknown"',
    hosted_env: 'config hosted_env',
    key_name: 'keyAlias || "unknown"',
    model: 'model, split at the first "." for providers other than openai',
    platform: 'modelMapProvider (when the model map is known) || "unknown"',
    provider: 'provider, or the part before the first "." of model (see model)',
    region: 'region || host label of apiBase (bedrock: 2nd, azure/google: 1st) || "global"',
    usecase: 'callType',
    user: 'userId || "unknown"',
    gateway: '"litellm"',
  },
  pricing: {
    sku: 'modelMapKey (when the model map is known) || "unknown"',
    tier: '"n" (not implemented by the callback)',
    batch: '"y" when batch, else "n"',
  },
  call: { error_code: 'error code ("429"...), "n" without error, "unknown" when not known' },
  usage: { type: '"in" | "out"', cache: '"n"; clean mode splits input tokens into "r" (read), "c" (creation), "n"' },
  errorDetails: { class: 'error type', code: 'error code', subject: '429', rate: '429: rpm | tpm', limit: '429', guardrail: '400 guardrail kind' },
} as const;

export const UNKNOWN = 'unknown';
export const GLOBAL = 'global';
export const NO = 'n';
export const GATEWAY = 'litellm';

/** Region from the api_base host, by platform: which host label holds it (callback `_resolve_region`). */
const REGION_HOST_LABEL: Record<string, number> = { bedrock: 1, azure: 0, google: 0 };

// ---------------------------------------------------------------------------------------------
// Settings

/** `compat`: the callback's output as is; `clean`: compat plus valid dimension values and cache splits. */
export const MODES = ['compat', 'clean'] as const;
export type Mode = (typeof MODES)[number];

export interface MappingOptions {
  mode: Mode;
  hostedEnv: string;
  sendObjectMetadata: boolean;
}

type Dims = Record<string, string | null>;
/** errorDetails' dimensions: the code is always there. */
type ErrorDims = Dims & { code: string | null };

// ---------------------------------------------------------------------------------------------
// Rules

const truthy = (v: unknown): boolean => v !== null && v !== undefined && v !== '' && v !== 0 && v !== false;
const or = (v: string | null | undefined, placeholder: string): string => (truthy(v) ? (v as string) : placeholder);

/** A dict value as the callback would print it as a dimension (strings as is, other scalars stringified). */
function dimValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function businessUnit(call: LlmCall): string | null {
  const fromKey = call.keyMetadata?.business_unit_id;
  if (truthy(fromKey)) return dimValue(fromKey);
  const fromTeam = call.teamMetadata?.business_unit_id;
  if (truthy(fromTeam)) return dimValue(fromTeam);
  return null;
}

/** Callback `_resolve_provider_model`: non-OpenAI `vendor.model` ids split at the first dot. */
export function providerModel(provider: string | null, model: string | null): [string | null, string | null] {
  if (provider !== 'openai' && model !== null && model.includes('.')) {
    const i = model.indexOf('.');
    return [model.slice(0, i), model.slice(i + 1)];
  }
  return [provider, model];
}

function hostname(url: string): string | null {
  try {
    const h = new URL(url).hostname;
    return h ? h.replace(/^\[|\]$/g, '') : null;
  } catch {
    return null;
  }
}

/** Callback `_resolve_region` (compat), plus Vertex AI `<location>-aiplatform.googleapis.com` in clean mode. */
export function region(call: LlmCall, platform: string | null, mode: Mode): string {
  if (truthy(call.region)) return call.region as string;
  if (platform !== null && call.apiBase) {
    const label = Object.hasOwn(REGION_HOST_LABEL, platform) ? REGION_HOST_LABEL[platform] : undefined;
    const host = hostname(call.apiBase);
    if (label !== undefined && host) {
      const part = host.split('.')[label];
      if (truthy(part)) return part as string;
      // Python would raise IndexError here and lose the record; we fall back to global.
    }
    if (mode === 'clean' && platform.startsWith('vertex_ai') && host) {
      const m = /^([a-z]+-[a-z]+\d+)-aiplatform\.googleapis\.com$/.exec(host);
      if (m) return m[1]!; // the pattern's one group is not optional
    }
  }
  return GLOBAL;
}

/**
 * Callback `_extract_error_details`: the error's class and code, and the rate limit or guardrail
 * the source's integration classified (integrations/litellm/errors.ts).
 */
export function errorDetails(call: LlmCall): ErrorDims | null {
  const e = call.error;
  if (!e) return null;
  const d: ErrorDims = { class: e.type ?? UNKNOWN, code: e.code };
  if (e.limitSubject !== null || e.limitRate !== null || e.limitValue !== null) {
    d.subject = e.limitSubject;
    d.rate = e.limitRate;
    d.limit = e.limitValue;
  }
  if (e.guardrail !== null) d.guardrail = e.guardrail;
  if (!truthy(d.code)) d.code = UNKNOWN;
  return d;
}

/** Callback `_get_object_metadata`: business unit / team virtual tag upserts. */
function objectMetadata(call: LlmCall): Dims[] {
  const bu = businessUnit(call);
  const team = truthy(call.teamId) ? call.teamId : null;
  const alias = call.teamAlias;
  if (bu && team) return [{ type: 'virtual_tag', name: 'team', value: team, label: alias, parentName: 'businessUnitId', parentValue: bu }];
  if (bu) return [{ type: 'business_unit', id: bu, name: bu }];
  if (team)
    return [
      { type: 'business_unit', id: team, name: alias },
      { type: 'virtual_tag', name: 'team', value: team, label: alias, parentName: 'businessUnitId', parentValue: team },
    ];
  return [];
}

/** The (type, cache) dimension pairs of usage records, by slot (see {@link Templates.usage}). */
const USAGE_SETS = [
  ['in', 'r'],
  ['in', 'c'],
  ['in', NO],
  ['out', NO],
] as const;
const IN_READ = 0;
const IN_CREATION = 1;
const IN = 2;
const OUT = 3;

/**
 * Usage records (meter, quantity, type, cache), callback `_extract_usage`, zero quantities skipped,
 * appended to `out` in the callback's order.
 */
function pushUsage(out: MeterRecord[], call: LlmCall, mode: Mode, tpl: Templates): void {
  const u = call.usage;
  const t = call.startTimeMs;
  const id = call.id;
  const add = (meter: string, quantity: number, set: number): void => {
    if (quantity !== 0 && Number.isFinite(quantity)) out.push(record(meter, t, quantity, tpl.usage(set), id));
  };
  if (mode === 'clean') {
    const p = u.promptTokens;
    const r = Math.min(u.cachedReadTokens, p);
    const c = Math.min(u.cacheCreationTokens, p - r);
    add(METERS.textTokens, r, IN_READ);
    add(METERS.textTokens, c, IN_CREATION);
    add(METERS.textTokens, p - r - c, IN);
  } else add(METERS.textTokens, u.promptTokens, IN);
  if (call.callType === 'aimage_generation') {
    add(METERS.images, call.n ?? 1, OUT);
    add(METERS.imageTokens, u.completionTokens, OUT);
  } else add(METERS.textTokens, u.completionTokens, OUT);
}

// Clean mode, rule 1 (docs/mapping.md, "Output modes").
const ALLOWED = /[-_ !.*'()&$@=;:+,?0-9a-zA-Z]/;
export const MAX_DIMENSION_LENGTH = 200;

const ALL_ALLOWED = /^[-_ !.*'()&$@=;:+,?0-9a-zA-Z]{1,200}$/;

/** Clean mode, rule 1: a dimension value Amberflo accepts. */
export function cleanValue(v: string | null | undefined): string {
  if (v === null || v === undefined || v === '') return UNKNOWN;
  if (ALL_ALLOWED.test(v)) return v;
  let out = '';
  let n = 0;
  for (const ch of v) {
    if (n === MAX_DIMENSION_LENGTH) break;
    out += ch === '/' ? ':' : ALLOWED.test(ch) ? ch : '_';
    n++;
  }
  return out;
}

/**
 * Dimensions with keys in a fixed (sorted) order, cleaned in clean mode, and frozen: records share
 * these objects (one per distinct dimension set, see {@link MappingCache}) and the encoder reuses
 * their JSON. A processor that changes dimensions makes a copy (as `transform` does).
 */
function finish(d: Dims, mode: Mode, order: readonly string[] = Object.keys(d).sort()): Readonly<Dims> {
  const out: Dims = {};
  for (const k of order) out[k] = mode === 'clean' ? cleanValue(d[k]) : (d[k] ?? null);
  return Object.freeze(out);
}

// Output key orders of the fixed dimension sets (sorted once, not per record).
const BASE_KEYS = Object.keys(DIMENSIONS.base);
const PRICING_KEYS = Object.keys(DIMENSIONS.pricing);
const CALL_ORDER = [...BASE_KEYS, ...PRICING_KEYS, ...Object.keys(DIMENSIONS.call)].sort();
const USAGE_ORDER = [...BASE_KEYS, ...PRICING_KEYS, ...Object.keys(DIMENSIONS.usage)].sort();

/** One record with a fixed key order: dimensions, meterApiName, meterTimeInMillis, meterValue, uniqueId. */
function record(meterApiName: string, time: number, value: number, dimensions: Readonly<Dims>, uniqueId: string | undefined): MeterRecord {
  // One literal per shape: adding uniqueId afterwards would move it to a separate property store.
  if (uniqueId !== undefined) return { dimensions, meterApiName, meterTimeInMillis: time, meterValue: value, uniqueId };
  return { dimensions, meterApiName, meterTimeInMillis: time, meterValue: value };
}

/**
 * The dimension sets of one call that do not depend on the meter: the `llm_api_call` set and, per
 * (type, cache), the usage sets. Built once per distinct combination of the call's dimension
 * inputs and then copied per record (see {@link MappingCache}).
 */
class Templates {
  /** Usage dimension sets by USAGE_SETS slot, made when first needed. */
  private readonly usageSets: (Readonly<Dims> | undefined)[] = [undefined, undefined, undefined, undefined];
  readonly call: Readonly<Dims>;
  constructor(
    /** The base dimensions, not yet cleaned (the error-details record adds its own keys to them). */
    readonly base: Dims,
    private readonly pricing: Dims,
    errorCode: string | null,
    private readonly mode: Mode,
  ) {
    this.call = finish({ ...base, ...pricing, error_code: errorCode }, mode, CALL_ORDER);
  }
  usage(slot: number): Readonly<Dims> {
    let d = this.usageSets[slot];
    if (d === undefined) {
      const [type, cache] = USAGE_SETS[slot]!;
      this.usageSets[slot] = d = finish({ ...this.base, ...this.pricing, type, cache }, this.mode, USAGE_ORDER);
    }
    return d;
  }
}

const NULL_MARK = '\u0000';
const keyPart = (v: string | null | undefined): string => (v === null || v === undefined ? NULL_MARK : v);

/** The inputs a call's shared dimension sets depend on, in a fixed order (see {@link keyOf}). */
const KEY_PARTS = 15;

/**
 * Fills `parts` with a call's cache key (every input the shared dimensions are computed from) and
 * returns its FNV-1a hash. The parts are the call's own strings: nothing is allocated per call.
 */
function keyOf(parts: string[], call: LlmCall, opts: MappingOptions, bu: string | null, err: ErrorDims | null): number {
  parts[0] = opts.mode;
  parts[1] = opts.hostedEnv;
  parts[2] = keyPart(bu);
  parts[3] = keyPart(call.teamId);
  parts[4] = keyPart(call.keyAlias);
  parts[5] = keyPart(call.userId);
  parts[6] = keyPart(call.provider);
  parts[7] = keyPart(call.model);
  parts[8] = keyPart(call.modelMapKey);
  parts[9] = keyPart(call.modelMapProvider);
  parts[10] = keyPart(call.region);
  parts[11] = keyPart(call.apiBase);
  parts[12] = keyPart(call.callType);
  parts[13] = call.batch ? 'y' : NO;
  parts[14] = err ? keyPart(err.code) : '';
  let h = 0x811c9dc5;
  for (let i = 0; i < KEY_PARTS; i++) {
    const p = parts[i]!;
    for (let j = 0; j < p.length; j++) h = Math.imul(h ^ p.charCodeAt(j), 0x01000193);
    h = Math.imul(h ^ 0xffff, 0x01000193); // part separator (a collision only costs a comparison)
  }
  return h >>> 0;
}

interface CacheEntry {
  parts: readonly string[];
  templates: Templates;
  /** The next entry with the same hash. */
  next: CacheEntry | undefined;
}

/**
 * A bounded cache of {@link Templates} keyed by every input the shared dimensions are computed
 * from (business unit, team, key alias, user, provider, model, model map, region inputs, call
 * type, batch, error code, and the options). Fleets repeat the same few thousand combinations, so
 * records are built by copying a ready, already-cleaned set instead of resolving and cleaning ~16
 * values per record. Two generations of at most `size` entries each: O(1), approximately LRU.
 *
 * Entries are found by a hash of the inputs and then compared input by input, so a lookup builds
 * no key string (docs/design/objects.md).
 */
export class MappingCache {
  private young = new Map<number, CacheEntry>();
  private old = new Map<number, CacheEntry>();
  private youngSize = 0;
  /** The key of the call being looked up (reused: see {@link keyOf}). */
  private readonly parts: string[] = new Array<string>(KEY_PARTS).fill('');
  /** `hashMask` narrows the hash (tests use it to force collisions). */
  constructor(
    private readonly size = 4096,
    private readonly hashMask = 0xffffffff,
  ) {}

  /** The templates for a call: cached, or built by {@link templatesFor} and cached. */
  templates(call: LlmCall, opts: MappingOptions, bu: string | null, err: ErrorDims | null): Templates {
    const h = keyOf(this.parts, call, opts, bu, err) & this.hashMask;
    const e = find(this.young.get(h), this.parts);
    return e !== undefined ? e.templates : this.miss(h, call, opts, bu, err);
  }

  /** Not in the young generation: moved from the old one, or built (kept out of the hot path above). */
  private miss(h: number, call: LlmCall, opts: MappingOptions, bu: string | null, err: ErrorDims | null): Templates {
    const o = find(this.old.get(h), this.parts);
    if (o !== undefined) {
      this.add(h, o.parts, o.templates);
      return o.templates;
    }
    const t = templatesFor(call, opts, bu, err);
    this.add(h, this.parts.slice(), t);
    return t;
  }

  private add(h: number, parts: readonly string[], templates: Templates): void {
    if (this.youngSize >= this.size) {
      this.old = this.young;
      this.young = new Map();
      this.youngSize = 0;
    }
    this.young.set(h, { parts, templates, next: this.young.get(h) });
    this.youngSize++;
  }
}

function find(e: CacheEntry | undefined, parts: readonly string[]): CacheEntry | undefined {
  for (; e !== undefined; e = e.next) {
    const p = e.parts;
    let i = 0;
    while (i < KEY_PARTS && p[i] === parts[i]) i++;
    if (i === KEY_PARTS) return e;
  }
  return undefined;
}

function templatesFor(call: LlmCall, opts: MappingOptions, bu: string | null, err: ErrorDims | null): Templates {
  const { mode } = opts;
  const [provider, model] = providerModel(call.provider, call.model);
  const known = call.modelMapKey !== null || call.modelMapProvider !== null;
  const sku = known ? (call.modelMapKey ?? UNKNOWN) : UNKNOWN;
  const platform = known ? (call.modelMapProvider ?? UNKNOWN) : UNKNOWN;
  const base: Dims = {
    business_unit_id: bu ?? or(call.teamId, UNKNOWN),
    team: or(call.teamId, UNKNOWN),
    hosted_env: opts.hostedEnv,
    key_name: or(call.keyAlias, UNKNOWN),
    model,
    platform,
    provider,
    region: region(call, platform, mode),
    usecase: call.callType,
    user: or(call.userId, UNKNOWN),
    gateway: GATEWAY,
  };
  const pricing: Dims = { sku, tier: NO, batch: call.batch ? 'y' : NO };
  return new Templates(base, pricing, err ? err.code : NO, mode);
}

/**
 * All records for one call, in the callback's order. Pure and deterministic: with or without a
 * `cache`, the same call gives the same records (a property test holds the two paths equal).
 */
export function toMeterRecords(call: LlmCall, opts: MappingOptions, cache?: MappingCache): MeterRecord[] {
  const { mode } = opts;
  const t = call.startTimeMs;
  const out: MeterRecord[] = [];
  if (opts.sendObjectMetadata) {
    for (const obj of objectMetadata(call)) out.push(record(METERS.objectMetadata, t, 1, finish(obj, mode), undefined));
  }
  const bu = businessUnit(call);
  const err = errorDetails(call);
  const tpl = cache ? cache.templates(call, opts, bu, err) : templatesFor(call, opts, bu, err);
  // Records share the frozen dimension sets (no copy per record).
  out.push(record(METERS.call, t, 1, tpl.call, call.id));
  out.push(record(METERS.callMs, t, call.durationMs, tpl.call, call.id));
  pushUsage(out, call, mode, tpl);
  if (err) out.push(record(METERS.errorDetails, t, 1, finish({ ...tpl.base, ...err }, mode), call.id));
  return out;
}
