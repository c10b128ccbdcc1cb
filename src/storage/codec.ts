/**
 * The encoding of write-ahead log records.
 *
 * - `llm_calls` records (arrays of LlmCall, what metering pipelines log) are written in the compact
 *   format of {@link encodeLlmCalls} (first byte 0x01): fields without names, repeated strings once
 *   per record. About a quarter of V8's bytes, and faster both ways.
 * - Anything else, and any call that does not fit that format exactly, in V8's serialization format
 *   (`v8.serialize`, first byte 0xFF), which Node documents as backward compatible and safe to store
 *   on disk. Against `JSON.stringify` it is about twice as fast to write and keeps values JSON cannot
 *   (bigint, -0, NaN, undefined members, byte arrays), so a replayed record equals the original.
 * - Reading also accepts the JSON records that earlier versions wrote (no UTF-8 JSON text starts
 *   with 0x01 or 0xFF). Data that V8 cannot serialise (functions, class instances with private
 *   state) is written as JSON, as before.
 */
import { deserialize, serialize } from 'node:v8';
import { LLM_CALLS_TAG, decodeLlmCalls, encodeLlmCalls, llmCallsCount } from './llm-calls-codec.js';

const V8_VERSION_TAG = 0xff;

/** What a decoded LlmCall is taken to occupy in memory, for the log's in-memory window (see {@link recordMemoryBytes}). */
const LLM_CALL_MEMORY_BYTES = 1024;

function looksLikeLlmCalls(data: unknown): boolean {
  if (!Array.isArray(data) || data.length === 0) return false;
  const first = data[0] as { source?: unknown } | null;
  return typeof first === 'object' && first !== null && (first.source === 'span' || first.source === 'slo');
}

export function encodeRecord(data: unknown): Buffer {
  if (looksLikeLlmCalls(data)) {
    const b = encodeLlmCalls(data);
    if (b !== null) return b;
  }
  try {
    return serialize(data);
  } catch {
    return Buffer.from(JSON.stringify(data) ?? 'null', 'utf8');
  }
}

export function decodeRecord(payload: Buffer): unknown {
  if (payload.length > 0) {
    if (payload[0] === LLM_CALLS_TAG) return decodeLlmCalls(payload);
    if (payload[0] === V8_VERSION_TAG) return deserialize(payload) as unknown;
  }
  return JSON.parse(payload.toString('utf8')) as unknown;
}

/**
 * Roughly what a record's decoded data occupies on the heap. For V8 and JSON records, their size
 * (as before); compact `llm_calls` records are several times smaller than the objects they hold,
 * so they count {@link LLM_CALL_MEMORY_BYTES} per call (V8's format took ~950 bytes per call).
 */
export function recordMemoryBytes(payload: Buffer): number {
  if (payload.length > 0 && payload[0] === LLM_CALLS_TAG) return Math.max(payload.length, llmCallsCount(payload) * LLM_CALL_MEMORY_BYTES);
  return payload.length;
}
