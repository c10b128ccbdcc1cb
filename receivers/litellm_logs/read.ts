/**
 * Reading one payload file with bounded memory where the format allows it: NDJSON (plain or gzip)
 * is streamed line by line; a JSON array or a pretty-printed single object is read whole.
 */
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isGzip, parseSloDocument, SloDocumentError } from '../../integrations/litellm/slo-files.js';

export type FileEvent = { item: unknown } | { bad: string };

async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function textStream(path: string, gzip: boolean, onBytes: (n: number) => void): Readable {
  const raw = createReadStream(path);
  raw.on('data', (c: Buffer | string) => onBytes(c.length));
  if (!gzip) return raw;
  const gunzip = createGunzip();
  raw.on('error', (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

/**
 * Yields the payload items of a file (and NDJSON lines that are not JSON). Throws
 * {@link SloDocumentError} (or an fs error) when the file as a whole cannot be read.
 * `onBytes` reports raw bytes read from disk, for progress.
 */
export async function* readPayloadFile(path: string, onBytes: (n: number) => void = () => {}): AsyncGenerator<FileEvent> {
  const gzip = isGzip(await head(path, 2));
  // Find the first significant character (through gzip if needed).
  let first: string | undefined;
  {
    const s = textStream(path, gzip, () => {});
    try {
      for await (const chunk of s as AsyncIterable<Buffer>) {
        const m = /[^\s\ufeff]/.exec(chunk.toString('utf8'));
        if (m) {
          first = m[0];
          break;
        }
      }
    } catch (e) {
      throw new SloDocumentError(gzip ? `bad gzip data: ${(e as Error).message}` : (e as Error).message);
    } finally {
      s.destroy();
    }
  }
  if (first === undefined) throw new SloDocumentError('empty document');
  if (first !== '{') {
    // A JSON array (or not JSON at all): read whole.
    const buf = await readFile(path);
    onBytes(buf.length);
    for (const item of parseSloDocument(buf).items) yield { item };
    return;
  }
  // Object(s): NDJSON when the first line is a complete JSON value, else one pretty-printed object.
  const lines = createInterface({ input: textStream(path, gzip, onBytes), crlfDelay: Infinity });
  let n = 0;
  let sawItem = false;
  try {
    for await (const raw of lines) {
      n++;
      const line = n === 1 ? raw.replace(/^\ufeff/, '').trim() : raw.trim();
      if (line === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        if (!sawItem) break; // not NDJSON: fall back to reading the file whole
        yield { bad: `line ${n}: ${(e as Error).message}` };
        continue;
      }
      sawItem = true;
      yield { item: value };
    }
  } catch (e) {
    throw new SloDocumentError(gzip ? `bad gzip data: ${(e as Error).message}` : (e as Error).message);
  } finally {
    lines.close();
  }
  if (sawItem) return;
  const buf = await readFile(path);
  const doc = parseSloDocument(buf);
  for (const item of doc.items) yield { item };
  for (const bad of doc.badLines) yield { bad };
}
