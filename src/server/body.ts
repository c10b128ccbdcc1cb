/**
 * Reads a request body with limits on the bytes received AND on the decompressed size. Compressed
 * bodies are inflated as a stream and the inflater is destroyed as soon as the output passes the
 * limit, so a gzip bomb costs at most `maxDecoded` bytes of memory, never its full inflated size.
 */
import type { Readable } from 'node:stream';
import { createGunzip, createInflate, createInflateRaw, type Gunzip, type Inflate, type InflateRaw } from 'node:zlib';

export type ContentCoding = 'identity' | 'gzip' | 'deflate';

/** Maps a Content-Encoding header to a supported coding, or null when unsupported. */
export function contentCoding(header: string | undefined): ContentCoding | null {
  const v = (header ?? '').trim().toLowerCase();
  if (v === '' || v === 'identity') return 'identity';
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate') return 'deflate';
  return null;
}

/** A body that cannot be read: `status` is the HTTP status to answer. */
export class BodyError extends Error {
  override name = 'BodyError';
  constructor(
    readonly status: 400 | 408 | 413 | 429 | 499,
    message: string,
    /** True when the request was not read to its end (the caller should drain or close). */
    readonly unread = false,
  ) {
    super(message);
  }
}

export interface BodyLimits {
  /** Max bytes on the wire. */
  maxWire: number;
  /** Max bytes after decompression. */
  maxDecoded: number;
  /**
   * Minimum body rate (bytes per second on the wire), checked every `rateWindowMs` from the first
   * wait for data: a window with fewer bytes fails the read with 408 (a slow or stalled sender).
   */
  minBytesPerSecond?: number;
  rateWindowMs?: number;
  /** Asks for room for `n` more buffered bytes (shared by all requests); false: fail with 429. */
  reserve?: (n: number) => boolean;
}

export interface Body {
  data: Buffer;
  wireBytes: number;
}

/**
 * "deflate" in HTTP means zlib-wrapped deflate (RFC 9110), but some senders use raw deflate:
 * pick by the zlib header check.
 */
function inflaterFor(coding: 'gzip' | 'deflate', first: Buffer): Gunzip | Inflate | InflateRaw {
  if (coding === 'gzip') return createGunzip();
  const zlibHeader = first.length >= 2 && (first[0]! & 0x0f) === 8 && ((first[0]! << 8) | first[1]!) % 31 === 0;
  return zlibHeader ? createInflate() : createInflateRaw();
}

export function readBody(req: Readable, coding: ContentCoding, limits: BodyLimits): Promise<Body> {
  return new Promise<Body>((resolvePromise, rejectPromise) => {
    let wire = 0;
    let decoded = 0;
    const chunks: Buffer[] = [];
    let inflater: Gunzip | Inflate | InflateRaw | null = null;
    let done = false;
    let reqEnded = false;
    let rateTimer: NodeJS.Timeout | undefined;

    const cleanup = () => {
      if (rateTimer) clearInterval(rateTimer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      req.off('close', onClose);
    };
    const fail = (err: BodyError) => {
      if (done) return;
      done = true;
      cleanup();
      if (inflater) {
        inflater.removeAllListeners('data');
        inflater.on('error', () => {});
        inflater.destroy();
      }
      rejectPromise(err.unread || reqEnded ? err : new BodyError(err.status, err.message, true));
    };
    const succeed = () => {
      if (done) return;
      done = true;
      cleanup();
      resolvePromise({ data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, decoded), wireBytes: wire });
    };

    const onOut = (c: Buffer) => {
      decoded += c.length;
      if (decoded > limits.maxDecoded) {
        fail(new BodyError(413, `request body decompresses to more than ${limits.maxDecoded} bytes`));
        return;
      }
      if (limits.reserve && !limits.reserve(c.length)) {
        fail(new BodyError(429, 'too many request bodies being received at once; retry later'));
        return;
      }
      chunks.push(c);
    };

    const onData = (c: Buffer) => {
      wire += c.length;
      if (wire > limits.maxWire) {
        fail(new BodyError(413, `request body larger than ${limits.maxWire} bytes`));
        return;
      }
      if (coding === 'identity') {
        onOut(c);
        return;
      }
      if (!inflater) {
        inflater = inflaterFor(coding, c);
        inflater.on('data', onOut);
        inflater.on('error', (e: Error) => fail(new BodyError(400, `invalid ${coding} data: ${e.message}`)));
        inflater.on('end', () => {
          if (reqEnded) succeed();
          else fail(new BodyError(400, `trailing data after the ${coding} stream`));
        });
      }
      // Respect the inflater's back-pressure so a bomb is inflated only as fast as we count it.
      if (!inflater.write(c)) {
        req.pause();
        inflater.once('drain', () => {
          if (!done) req.resume();
        });
      }
    };
    const onEnd = () => {
      reqEnded = true;
      if (coding === 'identity') succeed();
      else if (!inflater) {
        if (wire === 0) succeed();
        else fail(new BodyError(400, `invalid ${coding} data`));
      } else inflater.end();
    };
    const onError = (e: Error) => fail(new BodyError(400, `error reading the request: ${e.message}`));
    const onAborted = () => fail(new BodyError(499, 'client closed the request'));
    const onClose = () => {
      if (!reqEnded) fail(new BodyError(499, 'client closed the request'));
    };

    const rate = limits.minBytesPerSecond ?? 0;
    if (rate > 0) {
      const windowMs = limits.rateWindowMs ?? 5000;
      let mark = 0;
      rateTimer = setInterval(() => {
        if (wire - mark < (rate * windowMs) / 1000) {
          fail(new BodyError(408, `request body arrived slower than ${rate} bytes/s (min_body_rate)`));
          return;
        }
        mark = wire;
      }, windowMs);
      rateTimer.unref();
    }

    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    req.on('close', onClose);
  });
}
