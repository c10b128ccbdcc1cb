/**
 * The disk budget shared by a pipeline's write-ahead log and its exporters' spools
 * (`max_disk_bytes`). When it is full, receivers answer 429/503 with Retry-After.
 */
export class DiskBudget {
  private used = 0;
  constructor(readonly maxBytes: number) {}

  add(n: number): void {
    this.used += n;
  }

  sub(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get usedBytes(): number {
    return this.used;
  }

  /** Whether `n` more bytes fit. */
  fits(n: number): boolean {
    return this.maxBytes <= 0 || this.used + n <= this.maxBytes;
  }

  describe(): string {
    return `${mib(this.used)} of ${mib(this.maxBytes)} used`;
  }
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
