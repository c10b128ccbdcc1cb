/**
 * Objects as the delivery core handles them: the bytes and key of one encoded batch, gzip with a
 * stable header, and the conditional write that never replaces another object
 * ({@link putWithoutReplacing}). What goes into an object and under which key is the
 * {@link ObjectFormat} the exporters pass in; delivery (retries, transports) is ./delivery.ts.
 */
import { promisify } from 'node:util';
import { gunzipSync, gzip, gzipSync } from 'node:zlib';
import type { MeterRecord } from '../data/meter-record.js';

const gzipAsync = promisify(gzip);

/** One object to deliver: the exact bytes and where they go. */
export interface EncodedObject {
  /** Where the object goes, relative to the destination's root (no leading slash). */
  key: string;
  /** gzip of the JSON array of records. */
  body: Buffer;
  /** Number of records in the body. */
  records: number;
  /** Size of the uncompressed JSON array, in bytes. */
  rawBytes: number;
  /** `meterTimeInMillis` of the first record: the key's minute partition. */
  firstRecordTimeMs: number;
  contentType: 'application/json';
  contentEncoding: 'gzip';
}

/**
 * How batches become objects: what is inside one and under which key. The exporters pass theirs to
 * the delivery core (./delivery.ts), which knows no format.
 */
export interface ObjectFormat {
  /** Splits records, in order, into chunks of at most `maxRecords` records and `maxBytes` bytes of content (0 = no byte limit). */
  split<T extends MeterRecord>(records: readonly T[], maxRecords: number, maxBytes: number): (readonly T[])[];
  /** Encodes one non-empty chunk under the key prefix `path` (the same records always give the same object). */
  encode(records: readonly MeterRecord[], opts: { path: string; gzipLevel?: number }): Promise<EncodedObject>;
  /** The `attempt`-th other key for an object whose key holds another object ({@link putWithoutReplacing}). */
  alternateKey(key: string, attempt: number): string;
}

/**
 * gzip level of objects. 3 is the strongest of zlib's fast levels: on meter-record JSON it
 * compresses ~2× faster than level 6 for files ~25 % larger (ratio ~20 instead of ~26), see
 * docs/performance.md. Readers accept any level.
 */
export const DEFAULT_GZIP_LEVEL = 3;

/** gzip header byte 9 (OS). Fixed so that bytes do not depend on the platform zlib was built for. */
const GZIP_OS_UNIX = 3;

/**
 * gzip with a stable header: mtime 0 (Node's zlib never writes one), no file name, OS byte fixed.
 * Level is fixed too; the bytes can only change with the zlib version (the key cannot: it is
 * derived from the uncompressed JSON).
 */
export function stableGzip(data: Uint8Array, level = DEFAULT_GZIP_LEVEL): Buffer {
  return pinHeader(gzipSync(data, { level }));
}

/** Header: 1f 8b 08 FLG MTIME(4) XFL OS. Node writes FLG=0 and MTIME=0; pin OS. */
function pinHeader(gz: Buffer): Buffer {
  gz.writeUInt32LE(0, 4);
  gz[9] = GZIP_OS_UNIX;
  return gz;
}

/** {@link stableGzip} on libuv's thread pool: the event loop keeps answering requests meanwhile. */
export async function stableGzipAsync(data: Uint8Array, level = DEFAULT_GZIP_LEVEL): Promise<Buffer> {
  return pinHeader(await gzipAsync(data, { level }));
}

/** Joins path segments with single slashes, dropping empty ones and stray slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

/** Keys tried for one object before giving up (each further one is taken with probability ~n / 2^32). */
export const MAX_OBJECT_KEYS = 16;

/**
 * Whether stored bytes hold the same records as `obj`: the same bytes, or the same JSON once both
 * are gunzipped (a re-delivery compressed by another zlib or at another level). Bytes that are not
 * gzip are not this object. `memo` keeps `obj`'s JSON between calls for the same object.
 */
export function sameRecords(existing: Uint8Array, obj: EncodedObject, memo: { json?: Buffer } = {}): boolean {
  if (obj.body.equals(existing)) return true;
  try {
    return gunzipSync(existing).equals((memo.json ??= gunzipSync(obj.body)));
  } catch {
    return false;
  }
}

/**
 * What a conditional write found: `'written'` (the key was free and now holds the object); `'same'`
 * or `'taken'` when the sink compared the object there itself (same records, other records); the
 * bytes stored under the key, for {@link putWithoutReplacing} to compare; or `'unreadable'` when the
 * store would not let us read them (a write-only credential).
 */
export type ConditionalPut = 'written' | 'same' | 'taken' | Uint8Array | 'unreadable';

/**
 * Delivers `obj` without replacing another object. `tryPut(key)` writes under `key` only if no
 * object is there (S3 `If-None-Match: *`, Azure `ifNoneMatch: '*'`, a hard link for files). A key that holds the same
 * records means an earlier delivery of this batch succeeded (a retry after a lost response, a
 * replay after a crash): done. A key that holds other records (two batches whose JSON has the same
 * CRC-32, e.g. from two collectors writing one prefix) moves the object to the next
 * `alternateKey` (the format's); so does a key whose object cannot be read, since an object written twice
 * (with the same records, which the reader's de-duplication discards) is better than one replaced.
 * Resolves the key the object is under.
 */
export async function putWithoutReplacing(
  obj: EncodedObject,
  tryPut: (key: string) => Promise<ConditionalPut>,
  where: string,
  alternateKey: (key: string, attempt: number) => string,
): Promise<string> {
  const memo: { json?: Buffer } = {};
  for (let attempt = 0; attempt < MAX_OBJECT_KEYS; attempt++) {
    const key = attempt === 0 ? obj.key : alternateKey(obj.key, attempt);
    const found = await tryPut(key);
    if (found === 'written' || found === 'same') return key;
    if (found instanceof Uint8Array && sameRecords(found, obj, memo)) return key;
  }
  throw new Error(`${where}: ${MAX_OBJECT_KEYS} keys derived from ${obj.key} all hold other objects (or objects this credential cannot read)`);
}
