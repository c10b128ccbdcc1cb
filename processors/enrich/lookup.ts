/**
 * One lookup kind (team, key or model): its cache, on-demand fetches of misses (rate-limited,
 * de-duplicated, bounded in flight) and full listings; plus the source health shared by kinds.
 */
import type { Logger } from 'pino';
import type { Host } from '../../src/component.js';
import { LruCache, TokenBucket, type Peek } from './cache.js';
import type { FactsOf, Kind } from '../../integrations/litellm/catalogue/facts.js';
import type { EnrichMetrics } from './metadata.js';
import { SourceError, type Source } from '../../integrations/litellm/catalogue/source.js';

export type UnresolvedReason = 'rate_limited' | 'in_flight_limit' | 'source_error';
export type Outcome<F> = { facts: F | null } | { unresolved: UnresolvedReason; error?: string };

/** Up/down state of the source, published as a metric, a /health/ready detail and one log line per change. */
export class SourceHealth {
  private ok: boolean | undefined;
  private message = 'not contacted yet';
  private since = Date.now();
  private host?: Host;

  constructor(
    private readonly processorId: string,
    private readonly sourceType: string,
    private readonly metrics: EnrichMetrics,
    private readonly logger: Logger,
  ) {}

  attach(host: Host): void {
    this.host = host;
    this.publish();
  }

  get up(): boolean | undefined {
    return this.ok;
  }

  get detail(): { ok: boolean; message: string } {
    return { ok: this.ok !== false, message: this.message };
  }

  success(summary?: string): void {
    this.metrics.lastSuccess.set({ processor: this.processorId, source: this.sourceType }, Date.now() / 1000);
    if (this.ok !== true) {
      if (this.ok === false) this.logger.info({ source: this.sourceType, downForMs: Date.now() - this.since }, 'enrichment source is answering again');
      this.ok = true;
      this.since = Date.now();
    }
    this.message = `${this.sourceType}: ok${summary ? ` (${summary})` : ''}`;
    this.publish();
  }

  failure(err: SourceError): void {
    const first = this.ok !== false;
    if (first) {
      this.ok = false;
      this.since = Date.now();
      this.logger.warn({ source: this.sourceType, reason: err.reason, error: err.message }, 'enrichment source is failing; records go on with what is cached');
    }
    this.message = `${err.message} (failing since ${new Date(this.since).toISOString()})`;
    this.publish();
  }

  private publish(): void {
    this.metrics.sourceUp.set({ processor: this.processorId, source: this.sourceType }, this.ok === false ? 0 : 1);
    this.host?.setHealthDetail(`enrich:${this.processorId}`, this.detail);
  }
}

export function asSourceError(e: unknown, sourceType: string): SourceError {
  if (e instanceof SourceError) return e;
  // Unexpected errors: keep only the class name, never a message that might echo configuration.
  return new SourceError(`${sourceType}: unexpected ${(e as Partial<Error> | null | undefined)?.name ?? 'error'}`, 'unavailable');
}

export interface LookupOptions {
  maxEntries: number;
  ttlMs: number;
  negativeTtlMs: number;
  rate: number;
  burst: number;
  maxInFlight: number;
}

export class Lookup<K extends Kind> {
  readonly cache: LruCache<FactsOf[K]>;
  private readonly bucket: TokenBucket;
  private readonly inFlight = new Map<string, Promise<Outcome<FactsOf[K]>>>();
  private readonly labels: { processor: string; kind: K };

  constructor(
    readonly kind: K,
    private readonly source: Source,
    private readonly o: LookupOptions,
    private readonly metrics: EnrichMetrics,
    private readonly health: SourceHealth,
    private readonly processorId: string,
    private readonly stop: AbortSignal,
  ) {
    this.cache = new LruCache(o.maxEntries, o.ttlMs, o.negativeTtlMs);
    this.bucket = new TokenBucket(o.rate, o.burst);
    this.labels = { processor: processorId, kind };
    const bind = (result: string) => metrics.lookups.labels({ ...this.labels, result });
    this.counted = { hit: bind('hit'), stale: bind('stale'), negative: bind('negative'), miss: bind('miss') };
  }

  /** Hot-path counters, bound to their labels once (label hashing per call is the costly part). */
  private readonly counted: Record<'hit' | 'stale' | 'negative' | 'miss', { inc(): void }>;

  /** Synchronous cache read. A stale hit is returned and re-fetched in the background. */
  peek(id: string): Peek<FactsOf[K]> {
    const p = this.cache.peek(id);
    this.counted[p.state === 'hit' ? (p.stale ? 'stale' : 'hit') : p.state].inc();
    if (p.state === 'hit' && p.stale) void this.fetch(id);
    return p;
  }

  /** Fetches one id from the source (shared by concurrent callers). Never rejects. */
  fetch(id: string): Promise<Outcome<FactsOf[K]>> {
    const pending = this.inFlight.get(id);
    if (pending) return pending;
    if (this.inFlight.size >= this.o.maxInFlight) return Promise.resolve({ unresolved: 'in_flight_limit' });
    if (!this.bucket.tryTake()) return Promise.resolve({ unresolved: 'rate_limited' });
    const p = this.doFetch(id).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, p);
    return p;
  }

  /** Milliseconds until an on-demand fetch may be attempted again. */
  msUntilToken(): number {
    return this.bucket.msUntilToken();
  }

  private async doFetch(id: string): Promise<Outcome<FactsOf[K]>> {
    const base = { processor: this.processorId, source: this.source.type, kind: this.kind, op: 'get' };
    try {
      const facts = await this.source.get(this.kind, id, this.stop);
      if (facts) this.cache.set(id, facts);
      else this.cache.setNegative(id);
      this.metrics.sourceRequests.inc({ ...base, outcome: facts ? 'ok' : 'not_found' });
      this.health.success();
      this.publishSize();
      return { facts };
    } catch (e) {
      const err = asSourceError(e, this.source.type);
      this.metrics.sourceRequests.inc({ ...base, outcome: err.reason === 'unavailable' ? 'error' : err.reason });
      if (!this.stop.aborted) this.health.failure(err);
      return { unresolved: 'source_error', error: err.message };
    }
  }

  /** Lists the whole catalogue of this kind and replaces the cache with it. Throws SourceError. */
  async refresh(signal: AbortSignal): Promise<number> {
    const base = { processor: this.processorId, source: this.source.type, kind: this.kind, op: 'list' };
    try {
      const all = await this.source.list(this.kind, signal);
      this.cache.replaceAll(all.map((f) => [idOf(this.kind, f), f] as [string, FactsOf[K]]));
      this.metrics.sourceRequests.inc({ ...base, outcome: 'ok' });
      this.publishSize();
      return all.length;
    } catch (e) {
      const err = asSourceError(e, this.source.type);
      this.metrics.sourceRequests.inc({ ...base, outcome: err.reason === 'unavailable' ? 'error' : err.reason });
      throw err;
    }
  }

  publishSize(): void {
    const c = this.cache.counts();
    this.metrics.entries.set({ ...this.labels, type: 'positive' }, c.positive);
    this.metrics.entries.set({ ...this.labels, type: 'negative' }, c.negative);
  }
}

export function idOf(kind: Kind, f: FactsOf[Kind]): string {
  if (kind === 'team') return (f as FactsOf['team']).teamId;
  if (kind === 'key') return (f as FactsOf['key']).keyHash;
  return (f as FactsOf['model']).modelId;
}
