/**
 * Reading StandardLoggingPayload documents: one JSON object, a JSON array of objects, or NDJSON
 * (one object per line), optionally gzip-compressed. Used by the `litellm_logs` receiver (files
 * and HTTP bodies) and by `spanmeter backfill`.
 */
import { gunzipSync } from 'node:zlib';

/** The document as a whole cannot be read (not JSON, not NDJSON, bad gzip). */
export class SloDocumentError extends Error {
  override name = 'SloDocumentError';
}

export interface SloDocument {
  /** The payload objects (each still unvalidated). */
  items: unknown[];
  /** NDJSON lines that were not JSON: `line N: reason`. */
  badLines: string[];
}

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Decodes bytes (gzip detected by its magic number) into payload items. */
export function parseSloDocument(body: Uint8Array): SloDocument {
  let bytes = body;
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new SloDocumentError(`bad gzip data: ${(e as Error).message}`);
    }
  }
  let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const trimmed = text.trim();
  if (trimmed === '') throw new SloDocumentError('empty document');
  const first = trimmed[0];
  if (first !== '{' && first !== '[') throw new SloDocumentError('not JSON: expected an object, an array or NDJSON objects');
  try {
    const whole = JSON.parse(trimmed) as unknown;
    return { items: Array.isArray(whole) ? whole : [whole], badLines: [] };
  } catch (e) {
    if (first === '[') throw new SloDocumentError(`not valid JSON: ${(e as Error).message}`);
  }
  // NDJSON
  const items: unknown[] = [];
  const badLines: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      items.push(JSON.parse(line) as unknown);
    } catch (e) {
      badLines.push(`line ${i + 1}: ${(e as Error).message}`);
    }
  }
  if (items.length === 0) throw new SloDocumentError(`not JSON or NDJSON (${badLines[0] ?? 'no objects'})`);
  return { items, badLines };
}
