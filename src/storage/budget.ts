/**
 * The disk budget shared by a pipeline's write-ahead log and its exporters' spools
 * (`max_disk_bytes`). When it is full, receivers answer 429/503 with Retry-After.
 *
 * It also keeps free space on the file system for delivery (`min_free_disk`): new data is refused
 * while less is free, so the writes that deliver and trim (the cut log, spooled objects, the
 * checkpoint) still find room when something else fills the disk, and accepting resumes by itself
 * once there is room again.
 */
import { statfs } from 'node:fs/promises';
import type { DiskBudget as Budget } from '../durability.js';

export class DiskBudget implements Budget {
  private used = 0;
  /** Free bytes on the data directory's file system, as last measured (Infinity: not known). */
  private free = Infinity;
  private freeTimer?: NodeJS.Timeout;
  constructor(
    readonly maxBytes: number,
    readonly minFreeBytes = 0,
  ) {}

  /** Measures the free space of `dir`'s file system now and every `intervalMs` (until {@link stop}). */
  watchFree(dir: string, intervalMs = 500): void {
    if (this.minFreeBytes <= 0 || this.freeTimer) return;
    const measure = () =>
      void statfs(dir).then(
        (s) => (this.free = s.bavail * s.bsize),
        () => (this.free = Infinity), // not there yet: the log reports its own errors
      );
    measure();
    this.freeTimer = setInterval(measure, intervalMs);
    this.freeTimer.unref();
  }

  stop(): void {
    clearInterval(this.freeTimer);
    this.freeTimer = undefined;
  }

  /** Whether `n` more bytes of new data may be written without eating into the free-space reserve. */
  leavesFree(n: number): boolean {
    return this.minFreeBytes <= 0 || this.free - n >= this.minFreeBytes;
  }

  describeFree(): string {
    return `${mib(this.free)} free on the data directory's file system, ${mib(this.minFreeBytes)} kept for delivery (service.durability.min_free_disk)`;
  }

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
