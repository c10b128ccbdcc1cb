/**
 * Single-pass OTLP/protobuf decoder: `ExportTraceServiceRequest` bytes → {@link SpanBatch}, reading with
 * protobufjs' `Reader` (varints, tags, lengths, UTF-8, skipping) straight into the SpanBatch objects, with no
 * intermediate message objects (no KeyValue / AnyValue / Long / Buffer-view allocations per field).
 *
 * It reproduces, on purpose and field for field, what protobufjs' generated decoder (the reference,
 * `decodeOtlpProtoReference` in ./proto.ts) followed by the conversion to SpanBatch produces, so that the two
 * agree on every input (test/otlp-decode-equivalence.test.ts checks that on random valid and malformed
 * requests):
 * - a field with the wrong wire type is skipped like an unknown field; field number 0, bad wire types and
 *   unterminated groups are errors (all via `Reader.skipType`);
 * - a sub-message's length must fit its parent and be consumed exactly ("index out of range");
 * - nesting deeper than `Reader.recursionLimit` (100) is an error ("max depth exceeded");
 * - a singular message field that occurs twice is merged (protobuf semantics): `resource`, `scope` and
 *   `status` keep filling the same object; an `AnyValue` occurring twice keeps the member of highest
 *   precedence (string, int, double, bool, array, kvlist, bytes — the order the reference reads them in),
 *   arrays are concatenated and kvlists merged, exactly as merging the messages first would give;
 * - ids of the wrong length are reported after the whole body parsed (wire errors win, as in the
 *   reference, which converts only after protobufjs decoded everything), first in the reference's order;
 * - invalid UTF-8 becomes U+FFFD (Node's `utf8Slice`, which protobufjs' BufferReader uses): inputs that are
 *   not Buffers are wrapped in one (no copy) so this holds for every caller.
 *
 * Ids become lower-case hex with Node's native hex encoder on the request buffer (one flat string per id).
 * Times (fixed64) are read as one bigint with `DataView.getBigUint64`; int64 values that fit in 4 varint
 * bytes are read with `Reader.uint32` (exact below 2^28), longer ones with `Reader.int64`.
 * Why it is written this way, with the measurements: docs/design/decoding.md.
 */
import protobuf from 'protobufjs';
import {
  newAttributes,
  type AttrValue,
  type Attributes,
  type InstrumentationScope,
  type Resource,
  type ResourceSpans,
  type ScopeSpans,
  type Span,
  type SpanBatch,
  type SpanEvent,
  type SpanLink,
  type SpanStatus,
} from '../data/span.js';
import { OtlpDecodeError } from './json.js';

type Reader = protobuf.Reader;
const { Reader } = protobuf;

// Per-call state. Decoding is synchronous, so module state is safe; it is cleared after each call so that
// it does not keep a request buffer alive.
let buf: Buffer = Buffer.alloc(0);
let view: DataView = new DataView(new ArrayBuffer(0));
/** The first id-length error, thrown once the whole body parsed (see the file comment). */
let deferred: OtlpDecodeError | null = null;
/** The span attributes to keep (see {@link DecodeOptions.spanAttributes}); null = all. */
let keep: ReadonlySet<string> | null = null;
/** The attributes without all of which a span is left out (see {@link DecodeOptions.spanSelector}); null = none. */
let select: readonly string[] | null = null;
/** `select` for the last selector set seen (one set per pipeline: computed once, not per request). */
let selectFor: ReadonlySet<string> | null = null;
let selectList: readonly string[] | null = null;
/** Spans left out by `select`, with both ids and without one. */
let omittedValid = 0;
let omittedInvalid = 0;

const TWO32 = 4294967296;

/**
 * Enters a length-delimited sub-message at depth `q` exactly as protobufjs' generated decoder does: length
 * prefix, depth check, bounds check, then the reader's limit is narrowed to the sub-message. Returns the
 * parent's limit, to be given back to {@link leave}.
 */
function enter(r: Reader, q: number): number {
  const l = r.size();
  if (q > Reader.recursionLimit) throw Error('max depth exceeded');
  const c = r.pos + l;
  if (c > r.len) throw RangeError('index out of range');
  const parent = r.len;
  r.len = c;
  return parent;
}

function leave(r: Reader, parent: number): void {
  if (r.pos !== r.len) throw RangeError('index out of range');
  r.len = parent;
}

/** A fixed64 as an unsigned bigint (Reader.fixed64's bounds check and message, without a Long). */
function fixed64(r: Reader): bigint {
  if (r.pos + 8 > r.len) throw RangeError(`index out of range: ${r.pos} + 8 > ${r.len}`);
  const v = view.getBigUint64(r.pos, true);
  r.pos += 8;
  return v;
}

/** An int64 varint as a signed bigint. */
function int64(r: Reader): bigint {
  const start = r.pos;
  const small = r.uint32();
  if (r.pos - start <= 4) return BigInt(small); // at most 28 bits: exact and non-negative
  r.pos = start;
  const v = r.int64() as unknown as { low: number; high: number } | number;
  if (typeof v === 'number') return BigInt(v); // protobufjs without the long package (not our case)
  const hi = v.high >>> 0;
  const lo = v.low >>> 0;
  if (hi < 0x200000) return BigInt(hi * TWO32 + lo); // < 2^53, non-negative: exact as a double
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** Skips a length-delimited field, returning where its bytes start (the length is then `r.pos - start`). */
function bytesStart(r: Reader): number {
  const n = r.size();
  const start = r.pos;
  r.skip(n); // same bounds check and message as Reader.bytes
  return start;
}

/** Node's native Buffer methods that `buf.toString(enc, start, end)` dispatches to (protobufjs uses utf8Slice too). */
type NodeBuffer = Buffer & { utf8Slice(start: number, end: number): string; hexSlice(start: number, end: number): string };

/**
 * Small caches of decoded short strings, one for attribute keys and one for values and names: a request
 * repeats a few dozen keys and many short values, and a hit returns the string decoded earlier (no native
 * call, no allocation). Only pure-ASCII strings are cached, with their bytes as 32-bit words to compare;
 * each string may sit in one of two slots, the least recently used of which a new one replaces.
 * Why two slots, with the miss rates: docs/design/decoding.md ("String caches").
 */
const CACHE_BITS = 10;
const CACHE_SIZE = 1 << CACHE_BITS;
const CACHE_MAX_BYTES = 48;
const CACHE_WORDS = CACHE_MAX_BYTES / 4;

interface StringCache {
  strings: string[];
  /** The bytes of `strings[slot]`: CACHE_WORDS words per slot (only the first `length >> 2` are used). */
  words: Int32Array;
  /** When each slot was last hit or filled (a counter; the least recent of two candidates is replaced). */
  used: Uint32Array;
  clock: number;
}
const newCache = (): StringCache => ({
  strings: new Array<string>(CACHE_SIZE).fill(''),
  words: new Int32Array(CACHE_SIZE * CACHE_WORDS),
  used: new Uint32Array(CACHE_SIZE),
  clock: 0,
});
const keyCache = newCache();
const valueCache = newCache();

/**
 * For the projection: whether the key cached in each slot of `keyCache` is one of the kept span
 * attributes (0 = not known yet, 1 = kept, 2 = not kept), so that a repeated key is looked up in the
 * set once. Valid for the set in `verdictsFor`; a slot's verdict is reset when its string changes.
 */
const verdicts = new Uint8Array(CACHE_SIZE);
let verdictsFor: ReadonlySet<string> | null = null;
/** The selector the verdicts were made for: a kept key that is also a selector key gets verdict 3. */
let verdictsSel: ReadonlySet<string> | null = null;
/** Set when the current span stored an attribute whose key is a selector key (its value may be null). */
let sawSelector = false;
/** The `keyCache` slot that holds the string the last `str(r, keyCache)` returned, or -1. */
let lastSlot = -1;

/**
 * Whether `key` (returned by `str(r, keyCache)` with slot `slot`) is in `wanted`; notes in
 * `sawSelector` when it is also one of the selector's keys.
 */
function isWanted(key: string, slot: number, wanted: ReadonlySet<string>): boolean {
  let v = slot < 0 ? 0 : verdicts[slot]!;
  if (v === 0) {
    v = !wanted.has(key) ? 2 : verdictsSel !== null && verdictsSel.has(key) ? 3 : 1;
    if (slot >= 0) verdicts[slot] = v;
  }
  if (v === 3) sawSelector = true;
  return v !== 2;
}

/** Whether `slot` of `cache` holds the `n` bytes at `start`. */
function holds(cache: StringCache, slot: number, b: Buffer, start: number, n: number): boolean {
  const hit = cache.strings[slot]!;
  if (hit.length !== n) return false;
  const words = cache.words;
  const w0 = slot * CACHE_WORDS;
  const nw = n >> 2;
  for (let i = 0; i < nw; i++) if (view.getInt32(start + 4 * i, true) !== words[w0 + i]) return false;
  for (let j = nw << 2; j < n; j++) if (b[start + j] !== hit.charCodeAt(j)) return false;
  return true;
}

/** Reads a string field (Reader.string's length prefix, bounds check and message; Node's utf8Slice). */
function str(r: Reader, cache: StringCache): string {
  const start = bytesStart(r);
  return strAt(start, r.pos, cache);
}

/** The string of the bytes [start, end) of the request, through `cache` (see {@link str}). */
function strAt(start: number, end: number, cache: StringCache): string {
  const n = end - start;
  lastSlot = -1;
  if (n === 0) return '';
  const b = buf as NodeBuffer;
  if (n > CACHE_MAX_BYTES) return b.utf8Slice(start, end);
  const h = hashOf(b, start, end, n);
  const s1 = firstSlot(h);
  let slot = s1;
  if (!holds(cache, s1, b, start, n)) {
    slot = secondSlot(h, s1);
    if (!holds(cache, slot, b, start, n)) return miss(cache, b, start, end, n, cache.used[s1]! <= cache.used[slot]! ? s1 : slot);
  }
  cache.used[slot] = ++cache.clock;
  lastSlot = slot;
  return cache.strings[slot]!;
}

/** Decodes a string not in the cache and, if it is pure ASCII, puts it in `slot`. */
function miss(cache: StringCache, b: NodeBuffer, start: number, end: number, n: number, slot: number): string {
  const s = b.utf8Slice(start, end);
  if (s.length === n && isAscii(b, start, end)) {
    cache.strings[slot] = s;
    cache.used[slot] = ++cache.clock;
    if (cache === keyCache) verdicts[slot] = 0;
    lastSlot = slot;
    const w0 = slot * CACHE_WORDS;
    for (let i = 0, nw = n >> 2; i < nw; i++) cache.words[w0 + i] = view.getInt32(start + 4 * i, true);
  }
  return s;
}

/**
 * A hash of the `n` bytes at `start`, from the first, the middle and the last four bytes; every bit of
 * them reaches the top and the bottom bits (the two slots) through the final multiplication. Strings of
 * one family that differ in a byte or two (`user-15` / `user-25`) differ in it unless the differing bytes
 * are all outside those twelve.
 */
function hashOf(b: Buffer, start: number, end: number, n: number): number {
  if (n < 4) return Math.imul(n * 131 + b[start]! * 31 + b[end - 1]! * 7, 0x27d4eb2f);
  const h =
    Math.imul(view.getInt32(start, true) + n, 0x9e3779b1) ^
    Math.imul(view.getInt32(start + ((n - 4) >> 1), true), 0x85ebca77) ^
    Math.imul(view.getInt32(end - 4, true), 0xc2b2ae3d);
  const x = Math.imul(h ^ (h >>> 15), 0x27d4eb2f);
  return x ^ (x >>> 13);
}

const firstSlot = (h: number): number => h >>> (32 - CACHE_BITS);
/** Never the first slot. */
const secondSlot = (h: number, s1: number): number => (h & (CACHE_SIZE - 1)) ^ (s1 === (h & (CACHE_SIZE - 1)) ? 1 : 0);

/** For tests: empties both string caches (and the key verdicts). */
export function resetStringCaches(): void {
  for (const c of [keyCache, valueCache]) {
    c.strings.fill('');
    c.words.fill(0);
    c.used.fill(0);
    c.clock = 0;
  }
  verdicts.fill(0);
}

/** For tests: the two cache slots a string of these bytes may occupy. */
export function stringCacheSlots(bytes: Uint8Array): [number, number] {
  const b = asBuffer(bytes);
  view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    const h = hashOf(b, 0, b.length, b.length);
    const s1 = firstSlot(h);
    return [s1, secondSlot(h, s1)];
  } finally {
    view = EMPTY_VIEW;
  }
}

function isAscii(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/**
 * An id as lower-case hex ('' when absent); a wrong length is recorded as the error to throw once the body
 * parsed. `link` is the link's index, or -1 for the span's own ids (the location is only built on error).
 */
function hexId(start: number, end: number, bytes: number, i: number, j: number, k: number, link: number, field: string): string {
  return checkId(start, end, bytes, i, j, k, link, field) ? (buf as NodeBuffer).hexSlice(start, end) : '';
}

/**
 * Whether an id is present and of the right length; a wrong length is recorded as the error to throw once
 * the body parsed (`link` as in {@link hexId}).
 */
function checkId(start: number, end: number, bytes: number, i: number, j: number, k: number, link: number, field: string): boolean {
  const n = end - start;
  if (n === 0) return false;
  if (n !== bytes) {
    deferred ??= new OtlpDecodeError(`${spanLoc(i, j, k)}.${link < 0 ? '' : `links[${link}].`}${field}: must be ${bytes} bytes, got ${n}`);
    return false;
  }
  return true;
}

const spanLoc = (i: number, j: number, k: number) => `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;

// ---------------------------------------------------------------------------------------------
// Attributes.

/** Precedence of an AnyValue member, lower wins (the order the reference converter tests them in). */
function rank(v: AttrValue): number {
  switch (typeof v) {
    case 'string':
      return 0;
    case 'bigint':
      return 1;
    case 'number':
      return 2;
    case 'boolean':
      return 3;
    default:
      if (v === null) return 7;
      if (Array.isArray(v)) return 4;
      if (v instanceof Uint8Array) return 6;
      return 5;
  }
}

/**
 * The value of two occurrences of the same AnyValue merged (rare: a second member, or the field repeated).
 * Merging whole messages keeps every member present and the converter picks the one of highest precedence;
 * that member's value only ever came from occurrences where it already was the highest, so merging the
 * already-picked values gives the same result.
 */
function mergeAny(prev: AttrValue, next: AttrValue): AttrValue {
  const a = rank(prev);
  const b = rank(next);
  if (b < a) return next;
  if (b > a) return prev;
  if (a === 4) {
    for (const x of next as AttrValue[]) (prev as AttrValue[]).push(x);
    return prev;
  }
  if (a === 5) {
    Object.assign(prev as Record<string, AttrValue>, next);
    return prev;
  }
  return next;
}

function anyValue(r: Reader, q: number): AttrValue {
  const parent = enter(r, q);
  let cur: AttrValue | undefined;
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    let v: AttrValue;
    switch (f) {
      case 1:
        if (u !== 2) break;
        v = str(r, valueCache);
        cur = cur === undefined ? v : mergeAny(cur, v);
        continue;
      case 2:
        if (u !== 0) break;
        v = r.bool();
        cur = cur === undefined ? v : mergeAny(cur, v);
        continue;
      case 3:
        if (u !== 0) break;
        v = int64(r);
        cur = cur === undefined ? v : mergeAny(cur, v);
        continue;
      case 4:
        if (u !== 1) break;
        v = r.double();
        cur = cur === undefined ? v : mergeAny(cur, v);
        continue;
      case 5: {
        if (u !== 2) break;
        const p = enter(r, q + 1);
        const arr: AttrValue[] = [];
        while (r.pos < r.len) {
          const t2 = r.tag();
          if (t2 >>> 3 === 1 && (t2 & 7) === 2) arr.push(anyValue(r, q + 2));
          else r.skipType(t2 & 7, q + 1, t2 >>> 3);
        }
        leave(r, p);
        cur = cur === undefined ? arr : mergeAny(cur, arr);
        continue;
      }
      case 6: {
        if (u !== 2) break;
        const p = enter(r, q + 1);
        const kv = Object.create(null) as Record<string, AttrValue>;
        while (r.pos < r.len) {
          const t2 = r.tag();
          if (t2 >>> 3 === 1 && (t2 & 7) === 2) keyValue(r, q + 2, kv);
          else r.skipType(t2 & 7, q + 1, t2 >>> 3);
        }
        leave(r, p);
        cur = cur === undefined ? kv : mergeAny(cur, kv);
        continue;
      }
      case 7: {
        if (u !== 2) break;
        const start = bytesStart(r);
        // A copy, so that a small value does not keep the whole request buffer alive.
        v = new Uint8Array(buf.subarray(start, r.pos));
        cur = cur === undefined ? v : mergeAny(cur, v);
        continue;
      }
      case 8: // string_value_strindex (profiles only): read for its errors, not kept (as the reference)
        if (u !== 0) break;
        r.int32();
        continue;
    }
    r.skipType(u, q, f);
  }
  leave(r, parent);
  return cur === undefined ? null : cur;
}

/**
 * A varint of at most `max` bytes at `p` (of the request buffer, before `end`), as `varintValue`
 * and the position after it in `varintEnd`; false when it is longer, unterminated or runs past `end`.
 */
let varintValue = 0;
let varintEnd = 0;
function smallVarint(p: number, end: number, max: number): boolean {
  const b = buf;
  let v = 0;
  for (let k = 0; k < max; k++) {
    if (p + k >= end) return false;
    const c = b[p + k]!;
    v |= (c & 0x7f) << (7 * k);
    if (c < 0x80) {
      varintValue = v;
      varintEnd = p + k + 1;
      return true;
    }
  }
  return false;
}

/**
 * The KeyValue at `r.pos` (its length prefix first) read in one go when it has the form every OTel
 * SDK writes: the key (field 1), then the value (field 2) holding one member — a string, a bool, an
 * int below 2^28 or a double — or none, with nothing else and every length in bounds. Such a message
 * cannot fail, and {@link keyValue} / {@link keyValueIfWanted} would read it to the same attribute
 * (the same string caches, the same conversions). Anything else — another field order, repeated or
 * unknown fields, nested values, long varints, a bound crossed — returns false having moved nothing,
 * and the caller reads the message the general way, with its checks and errors. `q` is the
 * KeyValue's depth: the general path refuses nesting past the reader's limit, so must this one.
 */
function simpleKeyValue(r: Reader, q: number, out: Record<string, AttrValue>, wanted: ReadonlySet<string> | null): boolean {
  if (q >= Reader.recursionLimit) return false; // its AnyValue would be one level deeper
  const b = buf;
  const limit = r.len;
  if (!smallVarint(r.pos, limit, 3)) return false;
  const end = varintEnd + varintValue;
  if (end > limit) return false;
  const p = varintEnd;
  // The key: tag 1, length-delimited.
  if (p >= end || b[p] !== 0x0a || !smallVarint(p + 1, end, 2)) return false;
  const ks = varintEnd;
  const ke = ks + varintValue;
  // The value: tag 2, length-delimited, ending the message.
  if (ke >= end || b[ke] !== 0x12 || !smallVarint(ke + 1, end, 3)) return false;
  const vs = varintEnd;
  if (vs + varintValue !== end) return false;
  let kind = 0; // 0 none, 1 string, 2 bool, 3 int, 4 double
  let from = 0; // string start / number value
  if (vs < end) {
    switch (b[vs]) {
      case 0x0a: // string_value
        if (!smallVarint(vs + 1, end, 3) || varintEnd + varintValue !== end) return false;
        kind = 1;
        from = varintEnd;
        break;
      case 0x10: // bool_value
        if (!smallVarint(vs + 1, end, 1) || varintEnd !== end) return false;
        kind = 2;
        from = varintValue;
        break;
      case 0x18: // int_value, as int64() reads it when at most 4 bytes long
        if (!smallVarint(vs + 1, end, 4) || varintEnd !== end) return false;
        kind = 3;
        from = varintValue;
        break;
      case 0x21: // double_value
        if (vs + 9 !== end) return false;
        kind = 4;
        break;
      default:
        return false;
    }
  }
  r.pos = end;
  const key = strAt(ks, ke, keyCache);
  if (wanted !== null && !isWanted(key, lastSlot, wanted)) return true;
  let value: AttrValue;
  if (kind === 1) value = strAt(from, end, valueCache);
  else if (kind === 2) value = from !== 0;
  else if (kind === 3) value = BigInt(from);
  else if (kind === 4) value = view.getFloat64(vs + 1, true);
  else value = null;
  out[key] = value;
  return true;
}

/** Decodes one KeyValue into `out` (the last of equal keys wins). */
function keyValue(r: Reader, q: number, out: Record<string, AttrValue>): void {
  if (simpleKeyValue(r, q, out, null)) return;
  const parent = enter(r, q);
  let key = '';
  let value: AttrValue | undefined;
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) key = str(r, keyCache);
    else if (f === 2 && u === 2) {
      const v = anyValue(r, q + 1);
      value = value === undefined ? v : mergeAny(value, v);
    } else if (f === 3 && u === 0)
      r.int32(); // key_strindex (profiles only)
    else r.skipType(u, q, f);
  }
  leave(r, parent);
  out[key] = value === undefined ? null : value;
}

/**
 * Reads past an AnyValue without building it, with exactly the reads — hence the checks and errors — of
 * {@link anyValue} (strings and bytes are bounds-checked but not decoded or copied).
 */
function skipAnyValue(r: Reader, q: number): void {
  const parent = enter(r, q);
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    switch (f) {
      case 1:
      case 7:
        if (u !== 2) break;
        bytesStart(r);
        continue;
      case 2:
        if (u !== 0) break;
        r.bool();
        continue;
      case 3:
        if (u !== 0) break;
        int64(r);
        continue;
      case 4:
        if (u !== 1) break;
        r.double();
        continue;
      case 5:
        if (u !== 2) break;
        skipList(r, q, skipAnyValue);
        continue;
      case 6:
        if (u !== 2) break;
        skipList(r, q, skipKeyValue);
        continue;
      case 8:
        if (u !== 0) break;
        r.int32();
        continue;
    }
    r.skipType(u, q, f);
  }
  leave(r, parent);
}

/** Reads past an ArrayValue or a KeyValueList (field 1 repeated), each item with `item`, as {@link anyValue} reads them. */
function skipList(r: Reader, q: number, item: (r: Reader, q: number) => void): void {
  const p = enter(r, q + 1);
  while (r.pos < r.len) {
    const t = r.tag();
    if (t >>> 3 === 1 && (t & 7) === 2) item(r, q + 2);
    else r.skipType(t & 7, q + 1, t >>> 3);
  }
  leave(r, p);
}

/** Reads past a KeyValue without building it, with the reads of {@link keyValue}. */
function skipKeyValue(r: Reader, q: number): void {
  const parent = enter(r, q);
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) bytesStart(r);
    else if (f === 2 && u === 2) skipAnyValue(r, q + 1);
    else if (f === 3 && u === 0) r.int32();
    else r.skipType(u, q, f);
  }
  leave(r, parent);
}

/**
 * {@link keyValue} for a span attribute when only the keys in `wanted` are kept: the value of any other key
 * is read past (same checks, nothing built) and the attribute left out. The key usually precedes the value;
 * when it does not, or when a repeated key field changes the verdict after a value was skipped, the
 * message is read again in full, so the kept attributes are exactly those {@link keyValue} gives.
 */
function keyValueIfWanted(r: Reader, q: number, out: Record<string, AttrValue>, wanted: ReadonlySet<string>): void {
  if (simpleKeyValue(r, q, out, wanted)) return;
  const start = r.pos;
  const parent = enter(r, q);
  let key: string | undefined;
  let slot = -1;
  let skipped = false;
  let value: AttrValue | undefined;
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) {
      key = str(r, keyCache);
      slot = lastSlot;
    } else if (f === 2 && u === 2) {
      if (key !== undefined && !isWanted(key, slot, wanted)) {
        skipAnyValue(r, q + 1);
        skipped = true;
      } else {
        const v = anyValue(r, q + 1);
        value = value === undefined ? v : mergeAny(value, v);
      }
    } else if (f === 3 && u === 0) r.int32();
    else r.skipType(u, q, f);
  }
  leave(r, parent);
  const k = key ?? '';
  if (!isWanted(k, slot, wanted)) return; // slot is -1 without a key field
  if (skipped) {
    // Rare: the key changed from an unwanted to a wanted one after a value was skipped.
    const end = r.pos;
    r.pos = start;
    keyValue(r, q, out);
    r.pos = end;
    return;
  }
  out[k] = value === undefined ? null : value;
}

/** Skips a sub-message we do not keep, with the checks the reference's decoder applies to it. */
function skipMessage(r: Reader, q: number): void {
  const parent = enter(r, q);
  while (r.pos < r.len) {
    const t = r.tag();
    r.skipType(t & 7, q, t >>> 3);
  }
  leave(r, parent);
}

// ---------------------------------------------------------------------------------------------
// Trace messages.

function event(r: Reader, q: number): SpanEvent {
  const parent = enter(r, q);
  let time = 0n;
  let name = '';
  const attributes: Record<string, AttrValue> = newAttributes();
  let dropped = 0;
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 1) time = fixed64(r);
    else if (f === 2 && u === 2) name = str(r, valueCache);
    else if (f === 3 && u === 2) keyValue(r, q + 1, attributes);
    else if (f === 4 && u === 0) dropped = r.uint32();
    else r.skipType(u, q, f);
  }
  leave(r, parent);
  return { timeUnixNano: time, name, attributes, droppedAttributesCount: dropped };
}

function link(r: Reader, q: number, i: number, j: number, k: number, n: number): SpanLink {
  const parent = enter(r, q);
  let tS = 0;
  let tE = 0;
  let sS = 0;
  let sE = 0;
  let traceState = '';
  const attributes: Record<string, AttrValue> = newAttributes();
  let dropped = 0;
  let flags = 0;
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) {
      tS = bytesStart(r);
      tE = r.pos;
    } else if (f === 2 && u === 2) {
      sS = bytesStart(r);
      sE = r.pos;
    } else if (f === 3 && u === 2) traceState = str(r, valueCache);
    else if (f === 4 && u === 2) keyValue(r, q + 1, attributes);
    else if (f === 5 && u === 0) dropped = r.uint32();
    else if (f === 6 && u === 5) flags = r.fixed32();
    else r.skipType(u, q, f);
  }
  leave(r, parent);
  return {
    traceId: hexId(tS, tE, 16, i, j, k, n, 'traceId'),
    spanId: hexId(sS, sE, 8, i, j, k, n, 'spanId'),
    traceState,
    attributes,
    droppedAttributesCount: dropped,
    flags,
  };
}

function status(r: Reader, q: number, s: SpanStatus): void {
  const parent = enter(r, q);
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 2 && u === 2) s.message = str(r, valueCache);
    else if (f === 3 && u === 0) s.code = r.int32();
    else r.skipType(u, q, f);
  }
  leave(r, parent);
}

/** One span attribute: every one, or only those in `keep`. */
function spanAttribute(r: Reader, q: number, attributes: Record<string, AttrValue>): void {
  if (keep === null) keyValue(r, q, attributes);
  else keyValueIfWanted(r, q, attributes, keep);
}

/**
 * A span the selector leaves out: its ids are checked as a kept span's are (the same deferred
 * errors) and counted; nothing is built.
 */
function leaveOut(tS: number, tE: number, sS: number, sE: number, pS: number, pE: number, i: number, j: number, k: number): null {
  const t = checkId(tS, tE, 16, i, j, k, -1, 'traceId');
  const s = checkId(sS, sE, 8, i, j, k, -1, 'spanId');
  checkId(pS, pE, 8, i, j, k, -1, 'parentSpanId');
  if (t && s) omittedValid++;
  else omittedInvalid++;
  return null;
}

/**
 * One span: the field loop reads ids as byte ranges (hex strings are made only for a kept span),
 * attributes through {@link spanAttribute}, then the selector decides whether the span is built.
 */
function span(r: Reader, q: number, i: number, j: number, k: number): Span | null {
  const parent = enter(r, q);
  sawSelector = false;
  let tS = 0;
  let tE = 0;
  let sS = 0;
  let sE = 0;
  let pS = 0;
  let pE = 0;
  let traceState = '';
  let flags = 0;
  let name = '';
  let kind = 0;
  let start = 0n;
  let end = 0n;
  const attributes: Record<string, AttrValue> = newAttributes();
  let droppedAttributes = 0;
  const events: SpanEvent[] = [];
  let droppedEvents = 0;
  const links: SpanLink[] = [];
  let droppedLinks = 0;
  let st: SpanStatus | null = null;
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    switch (f) {
      case 1:
        if (u !== 2) break;
        tS = bytesStart(r);
        tE = r.pos;
        continue;
      case 2:
        if (u !== 2) break;
        sS = bytesStart(r);
        sE = r.pos;
        continue;
      case 3:
        if (u !== 2) break;
        traceState = str(r, valueCache);
        continue;
      case 4:
        if (u !== 2) break;
        pS = bytesStart(r);
        pE = r.pos;
        continue;
      case 5:
        if (u !== 2) break;
        name = str(r, valueCache);
        continue;
      case 6:
        if (u !== 0) break;
        kind = r.int32();
        continue;
      case 7:
        if (u !== 1) break;
        start = fixed64(r);
        continue;
      case 8:
        if (u !== 1) break;
        end = fixed64(r);
        continue;
      case 9:
        if (u !== 2) break;
        spanAttribute(r, q + 1, attributes);
        continue;
      case 10:
        if (u !== 0) break;
        droppedAttributes = r.uint32();
        continue;
      case 11:
        if (u !== 2) break;
        events.push(event(r, q + 1));
        continue;
      case 12:
        if (u !== 0) break;
        droppedEvents = r.uint32();
        continue;
      case 13:
        if (u !== 2) break;
        links.push(link(r, q + 1, i, j, k, links.length));
        continue;
      case 14:
        if (u !== 0) break;
        droppedLinks = r.uint32();
        continue;
      case 15:
        if (u !== 2) break;
        status(r, q + 1, (st ??= { code: 0, message: '' }));
        continue;
      case 16:
        if (u !== 5) break;
        flags = r.fixed32();
        continue;
    }
    r.skipType(u, q, f);
  }
  leave(r, parent);
  // Only a span that stored a selector key can have one (the check then reads the values kept).
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- isWanted() sets it while the field loop reads attributes; the compiler does not follow the calls
  if (select !== null && (!sawSelector || !selected(attributes, select))) return leaveOut(tS, tE, sS, sE, pS, pE, i, j, k);
  return {
    traceId: hexId(tS, tE, 16, i, j, k, -1, 'traceId'),
    spanId: hexId(sS, sE, 8, i, j, k, -1, 'spanId'),
    traceState,
    parentSpanId: hexId(pS, pE, 8, i, j, k, -1, 'parentSpanId'),
    flags,
    name,
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes,
    droppedAttributesCount: droppedAttributes,
    events,
    droppedEventsCount: droppedEvents,
    links,
    droppedLinksCount: droppedLinks,
    status: st ?? { code: 0, message: '' },
  };
}

function scope(r: Reader, q: number, s: InstrumentationScope): void {
  const parent = enter(r, q);
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) s.name = str(r, valueCache);
    else if (f === 2 && u === 2) s.version = str(r, valueCache);
    else if (f === 3 && u === 2) keyValue(r, q + 1, s.attributes);
    else if (f === 4 && u === 0) s.droppedAttributesCount = r.uint32();
    else r.skipType(u, q, f);
  }
  leave(r, parent);
}

function scopeSpans(r: Reader, q: number, i: number, j: number): ScopeSpans {
  const parent = enter(r, q);
  let sc: InstrumentationScope | null = null;
  let schemaUrl = '';
  const spans: Span[] = [];
  let k = 0; // the span's index on the wire (for error locations), also when spans are left out
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 2 && u === 2) {
      const s = span(r, q + 1, i, j, k++);
      if (s !== null) spans.push(s);
    } else if (f === 1 && u === 2) scope(r, q + 1, (sc ??= { name: '', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }));
    else if (f === 3 && u === 2) schemaUrl = str(r, valueCache);
    else r.skipType(u, q, f);
  }
  leave(r, parent);
  return { scope: sc ?? { name: '', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl, spans };
}

function resource(r: Reader, q: number, res: Resource): void {
  const parent = enter(r, q);
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) keyValue(r, q + 1, res.attributes);
    else if (f === 2 && u === 0) res.droppedAttributesCount = r.uint32();
    else if (f === 3 && u === 2)
      skipMessage(r, q + 1); // entity_refs: not part of SpanBatch
    else r.skipType(u, q, f);
  }
  leave(r, parent);
}

function resourceSpans(r: Reader, q: number, i: number): ResourceSpans {
  const parent = enter(r, q);
  let res: Resource | null = null;
  let schemaUrl = '';
  const list: ScopeSpans[] = [];
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 2 && u === 2) list.push(scopeSpans(r, q + 1, i, list.length));
    else if (f === 1 && u === 2) resource(r, q + 1, (res ??= { attributes: newAttributes(), droppedAttributesCount: 0 }));
    else if (f === 3 && u === 2) schemaUrl = str(r, valueCache);
    else r.skipType(u, q, f);
  }
  leave(r, parent);
  return { resource: res ?? { attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl, scopeSpans: list };
}

function request(r: Reader): SpanBatch {
  const list: ResourceSpans[] = [];
  while (r.pos < r.len) {
    const t = r.tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) list.push(resourceSpans(r, 1, list.length));
    else r.skipType(u, 0, f);
  }
  return omittedValid + omittedInvalid > 0 ? { resourceSpans: list, omitted: { valid: omittedValid, invalid: omittedInvalid } } : { resourceSpans: list };
}

/** Wraps a Uint8Array in a Buffer without copying (so that strings are decoded by Node's utf8Slice). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export interface DecodeOptions {
  /**
   * Keep only these keys of each span's own attributes (resource, scope, event and link attributes are
   * kept whole). The others are still read and checked — a request is accepted or refused, with the same
   * error, exactly as without this option — but their values are not built. For pipelines whose consumers
   * read a known few attributes (see `Consumer.spanAttributes`). Absent: every attribute.
   */
  spanAttributes?: ReadonlySet<string> | undefined;
  /**
   * With `spanAttributes` (which must contain them): leave out spans that have none of the attributes of
   * `spanSelector` (absent or null; see `Consumer.spanSelector`). They are still read and checked as above, and counted in the
   * batch's `omitted` (with both ids, or without one).
   */
  spanSelector?: ReadonlySet<string> | undefined;
}

/** True when the span has at least one of the selector's attributes (not null). */
function selected(attributes: Attributes, keys: readonly string[]): boolean {
  for (let i = 0; i < keys.length; i++) {
    const v = attributes[keys[i]!];
    if (v !== undefined && v !== null) return true;
  }
  return false;
}

function selectorList(keep: ReadonlySet<string> | null, selector: ReadonlySet<string> | undefined): readonly string[] | null {
  if (keep === null || selector === undefined || selector.size === 0) return null;
  if (selector !== selectFor) {
    selectFor = selector;
    selectList = [...selector];
  }
  // A selector attribute that is not kept could never be seen: select nothing out then.
  for (const k of selectList!) if (!keep.has(k)) return null;
  return selectList;
}

/**
 * Decodes a binary OTLP `ExportTraceServiceRequest` in one pass. Throws {@link OtlpDecodeError} on malformed
 * input, with the same message as the reference decoder.
 */
export function decodeTraceRequest(input: Uint8Array, opts?: DecodeOptions): SpanBatch {
  buf = asBuffer(input);
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  deferred = null;
  keep = opts?.spanAttributes ?? null;
  select = selectorList(keep, opts?.spanSelector);
  const sel = select === null ? null : (opts!.spanSelector as ReadonlySet<string>);
  omittedValid = 0;
  omittedInvalid = 0;
  if (keep !== null && (keep !== verdictsFor || sel !== verdictsSel)) {
    verdicts.fill(0);
    verdictsFor = keep;
    verdictsSel = sel;
  }
  try {
    const batch = request(Reader.create(buf));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition, @typescript-eslint/only-throw-error -- request() sets it while decoding; the compiler does not follow the call
    if (deferred) throw deferred;
    return batch;
  } catch (e) {
    if (e instanceof OtlpDecodeError) throw e;
    throw new OtlpDecodeError(`invalid protobuf: ${(e as Error).message}`);
  } finally {
    buf = EMPTY;
    view = EMPTY_VIEW;
    deferred = null;
    keep = null;
    select = null;
  }
}

const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
