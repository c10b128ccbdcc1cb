/**
 * Holds: how the write-ahead log learns that data it forwarded is durable downstream.
 *
 * The durable stage forwards each log record (a chunk of items with sequence number `seq`) with a
 * {@link Hold} in the consume context. Any stage that keeps the data beyond its `consume` call (the
 * batch processor, until the batch is in an exporter's spool) must `retain()` the hold and
 * `release()` it once the data is safe. The {@link Watermark} turns released holds into the highest
 * sequence number below which everything is safe: the log's checkpoint.
 */
import type { Hold as HoldContract } from '../durability.js';

export class Hold implements HoldContract {
  private refs = 1;
  constructor(
    readonly seq: number,
    private readonly onDone: (seq: number) => void,
  ) {}

  /** Keeps the data alive past the current consume call; pair with one `release()`. */
  retain(): this {
    if (this.refs <= 0) throw new Error(`hold ${this.seq} retained after release`);
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) this.onDone(this.seq);
  }

  get released(): boolean {
    return this.refs <= 0;
  }
}

/** Tracks holds opened in increasing `seq` order; `safe` is the highest seq with nothing below held. */
export class Watermark {
  private readonly open: { seq: number; done: boolean }[] = [];
  private readonly index = new Map<number, { seq: number; done: boolean }>();
  private safeSeq: number;

  constructor(start = 0) {
    this.safeSeq = start;
  }

  begin(seq: number): Hold {
    if (seq <= this.safeSeq || (this.open.length && seq <= this.open[this.open.length - 1]!.seq)) {
      throw new Error(`holds must begin in increasing order (got ${seq})`);
    }
    const entry = { seq, done: false };
    this.open.push(entry);
    this.index.set(seq, entry);
    return new Hold(seq, (s) => this.done(s));
  }

  private done(seq: number): void {
    const e = this.index.get(seq);
    if (!e) return;
    e.done = true;
    this.index.delete(seq);
    while (this.open.length && this.open[0]!.done) this.safeSeq = this.open.shift()!.seq;
  }

  /** Everything at or below this seq has been released. */
  get safe(): number {
    return this.safeSeq;
  }

  /** Number of holds not yet released. */
  get outstanding(): number {
    return this.index.size;
  }
}
