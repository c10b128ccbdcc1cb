/**
 * DELIVERY retries: exponential backoff with jitter, a per-attempt timeout, a maximum elapsed time,
 * Retry-After honoured, permanent errors never retried, and a stop signal (shutdown) that ends the
 * wait between attempts.
 */
import { PermanentError } from '../component.js';
import { backoffDelay, sleep, type Backoff } from '../backoff.js';
import { Duration, Section, Type, type Static } from '../config/declare.js';

export { backoffDelay, sleep } from '../backoff.js';

/** Per-exporter defaults of the retry block (pipeline.yaml form). */
export interface RetryDefaults {
  initial_interval?: string;
  max_interval?: string;
  max_elapsed_time?: string;
}

/**
 * The `retry_on_failure` block every exporter declares, with that exporter's defaults: one
 * declaration for all, so keys, checks and docs are the same everywhere.
 */
export function RetrySettings(d: RetryDefaults = {}) {
  return Section(
    {
      enabled: Type.Boolean({ default: true, description: 'Retry failed deliveries. false = one attempt.' }),
      initial_interval: Duration({ default: d.initial_interval ?? '1s', description: 'Wait before the first retry.' }),
      max_interval: Duration({ default: d.max_interval ?? '30s', description: 'Upper bound of one wait.' }),
      multiplier: Type.Number({ minimum: 1, default: 2, description: 'Growth factor of the wait per attempt.' }),
      randomization_factor: Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.5,
        description: 'Jitter: each wait is drawn from [w·(1-f), w·(1+f)].',
      }),
      max_elapsed_time: Duration({ default: d.max_elapsed_time ?? '5m', description: 'Give up after this long since the first attempt ("0s" = never).' }),
    },
    { description: 'Retries of a failed delivery: exponential backoff with jitter, bounded by max_elapsed_time.' },
  );
}

/** The resolved `retry_on_failure` block (durations in milliseconds). */
export type RetrySettingsConfig = Static<ReturnType<typeof RetrySettings>>;

/** The retry policy of a resolved `retry_on_failure` block and an exporter's per-attempt timeout (ms). */
export function retryPolicyOf(c: RetrySettingsConfig, attemptTimeoutMs: number): RetryPolicy {
  return {
    enabled: c.enabled,
    initialMs: c.initial_interval,
    maxMs: c.max_interval,
    multiplier: c.multiplier,
    jitter: c.randomization_factor,
    maxElapsedMs: c.max_elapsed_time,
    attemptTimeoutMs,
  };
}

/** Resolved retry policy, in milliseconds. */
export interface RetryPolicy extends Backoff {
  enabled: boolean;
  /** 0 = unlimited. */
  maxElapsedMs: number;
  /** Timeout of one attempt; 0 = none. */
  attemptTimeoutMs: number;
}

/** A failure the server asked us to retry (429/503), possibly after a given delay. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Delivery stopped without success: retries exhausted, a permanent error, or shutdown. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly attempts: number,
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An attempt exceeded its per-attempt timeout. */
export class AttemptTimeoutError extends Error {
  override name = 'AttemptTimeoutError';
}

/** Parses a Retry-After header (seconds or an HTTP date) to milliseconds; undefined when absent/bad. */
export function parseRetryAfter(v: string | null | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export interface RetryHooks {
  /** Called after a failed attempt that will be retried, with the wait before the next one. */
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
  /** Called after every failed attempt (retried or not). */
  onAttemptFailed?(err: unknown, attempt: number): void;
}

/**
 * Runs `attempt` until it succeeds. Each attempt gets an AbortSignal that fires at the per-attempt
 * timeout (and when `stop` fires). PermanentError is never retried. Retry-After (RetryableError)
 * raises the wait to at least the server's value. After `maxElapsedMs`, or when `stop` fires
 * between attempts, rejects with a DeliveryError whose `cause` is the last failure.
 */
export async function withRetry<T>(
  attempt: (signal: AbortSignal, n: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
  stop?: AbortSignal,
): Promise<T> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    const ctl = new AbortController();
    const onStop = () => ctl.abort(stop!.reason ?? new Error('stopped'));
    stop?.addEventListener('abort', onStop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    if (policy.attemptTimeoutMs > 0) {
      timer = setTimeout(() => ctl.abort(new AttemptTimeoutError(`attempt timed out after ${policy.attemptTimeoutMs} ms`)), policy.attemptTimeoutMs);
    }
    try {
      return await attempt(ctl.signal, n);
    } catch (e) {
      const err = ctl.signal.aborted && ctl.signal.reason instanceof Error && !(e instanceof PermanentError) ? withReason(e, ctl.signal.reason) : e;
      hooks.onAttemptFailed?.(err, n);
      if (err instanceof PermanentError) {
        throw new DeliveryError(`permanent failure: ${msg(err)}`, n, true, { cause: err });
      }
      if (!policy.enabled) throw new DeliveryError(`failed (retries disabled): ${msg(err)}`, n, false, { cause: err });
      if (stop?.aborted) throw new DeliveryError(`stopped after ${n} attempt(s): ${msg(err)}`, n, false, { cause: err });
      let delay = backoffDelay(policy, n);
      if (err instanceof RetryableError && err.retryAfterMs !== undefined) delay = Math.max(delay, err.retryAfterMs);
      const elapsed = Date.now() - started;
      if (policy.maxElapsedMs > 0 && elapsed + delay > policy.maxElapsedMs) {
        throw new DeliveryError(`gave up after ${n} attempt(s) in ${elapsed} ms: ${msg(err)}`, n, false, { cause: err });
      }
      hooks.onRetry?.(err, n, delay);
      try {
        await sleep(delay, stop);
      } catch {
        throw new DeliveryError(`stopped after ${n} attempt(s): ${msg(err)}`, n, false, { cause: err });
      }
    } finally {
      if (timer) clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
    }
  }
}

function withReason(e: unknown, reason: Error): unknown {
  // An aborted attempt usually fails with a generic AbortError; report why it was aborted.
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError' || /abort/i.test(e.message))) return reason;
  return e;
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
