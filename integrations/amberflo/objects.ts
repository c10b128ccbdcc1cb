/**
 * Amberflo's object format (docs/mapping.md, "Objects"): a gzip JSON array of meter records under
 * `<path>/YYYY/MM/DD/HH/mm/merged_logs_<8 hex>.json.gz`, the minute of the first record. The
 * same records (in the same order, with the same key order) always give the same bytes and the
 * same key, so a re-upload after a retry, a crash or a replay finds the same object instead of
 * adding one (and the exporters never write over an object with other records:
 * putWithoutReplacing in src/output/encode.ts, with {@link alternateKey}). The bodies posted to the
 * ingest API are the same objects.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { crc32, gunzip } from 'node:zlib';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { joinKey, stableGzip, stableGzipAsync, type EncodedObject, type ObjectFormat } from '../../src/output/encode.js';
import type { ReportFormat } from '../../src/report/command.js';
import { METERS } from './mapping.js';
import { Type } from '../../src/config/declare.js';

const gunzipAsync = promisify(gunzip);

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `YYYY/MM/DD/HH/mm` of a time, in UTC. */
export function minutePartition(timeMs: number): string {
  const d = new Date(Number.isFinite(timeMs) ? timeMs : 0);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${pad(d.getUTCMinutes())}`;
}

/**
 * The 8 lower-case hex suffix: the CRC-32 (the gzip trailer's checksum, ISO 3309) of the
 * uncompressed JSON. A function of the content alone, whatever the zlib build or CPU that
 * compressed it. A 32-bit suffix can collide (see {@link alternateKey}); the gzip stream computes
 * the CRC anyway (why not a cryptographic hash: docs/design/objects.md).
 */
export function contentSuffix(json: Uint8Array | string): string {
  return hex32(crc32(json));
}

/** {@link contentSuffix} of a gzip member's content, read from its trailer (CRC-32, little-endian). */
function gzipSuffix(gz: Buffer): string {
  return hex32(gz.readUInt32LE(gz.length - 8));
}

const hex32 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/**
 * The `attempt`-th other key for an object whose key is taken by another object (two batches whose
 * JSON has the same CRC-32: in one minute's partition of n objects that happens
 * with probability about n² / 2^33, e.g. once in a hundred runs of the crash test's 9,000 objects,
 * and an object written under a taken key replaced the other). The same key and attempt always
 * give the same suffix (the first 32 bits of SHA-256 of `<key>#<attempt>`), so a re-delivery of
 * the batch finds its own object again.
 */
export function alternateKey(key: string, attempt: number): string {
  const suffix = createHash('sha256').update(`${key}#${attempt}`).digest('hex').slice(0, 8);
  return key.replace(/merged_logs_[0-9a-f]{8}(\.json\.gz)$/, `merged_logs_${suffix}$1`);
}

/** The object key for a batch (docs/mapping.md, "Objects"). */
export function objectKey(path: string, firstRecordTimeMs: number, suffix: string): string {
  return joinKey(path, minutePartition(firstRecordTimeMs), `merged_logs_${suffix}.json.gz`);
}

/**
 * Encodes one batch. `records` must be non-empty. Key order inside each record is preserved as
 * given (the amberflo processor fixes it), so serialisation is deterministic.
 */
export function encodeBatch(records: readonly MeterRecord[], opts: { path: string; gzipLevel?: number }): EncodedObject {
  const json = jsonOf(records);
  return encoded(records, opts.path, json, stableGzip(json, opts.gzipLevel));
}

/** The JSON bytes of a batch to compress. */
function jsonOf(records: readonly MeterRecord[]): Buffer {
  if (records.length === 0) throw new Error('encodeBatch: empty batch');
  return recordsJsonBytes(records);
}

/** A batch's object from its JSON and their gzip: the key's suffix is the gzip trailer's CRC-32 of the JSON. */
function encoded(records: readonly MeterRecord[], path: string, json: Buffer, body: Buffer): EncodedObject {
  const firstRecordTimeMs = records[0]!.meterTimeInMillis;
  return {
    key: objectKey(path, firstRecordTimeMs, gzipSuffix(body)),
    body,
    records: records.length,
    rawBytes: json.length,
    firstRecordTimeMs,
    contentType: 'application/json',
    contentEncoding: 'gzip',
  };
}

/** JSON text of frozen dimension sets, computed once per set (a frozen object cannot change). */
const frozenDimensionsJson = new WeakMap<object, string>();

function dimensionsJson(d: object): string {
  if (!Object.isFrozen(d)) return JSON.stringify(d);
  let j = frozenDimensionsJson.get(d);
  if (j === undefined) frozenDimensionsJson.set(d, (j = JSON.stringify(d)));
  return j;
}

const jsonNumber = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/**
 * `JSON.stringify(r)`, byte for byte (a property test holds them equal), faster for the records
 * the amberflo processor makes: own keys exactly `dimensions, meterApiName, meterTimeInMillis,
 * meterValue[, uniqueId]` with a frozen dimension set, whose JSON is then reused rather than
 * rebuilt for every record. Any other shape goes to JSON.stringify.
 */
export function recordJson(r: MeterRecord): string {
  if (standardShape(r)) {
    const head = `{"dimensions":${dimensionsJson(r.dimensions!)},"meterApiName":${JSON.stringify(r.meterApiName)},"meterTimeInMillis":${jsonNumber(r.meterTimeInMillis)},"meterValue":${jsonNumber(r.meterValue)}`;
    return r.uniqueId !== undefined ? `${head},"uniqueId":${JSON.stringify(r.uniqueId)}}` : `${head}}`;
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when r is not an object after all
  return JSON.stringify(r) ?? 'null';
}

/**
 * A plain object whose own keys are exactly `dimensions, meterApiName, meterTimeInMillis,
 * meterValue[, uniqueId]` with values of the expected types (dimensions an object): serialised
 * field by field; anything else goes to JSON.stringify.
 */
function standardShape(r: MeterRecord): boolean {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- records are checked at run time, not trusted to match their type
  if (typeof r !== 'object' || r === null || Object.getPrototypeOf(r) !== Object.prototype) return false;
  // The own enumerable string keys in order, without allocating Object.keys' array: with the
  // prototype Object.prototype, for-in sees exactly those (plus inherited enumerable keys, which
  // only a polluted Object.prototype has; then the record takes the JSON.stringify path).
  let n = 0;
  for (const k in r) {
    if (n >= 5 || k !== STANDARD_KEYS[n]) return false;
    n++;
  }
  const d = r.dimensions;
  return (
    (n === 4 || (n === 5 && typeof r.uniqueId === 'string')) &&
    typeof d === 'object' &&
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- records are checked at run time, not trusted to match their type
    d !== null &&
    typeof r.meterApiName === 'string' &&
    typeof r.meterTimeInMillis === 'number' &&
    typeof r.meterValue === 'number'
  );
}

const STANDARD_KEYS = ['dimensions', 'meterApiName', 'meterTimeInMillis', 'meterValue', 'uniqueId'] as const;

/** `{"dimensions":<JSON>` of frozen dimension sets, as UTF-8 bytes, built once per set. */
const frozenPrefixBytes = new WeakMap<object, Buffer>();

/**
 * The UTF-8 bytes of `JSON.stringify(records)` (a property test holds them equal), written
 * straight into a buffer: records of the standard shape (see {@link recordJson}) copy their
 * dimension set's cached bytes and write only their own few fields (docs/design/objects.md).
 */
export function recordsJsonBytes(records: readonly MeterRecord[]): Buffer {
  let buf = Buffer.allocUnsafe(Math.max(1024, records.length * 512));
  let off = 0;
  const room = (n: number) => {
    if (off + n <= buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, off + n));
    buf.copy(bigger, 0, 0, off);
    buf = bigger;
  };
  buf[off++] = 0x5b; // [
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const d = standardShape(r) ? r.dimensions! : undefined;
    // A dimension set is in the cache only if it was frozen when it was put there (and stays so).
    let prefix = d !== undefined ? frozenPrefixBytes.get(d) : undefined;
    if (prefix === undefined && d !== undefined && Object.isFrozen(d))
      frozenPrefixBytes.set(d, (prefix = Buffer.from(`{"dimensions":${dimensionsJson(d)}`, 'utf8')));
    if (prefix !== undefined) {
      // Written piece by piece, no string per record: cached bytes for the dimension set (a native
      // copy) and the meter's name, digits for the numbers, the unique id as is when it needs no escaping.
      const name = meterNameBytes(r.meterApiName);
      const id = r.uniqueId;
      room(1 + prefix.length + name.length + 2 * MAX_NUMBER_BYTES + VALUE_KEY.length + (id === undefined ? 0 : UNIQUE_ID_KEY.length + 6 * id.length + 2) + 1);
      if (i) buf[off++] = 0x2c; // ,
      buf.set(prefix, off);
      off += prefix.length;
      off = put(buf, off, name);
      off = writeJsonNumber(buf, off, r.meterTimeInMillis);
      off = put(buf, off, VALUE_KEY);
      off = writeJsonNumber(buf, off, r.meterValue);
      if (id !== undefined) {
        off = put(buf, off, UNIQUE_ID_KEY);
        off = writeJsonString(buf, off, id);
      }
      buf[off++] = 0x7d; // }
    } else {
      const json = recordJson(r);
      room(1 + 3 * json.length + 1);
      if (i) buf[off++] = 0x2c;
      off += buf.write(json, off, 'utf8');
    }
  }
  room(1);
  buf[off++] = 0x5d; // ]
  return buf.subarray(0, off);
}

const VALUE_KEY = Buffer.from(',"meterValue":');
const UNIQUE_ID_KEY = Buffer.from(',"uniqueId":');
/** Longest `String(n)` of a finite double: "-1.2345678901234567e-308" is 24 characters. */
const MAX_NUMBER_BYTES = 24;

/** `,"meterApiName":<JSON>,"meterTimeInMillis":` as bytes, per meter name (a fleet has a handful). */
const meterNames = new Map<string, Buffer>();
function meterNameBytes(name: string): Buffer {
  let b = meterNames.get(name);
  if (b === undefined) {
    b = Buffer.from(`,"meterApiName":${JSON.stringify(name)},"meterTimeInMillis":`, 'utf8');
    if (meterNames.size < 256) meterNames.set(name, b);
  }
  return b;
}

/** Copies the short `bytes` to `buf` at `off` (room is the caller's); returns the new offset. */
function put(buf: Buffer, off: number, bytes: Buffer): number {
  for (let k = 0; k < bytes.length; k++) buf[off + k] = bytes[k]!;
  return off + bytes.length;
}

/** `JSON.stringify(n)` for a number, written at `off`; returns the new offset. */
function writeJsonNumber(buf: Buffer, off: number, n: number): number {
  if (Number.isSafeInteger(n) && n >= 0 && !Object.is(n, -0)) {
    if (n < 1e8) return writeDigits(buf, off, n | 0);
    // Above 10^8: the high part (below 10^8 too, as n < 2^53), then the low eight digits
    // zero-padded, each in int32 arithmetic.
    const hi = Math.floor(n / 1e8);
    let lo = (n - hi * 1e8) | 0;
    off = writeDigits(buf, off, hi | 0);
    for (let k = off + 7; k >= off; k--) {
      buf[k] = 0x30 + (lo % 10);
      lo = (lo / 10) | 0;
    }
    return off + 8;
  }
  return off + buf.write(jsonNumber(n), off, 'latin1');
}

/** The decimal digits of `n` (0 ≤ n < 10^8, an int32) at `off`; returns the new offset. */
function writeDigits(buf: Buffer, off: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = (x / 10) | 0) digits++;
  let x = n;
  for (let k = off + digits - 1; k >= off; k--) {
    buf[k] = 0x30 + (x % 10);
    x = (x / 10) | 0;
  }
  return off + digits;
}

/**
 * `JSON.stringify(s)` written at `off` (room for 6 bytes per character is the caller's): copied
 * byte for byte when every character is printable ASCII other than a quote or a backslash, else stringified.
 */
function writeJsonString(buf: Buffer, off: number, s: string): number {
  const n = s.length;
  let plain = true;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      plain = false;
      break;
    }
  }
  if (!plain) return off + buf.write(JSON.stringify(s), off, 'utf8');
  buf[off++] = 0x22;
  for (let k = 0; k < n; k++) buf[off + k] = s.charCodeAt(k);
  off += n;
  buf[off++] = 0x22;
  return off;
}

/** `JSON.stringify(records)`, byte for byte, built from {@link recordJson}. */
export function recordsJson(records: readonly MeterRecord[]): string {
  let out = '[';
  for (let i = 0; i < records.length; i++) out += (i ? ',' : '') + recordJson(records[i]!);
  return out + ']';
}

/**
 * {@link encodeBatch} with the compression on libuv's thread pool (same bytes, same key): a
 * 1,000-record batch no longer holds the event loop for the gzip, and on a machine with free
 * cores the work runs beside the request handling.
 */
export async function encodeBatchAsync(records: readonly MeterRecord[], opts: { path: string; gzipLevel?: number }): Promise<EncodedObject> {
  const json = jsonOf(records);
  return encoded(records, opts.path, json, await stableGzipAsync(json, opts.gzipLevel));
}

/** Size of one record inside a JSON array (its JSON plus the separating comma). */
export function recordJsonBytes(r: MeterRecord): number {
  return Buffer.byteLength(recordJson(r), 'utf8') + 1;
}

/**
 * Splits records into consecutive chunks of at most `maxRecords` records and at most `maxBytes`
 * bytes of uncompressed JSON (0 = no byte limit). A single record larger than `maxBytes` gets a
 * chunk of its own (it cannot be split further). Order is preserved.
 */
export function splitRecords<T extends MeterRecord>(records: readonly T[], maxRecords: number, maxBytes = 0): (readonly T[])[] {
  // The usual case (a batch cut at the object size, no byte limit): the records as they are, no copy.
  if (maxBytes <= 0 && records.length <= maxRecords) return records.length ? [records] : [];
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 2; // "[" and "]"
  for (const r of records) {
    const b = maxBytes > 0 ? recordJsonBytes(r) : 0;
    if (cur.length > 0 && (cur.length >= maxRecords || (maxBytes > 0 && bytes + b > maxBytes))) {
      out.push(cur);
      cur = [];
      bytes = 2;
    }
    cur.push(r);
    bytes += b;
  }
  if (cur.length) out.push(cur);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading objects back (spanmeter report)

/** An object key written by an exporter (temporary files and other names are not). */
export const OBJECT_NAME = /(^|\/)merged_logs_[0-9a-f]{8}\.json\.gz$/;

const HOUR_MS = 3_600_000;

/** `<path>/YYYY/MM/DD/HH/` of every hour that overlaps [fromMs, toMs). */
export function hourPrefixes(path: string, fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(fromMs / HOUR_MS) * HOUR_MS; t < toMs; t += HOUR_MS) {
    const d = new Date(t);
    out.push(`${joinKey(path, `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`)}/`);
  }
  return out;
}

/** The records of one object: gunzipped and parsed; a clear error when it is not a record array. */
export async function parseObject(key: string, body: Buffer): Promise<MeterRecord[]> {
  let json: Buffer;
  try {
    json = await gunzipAsync(body);
  } catch (e) {
    // eslint-disable-next-line preserve-caught-error -- the message carries the cause's already; a cause would print it twice in the log
    throw new Error(`${key}: not gzip (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (e) {
    // eslint-disable-next-line preserve-caught-error -- the message carries the cause's already; a cause would print it twice in the log
    throw new Error(`${key}: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${key}: not a JSON array of meter records`);
  return parsed as MeterRecord[];
}

/** Amberflo's object format, as the object exporters hand it to the delivery core. */
export const amberfloObjects: ObjectFormat = { split: splitRecords, encode: encodeBatchAsync, alternateKey };

/** Amberflo's objects and meters as `spanmeter report` and `reconcile` read them back. */
export const amberfloReportFormat: ReportFormat = {
  records: { isObject: (key) => OBJECT_NAME.test(key), partitions: hourPrefixes, parse: parseObject },
  meters: METERS,
};

/** The `path` key of the object exporters: the key prefix, as the callback's AFLO_PATH. */
export const OBJECT_PATH = Type.String({
  default: 'litellm-metering',
  description: 'Key prefix (AFLO_PATH): objects are <path>/YYYY/MM/DD/HH/mm/merged_logs_<hex>.json.gz. Empty = no prefix.',
});
