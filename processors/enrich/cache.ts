/**
 * A bounded LRU cache with positive and negative entries, and a token bucket for on-demand
 * lookups. Small on purpose: its semantics (stale-but-usable entries, negative entries, full
 * replacement after a listing) are specific to enrichment.
 */

export type Peek<F> = { state: 'hit'; facts: F; stale: boolean } | { state: 'negative' } | { state: 'miss' };

interface Entry<F> {
  /** null = the source said it does not know this id (negative entry). */
  facts: F | null;
  /** Absolute time (ms) after which the entry is stale (positive) or gone (negative). */
  expires: number;
}

export class LruCache<F> {
  private map = new Map<string, Entry<F>>();

  constructor(
    readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly negativeTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.map.size;
  }

  peek(id: string): Peek<F> {
    const e = this.map.get(id);
    if (!e) return { state: 'miss' };
    const now = this.now();
    if (e.facts === null) {
      if (e.expires <= now) {
        this.map.delete(id);
        return { state: 'miss' };
      }
      return { state: 'negative' };
    }
    // Refresh recency (Map keeps insertion order: re-insert = most recent).
    this.map.delete(id);
    this.map.set(id, e);
    return { state: 'hit', facts: e.facts, stale: e.expires <= now };
  }

  set(id: string, facts: F): void {
    this.put(id, { facts, expires: this.now() + this.ttlMs });
  }

  setNegative(id: string): void {
    this.put(id, { facts: null, expires: this.now() + this.negativeTtlMs });
  }

  /** Replaces every entry with a full listing (negative entries for listed ids disappear). */
  replaceAll(entries: Iterable<[string, F]>): void {
    const next = new Map<string, Entry<F>>();
    const expires = this.now() + this.ttlMs;
    for (const [id, facts] of entries) {
      next.delete(id);
      next.set(id, { facts, expires });
      if (next.size > this.maxEntries) next.delete(next.keys().next().value as string);
    }
    this.map = next;
  }

  counts(): { positive: number; negative: number } {
    let negative = 0;
    for (const e of this.map.values()) if (e.facts === null) negative++;
    return { positive: this.map.size - negative, negative };
  }

  private put(id: string, e: Entry<F>): void {
    this.map.delete(id);
    this.map.set(id, e);
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
  }
}

/** Token bucket: `rate` tokens per second, at most `burst` stored. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until the next token is available (0 when one is). */
  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}
