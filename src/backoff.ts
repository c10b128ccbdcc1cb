/**
 * Exponential backoff with jitter and an abortable sleep: the one wait-before-retrying used by
 * exporter retries (output/retry.ts), spool uploads, the batch processor and the write-ahead log
 * forwarder.
 */

/** How the wait grows between attempts, in milliseconds. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Each wait is drawn from [w·(1-jitter), w·(1+jitter)]; 0 = no jitter. */
  jitter: number;
}

/** The wait before retry number `retry` (1-based), jittered. */
export function backoffDelay(p: Backoff, retry: number, random: () => number = Math.random): number {
  const base = Math.min(p.maxMs, p.initialMs * p.multiplier ** (retry - 1));
  const j = p.jitter;
  return Math.max(0, Math.round(base * (1 - j + 2 * j * random())));
}

/** Sleeps, ending early (rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the abort reason is what callers expect, as with node:timers/promises
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the abort reason is what callers expect, as with node:timers/promises
      reject(signal!.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
