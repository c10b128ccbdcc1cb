/**
 * A compact encoding of `llm_calls` log records (an array of {@link LlmCall}), the records the
 * write-ahead log holds in every metering pipeline: the fields in a fixed order without names, and
 * the strings that repeat across a request's calls written once per record, then by number (V8's
 * format writes every name and string in full; why this matters: docs/design/wal-records.md). A
 * replayed record equals the original (same fields, values and key order); the decoded calls of one
 * record share their repeated strings.
 *
 * Exactness first: a call that does not have exactly the LlmCall shape (another key, a value of
 * another type, `undefined`, a bigint, a class instance in a metadata value, a string with a lone
 * surrogate, a cycle...) makes
 * {@link encodeLlmCalls} return null, and the caller writes the record in V8's format instead.
 *
 * Layout (little-endian): tag 0x01, format version (see {@link VERSION}), varint count, then each call's fields in
 * {@link FIELDS} order.
 * - string (unique per call: id, ids, times): 0 = null, 1 = u32 byte length + UTF-8 bytes.
 * - string (shared): 0 = null, 1 = new (u32 length + bytes; numbered in order of appearance),
 *   k ≥ 2 = the string numbered k − 2.
 * - number: 0 = null, 1 = varint (integers 0 ≤ n < 2³¹), 2 = float64.
 * - boolean: 0 = null, 1 = false, 2 = true.
 * - value (metadata, guardrails, tags): 0 null, 1 false, 2 true, 3 float64, 4 shared string,
 *   5 array (varint length, values), 6 plain object (varint count, (shared-string key, value)...).
 */
import type { LlmCall } from '../data/llm-call.js';
import type { RecordCodec } from './codec.js';

export const LLM_CALLS_TAG = 0x01;
/**
 * Format 2 added `layout`, `callId` and the error's classification fields. Format 1 records (left
 * in a log by an earlier build) still decode, with those fields null.
 */
const VERSION = 2;

/** The fields of an LlmCall in the order they are written (and in which decoded calls have them). */
const FIELDS = [
  'source',
  'layout',
  'id',
  'callId',
  'traceId',
  'spanId',
  'startTimeUnixNano',
  'endTimeUnixNano',
  'startTimeMs',
  'durationMs',
  'callType',
  'model',
  'provider',
  'modelMapKey',
  'modelMapProvider',
  'modelId',
  'modelGroup',
  'apiBase',
  'region',
  'batch',
  'n',
  'usage',
  'keyHash',
  'keyAlias',
  'keyMetadata',
  'teamId',
  'teamAlias',
  'teamMetadata',
  'userId',
  'orgId',
  'endUser',
  'error',
  'guardrails',
  'requestTags',
  'responseCost',
  'stream',
  'droppedAttributes',
] as const satisfies readonly (keyof LlmCall)[];
// Compile-time: a field added to LlmCall and not to FIELDS (and to the code below) fails the build.
type Unlisted = Exclude<keyof LlmCall, (typeof FIELDS)[number]>;
const _everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
const USAGE_FIELDS = 6;
const ERROR_FIELDS = 9;

/** Strings up to this length are copied character by character when ASCII (longer ones: utf8Write). */
const ASCII_COPY_MAX = 96;

/** Thrown inside the encoder when a value does not fit; caught in {@link encodeLlmCalls}. */
class DoesNotFit extends Error {}
const doesNotFit = new DoesNotFit('not an LlmCall');

class Writer {
  buf: Buffer;
  view: DataView;
  pos = 0;
  /**
   * The strings written so far in this record, by number. A new Map per record, never one kept
   * across records: a long-lived one keeps every request's strings alive through the remembered set
   * (docs/design/wal-records.md, "A string table per record").
   */
  table = new Map<string, number>();

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  varint(n: number): void {
    this.ensure(5);
    while (n > 0x7f) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }

  /** u32 byte length + UTF-8 bytes. A lone surrogate (which UTF-8 cannot carry) does not fit. */
  rawString(s: string): void {
    const len = s.length;
    this.ensure(4 + 3 * len);
    const buf = this.buf;
    const at = this.pos + 4;
    // ASCII (ids, times, names): its UTF-8 is its characters, copied here without a native call.
    if (len <= ASCII_COPY_MAX) {
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === len) {
        this.view.setUint32(this.pos, len, true);
        this.pos = at + len;
        return;
      }
    }
    if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) throw doesNotFit;
    const n = (buf as Buffer & { utf8Write(s: string, offset: number): number }).utf8Write(s, at);
    this.view.setUint32(this.pos, n, true);
    this.pos = at + n;
  }

  uniqueString(v: unknown): void {
    if (v === null) {
      this.byte(0);
      return;
    }
    if (typeof v !== 'string') throw doesNotFit;
    this.byte(1);
    this.rawString(v);
  }

  sharedString(v: unknown): void {
    if (v === null) {
      this.byte(0);
      return;
    }
    if (typeof v !== 'string') throw doesNotFit;
    const k = this.table.get(v);
    if (k !== undefined) {
      this.varint(k + 2);
      return;
    }
    this.table.set(v, this.table.size);
    this.byte(1);
    this.rawString(v);
  }

  number(v: unknown, nullable: boolean): void {
    if (v === null && nullable) {
      this.byte(0);
      return;
    }
    if (typeof v !== 'number') throw doesNotFit;
    if (v >= 0 && v < 0x80000000 && (v | 0) === v && !(v === 0 && 1 / v < 0)) {
      this.byte(1);
      this.varint(v);
      return;
    }
    this.byte(2);
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  boolean(v: unknown, nullable: boolean): void {
    if (v === null && nullable) {
      this.byte(0);
      return;
    }
    if (typeof v !== 'boolean') throw doesNotFit;
    this.byte(v ? 2 : 1);
  }

  /** JSON-like data (what span conversion decodes from metadata); anything else does not fit. */
  value(v: unknown, depth: number): void {
    if (depth > 64) throw doesNotFit;
    if (v === null) {
      this.byte(0);
      return;
    }
    switch (typeof v) {
      case 'boolean': {
        this.byte(v ? 2 : 1);
        return;
      }
      case 'number':
        this.byte(3);
        this.ensure(8);
        this.view.setFloat64(this.pos, v, true);
        this.pos += 8;
        return;
      case 'string':
        this.byte(4);
        {
          this.sharedString(v);
          return;
        }
      case 'object':
        break;
      default:
        throw doesNotFit;
    }
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) throw doesNotFit;
      const n = v.length;
      let own = 0;
      // eslint-disable-next-line @typescript-eslint/no-for-in-array -- counts the own enumerable keys, so holes and extra properties show
      for (const _ in v) own++;
      if (own !== n) throw doesNotFit; // holes or extra properties
      this.byte(5);
      this.varint(n);
      for (let i = 0; i < n; i++) this.value(v[i], depth + 1);
      return;
    }
    // As V8's serialiser: own enumerable string-keyed properties (symbols and non-enumerable ones
    // are not data; a getter's value is what is stored).
    if (!isPlain(v)) throw doesNotFit;
    const keys = Object.keys(v);
    this.byte(6);
    this.varint(keys.length);
    const o = v;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      this.sharedString(k);
      this.value(o[k], depth + 1);
    }
  }
}

function countKeys(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

function isPlain(o: unknown): o is Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const p = Object.getPrototypeOf(o) as unknown;
  return p === Object.prototype || p === null;
}

function writeCall(w: Writer, c: Record<string, unknown>): void {
  if (!isPlain(c) || countKeys(c) !== FIELDS.length) throw doesNotFit;
  const source = c.source;
  if (source === 'span') w.byte(0);
  else if (source === 'slo') w.byte(1);
  else throw doesNotFit;
  w.sharedString(c.layout);
  if (typeof c.id !== 'string') throw doesNotFit;
  w.uniqueString(c.id);
  w.uniqueString(c.callId);
  w.uniqueString(c.traceId);
  w.uniqueString(c.spanId);
  if (typeof c.startTimeUnixNano !== 'string' || typeof c.endTimeUnixNano !== 'string') throw doesNotFit;
  w.uniqueString(c.startTimeUnixNano);
  w.uniqueString(c.endTimeUnixNano);
  w.number(c.startTimeMs, false);
  w.number(c.durationMs, false);
  w.sharedString(c.callType);
  w.sharedString(c.model);
  w.sharedString(c.provider);
  w.sharedString(c.modelMapKey);
  w.sharedString(c.modelMapProvider);
  w.sharedString(c.modelId);
  w.sharedString(c.modelGroup);
  w.sharedString(c.apiBase);
  w.sharedString(c.region);
  w.boolean(c.batch, false);
  w.number(c.n, true);
  const u = c.usage;
  if (!isPlain(u) || countKeys(u) !== USAGE_FIELDS) throw doesNotFit;
  w.number(u.promptTokens, false);
  w.number(u.completionTokens, false);
  w.number(u.totalTokens, false);
  w.number(u.cachedReadTokens, false);
  w.number(u.cacheCreationTokens, false);
  w.number(u.reasoningTokens, false);
  w.sharedString(c.keyHash);
  w.sharedString(c.keyAlias);
  if (c.keyMetadata !== null && !isPlain(c.keyMetadata)) throw doesNotFit;
  w.value(c.keyMetadata, 0);
  w.sharedString(c.teamId);
  w.sharedString(c.teamAlias);
  if (c.teamMetadata !== null && !isPlain(c.teamMetadata)) throw doesNotFit;
  w.value(c.teamMetadata, 0);
  w.sharedString(c.userId);
  w.sharedString(c.orgId);
  w.sharedString(c.endUser);
  const e = c.error;
  if (e === null) w.byte(0);
  else {
    if (!isPlain(e) || countKeys(e) !== ERROR_FIELDS) throw doesNotFit;
    w.byte(1);
    w.sharedString(e.type);
    w.sharedString(e.code);
    w.sharedString(e.message);
    w.sharedString(e.provider);
    w.sharedString(e.traceback);
    w.sharedString(e.limitSubject);
    w.sharedString(e.limitRate);
    w.sharedString(e.limitValue);
    w.sharedString(e.guardrail);
  }
  if (c.guardrails !== null && !Array.isArray(c.guardrails)) throw doesNotFit;
  w.value(c.guardrails, 0);
  if (c.requestTags !== null && !(Array.isArray(c.requestTags) && c.requestTags.every((t) => typeof t === 'string'))) throw doesNotFit;
  w.value(c.requestTags, 0);
  w.number(c.responseCost, true);
  w.boolean(c.stream, true);
  w.number(c.droppedAttributes, false);
}

let scratch: Writer | undefined;
/** What the writer's table is between records (never written to). */
const EMPTY_TABLE: Map<string, number> = new Map();

/**
 * The record's bytes in this format, or null when `data` is not an array of LlmCall-shaped calls
 * (write it in another format then).
 */
export function encodeLlmCalls(data: unknown): Buffer | null {
  if (!Array.isArray(data) || data.length === 0) return null;
  const w = (scratch ??= new Writer(256 * 1024));
  w.pos = 0;
  w.table = new Map();
  try {
    w.byte(LLM_CALLS_TAG);
    w.byte(VERSION);
    w.varint(data.length);
    for (let i = 0; i < data.length; i++) writeCall(w, data[i] as Record<string, unknown>);
  } catch (e) {
    if (e === doesNotFit) return null;
    throw e;
  } finally {
    w.table = EMPTY_TABLE;
    // A record far larger than usual does not keep its buffer for the rest of the process.
    if (w.buf.length > 4 * 1024 * 1024) scratch = undefined;
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/**
 * The same number, as a small integer where it is one: a heap number where new calls hold small
 * integers would make V8 deprecate their shared hidden class (docs/design/wal-records.md, "Small
 * integers stay small integers").
 */
function smi(v: number): number {
  return (v | 0) === v && !(v === 0 && 1 / v < 0) ? v | 0 : v;
}

class Reader {
  pos = 0;
  readonly table: string[] = [];
  private readonly view: DataView;

  constructor(private readonly buf: Buffer) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('llm_calls record: truncated');
    return this.buf[this.pos++]!;
  }

  varint(): number {
    // The weight of each group as a running product: `2 ** shift` with a variable shift calls the
    // C library's pow (docs/design/wal-records.md).
    let n = 0;
    let weight = 1;
    for (let k = 0; k < 5; k++) {
      const b = this.byte();
      n += (b & 0x7f) * weight;
      if (b < 0x80) return smi(n);
      weight *= 128;
    }
    throw new RangeError('llm_calls record: bad varint');
  }

  rawString(): string {
    if (this.pos + 4 > this.buf.length) throw new RangeError('llm_calls record: truncated');
    const n = this.view.getUint32(this.pos, true);
    const start = this.pos + 4;
    const end = start + n;
    if (end > this.buf.length) throw new RangeError('llm_calls record: truncated');
    this.pos = end;
    return (this.buf as Buffer & { utf8Slice(s: number, e: number): string }).utf8Slice(start, end);
  }

  uniqueString(): string | null {
    const t = this.byte();
    if (t === 0) return null;
    if (t === 1) return this.rawString();
    throw new RangeError(`llm_calls record: bad string tag ${t}`);
  }

  sharedString(): string | null {
    const t = this.varint();
    if (t === 0) return null;
    if (t === 1) {
      const s = this.rawString();
      this.table.push(s);
      return s;
    }
    const s = this.table[t - 2];
    if (s === undefined) throw new RangeError(`llm_calls record: string ${t - 2} not defined`);
    return s;
  }

  float64(): number {
    if (this.pos + 8 > this.buf.length) throw new RangeError('llm_calls record: truncated');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return smi(v);
  }

  number(): number | null {
    const t = this.byte();
    if (t === 0) return null;
    if (t === 1) return this.varint();
    if (t === 2) return this.float64();
    throw new RangeError(`llm_calls record: bad number tag ${t}`);
  }

  num(): number {
    const v = this.number();
    if (v === null) throw new RangeError('llm_calls record: null where a number is required');
    return v;
  }

  str(): string {
    const v = this.uniqueString();
    if (v === null) throw new RangeError('llm_calls record: null where a string is required');
    return v;
  }

  boolean(): boolean | null {
    const t = this.byte();
    if (t === 0) return null;
    if (t === 1 || t === 2) return t === 2;
    throw new RangeError(`llm_calls record: bad boolean tag ${t}`);
  }

  value(depth: number): unknown {
    if (depth > 64) throw new RangeError('llm_calls record: value nested too deeply');
    const t = this.byte();
    switch (t) {
      case 0:
        return null;
      case 1:
        return false;
      case 2:
        return true;
      case 3:
        return this.float64();
      case 4:
        return this.sharedString();
      case 5: {
        const n = this.varint();
        if (n > this.buf.length - this.pos) throw new RangeError('llm_calls record: truncated');
        const a: unknown[] = [];
        for (let i = 0; i < n; i++) a.push(this.value(depth + 1));
        return a;
      }
      case 6: {
        const n = this.varint();
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.sharedString();
          if (k === null) throw new RangeError('llm_calls record: null key');
          const v = this.value(depth + 1);
          // As V8's deserialiser does: an own property even for "__proto__".
          if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
          else o[k] = v;
        }
        return o;
      }
      default:
        throw new RangeError(`llm_calls record: bad value tag ${t}`);
    }
  }
}

function readCall(r: Reader, version: number): LlmCall {
  const s = r.byte();
  if (s > 1) throw new RangeError(`llm_calls record: bad source ${s}`);
  const source = s === 0 ? 'span' : 'slo';
  const layout = version >= 2 ? r.sharedString() : null;
  const id = r.str();
  const callId = version >= 2 ? r.uniqueString() : null;
  const traceId = r.uniqueString();
  const spanId = r.uniqueString();
  const startTimeUnixNano = r.str();
  const endTimeUnixNano = r.str();
  const startTimeMs = r.num();
  const durationMs = r.num();
  const callType = r.sharedString();
  const model = r.sharedString();
  const provider = r.sharedString();
  const modelMapKey = r.sharedString();
  const modelMapProvider = r.sharedString();
  const modelId = r.sharedString();
  const modelGroup = r.sharedString();
  const apiBase = r.sharedString();
  const region = r.sharedString();
  const batch = r.boolean();
  if (batch === null) throw new RangeError('llm_calls record: null batch');
  const n = r.number();
  const usage = {
    promptTokens: r.num(),
    completionTokens: r.num(),
    totalTokens: r.num(),
    cachedReadTokens: r.num(),
    cacheCreationTokens: r.num(),
    reasoningTokens: r.num(),
  };
  const keyHash = r.sharedString();
  const keyAlias = r.sharedString();
  const keyMetadata = r.value(0) as Record<string, unknown> | null;
  const teamId = r.sharedString();
  const teamAlias = r.sharedString();
  const teamMetadata = r.value(0) as Record<string, unknown> | null;
  const userId = r.sharedString();
  const orgId = r.sharedString();
  const endUser = r.sharedString();
  const e = r.byte();
  if (e > 1) throw new RangeError(`llm_calls record: bad error tag ${e}`);
  const error =
    e === 0
      ? null
      : {
          type: r.sharedString(),
          code: r.sharedString(),
          message: r.sharedString(),
          provider: r.sharedString(),
          traceback: r.sharedString(),
          limitSubject: version >= 2 ? r.sharedString() : null,
          limitRate: version >= 2 ? r.sharedString() : null,
          limitValue: version >= 2 ? r.sharedString() : null,
          guardrail: version >= 2 ? r.sharedString() : null,
        };
  const guardrails = r.value(0) as unknown[] | null;
  const requestTags = r.value(0) as string[] | null;
  const responseCost = r.number();
  const stream = r.boolean();
  const droppedAttributes = r.num();
  return {
    source,
    layout,
    id,
    callId,
    traceId,
    spanId,
    startTimeUnixNano,
    endTimeUnixNano,
    startTimeMs,
    durationMs,
    callType,
    model,
    provider,
    modelMapKey,
    modelMapProvider,
    modelId,
    modelGroup,
    apiBase,
    region,
    batch,
    n,
    usage,
    keyHash,
    keyAlias,
    keyMetadata,
    teamId,
    teamAlias,
    teamMetadata,
    userId,
    orgId,
    endUser,
    error,
    guardrails,
    requestTags,
    responseCost,
    stream,
    droppedAttributes,
  };
}

/** The calls of a record written by {@link encodeLlmCalls}; throws a RangeError on damaged bytes. */
export function decodeLlmCalls(payload: Buffer): LlmCall[] {
  const r = new Reader(payload);
  if (r.byte() !== LLM_CALLS_TAG) throw new RangeError('llm_calls record: wrong tag');
  const version = r.byte();
  if (version < 1 || version > VERSION) throw new RangeError(`llm_calls record: format version ${version} is not one this build reads (1 to ${VERSION})`);
  const count = r.varint();
  if (count > payload.length) throw new RangeError('llm_calls record: bad count');
  const out: LlmCall[] = [];
  for (let i = 0; i < count; i++) out.push(readCall(r, version));
  if (r.pos !== payload.length) throw new RangeError('llm_calls record: trailing bytes');
  return out;
}

/** The number of calls in a record written by {@link encodeLlmCalls} (its header only). */
export function llmCallsCount(payload: Buffer): number {
  const r = new Reader(payload);
  r.byte();
  r.byte();
  return r.varint();
}

/** What a decoded LlmCall is taken to occupy in memory, for the log's in-memory window. */
const LLM_CALL_MEMORY_BYTES = 1024;

/**
 * The `llm_calls` log-record codec. Its records count {@link LLM_CALL_MEMORY_BYTES} per call in the
 * log's memory window (V8's format took ~950 bytes per call).
 */
export const llmCallsCodec: RecordCodec<LlmCall[]> = {
  tag: LLM_CALLS_TAG,
  encode: encodeLlmCalls,
  decode: decodeLlmCalls,
  memoryBytes: (payload) => Math.max(payload.length, llmCallsCount(payload) * LLM_CALL_MEMORY_BYTES),
};
