/**
 * A bounded de-duplication window on (traceId, spanId): remembers keys for `windowMs`, at most
 * `maxEntries` of them (oldest forgotten first). Memory is O(maxEntries).
 */
export class DedupWindow {
  /** key → time first seen (ms). Map iteration order is insertion order, i.e. oldest first. */
  private readonly seen = new Map<string, number>();

  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  has(key: string): boolean {
    const t = this.seen.get(key);
    if (t === undefined) return false;
    if (this.now() - t > this.windowMs) {
      this.seen.delete(key);
      return false;
    }
    return true;
  }

  add(key: string): void {
    this.addAll([key]);
  }

  /** Remembers several keys at once (one clock read and one eviction pass for the lot). */
  addAll(keys: readonly string[]): void {
    if (this.maxEntries <= 0 || keys.length === 0) return;
    const now = this.now();
    const seen = this.seen;
    for (const key of keys) {
      if (seen.has(key)) seen.delete(key); // re-inserted as the newest
      seen.set(key, now);
    }
    this.evict(now);
  }

  private evict(now: number): void {
    const seen = this.seen;
    if (seen.size <= this.maxEntries && now - (seen.values().next().value ?? now) <= this.windowMs) return;
    for (const [k, t] of seen) {
      if (seen.size > this.maxEntries || now - t > this.windowMs) seen.delete(k);
      else break;
    }
  }
}
