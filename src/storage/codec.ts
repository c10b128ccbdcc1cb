/**
 * The encoding of write-ahead log records.
 *
 * - A data type may have a compact codec of its own (the data-type registry, src/data/types.ts):
 *   a pipeline's log writes its records in it when the data fits exactly (`llm_calls`: about a
 *   quarter of V8's bytes, and faster both ways). Each such codec marks its records with its first
 *   byte ({@link RecordCodec.tag}), so reading needs no type.
 * - Anything else, and any data that does not fit its codec, in V8's serialization format
 *   (`v8.serialize`, first byte 0xFF), which Node documents as backward compatible and safe to store
 *   on disk. Against `JSON.stringify` it is about twice as fast to write and keeps values JSON cannot
 *   (bigint, -0, NaN, undefined members, byte arrays), so a replayed record equals the original.
 * - Reading also accepts the JSON records that earlier versions wrote (no UTF-8 JSON text starts
 *   with a codec's tag or 0xFF). Data that V8 cannot serialise (functions, class instances with
 *   private state) is written as JSON, as before.
 */
import { deserialize, serialize } from 'node:v8';
import { RECORD_CODECS } from '../data/types.js';

const V8_VERSION_TAG = 0xff;

/** A compact log-record format for one data type. */
export interface RecordCodec<T = unknown> {
  /** First byte of every record it writes: neither 0xFF (V8) nor the first byte of JSON text. */
  readonly tag: number;
  /** The record, or null when `data` does not fit the format exactly (it is then written in V8's). */
  encode(data: T): Buffer | null;
  decode(payload: Buffer): T;
  /** Roughly what the decoded data occupies on the heap (see {@link recordMemoryBytes}). */
  memoryBytes(payload: Buffer): number;
}

/** The record for `data`: in `codec` (the type's, when it has one) if the data fits it, else V8's format. */
export function encodeRecord(data: unknown, codec?: RecordCodec): Buffer {
  if (codec) {
    const b = codec.encode(data);
    if (b !== null) return b;
  }
  try {
    return serialize(data);
  } catch {
    return Buffer.from((JSON.stringify(data) as string | undefined) ?? 'null', 'utf8'); // undefined for undefined or a function
  }
}

const codecOf = (payload: Buffer): RecordCodec | undefined => (payload.length > 0 ? RECORD_CODECS.find((c) => c.tag === payload[0]) : undefined);

export function decodeRecord(payload: Buffer): unknown {
  const codec = codecOf(payload);
  if (codec) return codec.decode(payload);
  if (payload.length > 0 && payload[0] === V8_VERSION_TAG) return deserialize(payload) as unknown;
  return JSON.parse(payload.toString('utf8')) as unknown;
}

/**
 * Roughly what a record's decoded data occupies on the heap, for the log's in-memory window. For
 * V8 and JSON records, their size; a compact codec says for its own (its records are several
 * times smaller than the objects they hold).
 */
export function recordMemoryBytes(payload: Buffer): number {
  return codecOf(payload)?.memoryBytes(payload) ?? payload.length;
}
