/**
 * The durable stage: the point of a pipeline where accepted billing data is written to the
 * write-ahead log before the sender gets its acknowledgement.
 *
 *   receiver → span conversion → enrich → [durable stage] → record mapping → batch → exporters (spool)
 *
 * - `consume` appends the items (one log record per call) and resolves after fdatasync (group
 *   commit). That resolution is what lets the receiver answer 200.
 * - A forwarder hands log records downstream strictly in order, each with a {@link Hold}. Recent
 *   records come from a bounded in-memory window; anything older (a backlog, or the tail after a
 *   restart) is read back from disk, so memory stays bounded whatever the backlog.
 * - Downstream back-pressure makes the forwarder wait and retry; the log absorbs the backlog until
 *   the disk budget is full, and then appends are refused (receivers answer 429/503).
 * - When every hold up to a seq is released (the data is in exporters' spools), the log's
 *   checkpoint moves and covered segments are deleted.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BackpressureError, PermanentError, type ConsumeContext, type Consumer, type Host } from '../component.js';
import { backoffDelay, sleep, type Backoff } from '../backoff.js';
import type { DiskBudget } from '../durability.js';
import { Watermark } from './holds.js';
import { decodeRecord, encodeRecord, recordMemoryBytes, type RecordCodec } from './codec.js';
import { CutLog } from './cut-log.js';
import { WriteAheadLog } from './wal.js';
import { instruments, type Instruments } from '../telemetry/declare.js';
import { WAL_METRICS } from '../telemetry/metadata.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DurableStageOptions {
  pipeline: string;
  dir: string;
  next: Consumer<unknown>;
  /** The compact record format of the data type it logs (src/data/types.ts), if it has one. */
  codec?: RecordCodec;
  logger: Logger;
  registry: Registry;
  budget?: DiskBudget;
  /** Group-commit window in ms. */
  syncDelayMs: number;
  segmentBytes: number;
  /** Bytes of recent records kept in memory for forwarding without a disk read. */
  memoryBytes: number;
  /** How often the checkpoint is persisted (ms). */
  checkpointIntervalMs: number;
}

/** The forwarder's wait while downstream refuses or fails a record: 50 ms doubling up to 2 s. */
const FORWARD_BACKOFF: Backoff = { initialMs: 50, maxMs: 2000, multiplier: 2, jitter: 0 };

export class DurableStage implements Consumer<unknown> {
  private wal?: WriteAheadLog;
  /** Where the batch processor records its cuts (see cut-log.ts). */
  private cuts?: CutLog;
  private watermark = new Watermark();
  /** Recent records not yet forwarded, by seq. */
  private readonly memory = new Map<number, { data: unknown; bytes: number }>();
  private memoryUsed = 0;
  private forwardedSeq = 0;
  /** Times the forwarder went to disk for records (a backlog beyond memory_buffer, a restart); in status. */
  diskReads = 0;
  private wake?: () => void;
  private forwarder?: Promise<void>;
  private stopping = false;
  private stopForwarder = false;
  private checkpointTimer?: NodeJS.Timeout;
  private lastCheckpointWrite = Promise.resolve();
  private readonly m: Instruments<typeof WAL_METRICS>;
  private host?: Host;
  private unavailable?: string;
  private reopenTimer?: NodeJS.Timeout;
  private readonly labels: { pipeline: string };

  get pipeline(): string {
    return this.o.pipeline;
  }

  constructor(private readonly o: DurableStageOptions) {
    this.m = instruments(o.registry, WAL_METRICS);
    this.labels = { pipeline: o.pipeline };
  }

  /**
   * Opens the log. If the directory cannot be used (read-only, not a directory, no space), the
   * stage still starts — refusing data with a clear reason (503 + Retry-After at the receiver) —
   * and retries every few seconds, so an operator's fix takes effect without a crash loop.
   */
  async start(host?: Host): Promise<void> {
    this.host = host;
    try {
      await this.open();
    } catch (e) {
      this.unavailable = `cannot open the write-ahead log in ${this.o.dir}: ${(e as Error).message}`;
      this.o.logger.error({ err: e, dir: this.o.dir }, 'write-ahead log unavailable: refusing data (503) and retrying every 5 s');
      this.host?.setHealthDetail(`wal:${this.o.pipeline}`, { ok: false, message: this.unavailable });
      this.reopenTimer = setInterval(() => {
        this.open().then(
          () => {
            clearInterval(this.reopenTimer);
            this.reopenTimer = undefined;
            this.unavailable = undefined;
            this.host?.setHealthDetail(`wal:${this.o.pipeline}`, { ok: true });
            this.o.logger.info({ dir: this.o.dir }, 'write-ahead log available again: accepting data');
          },
          () => undefined,
        );
      }, 5_000);
      this.reopenTimer.unref();
    }
  }

  private async open(): Promise<void> {
    const wal = await WriteAheadLog.open({
      dir: this.o.dir,
      budget: this.o.budget,
      syncDelayMs: this.o.syncDelayMs,
      segmentBytes: this.o.segmentBytes,
      onCommit: (seconds) => this.onCommit(seconds),
    });
    try {
      this.cuts = await CutLog.open(this.o.dir, wal.checkpoint);
    } catch (e) {
      await wal.close().catch(() => undefined);
      throw e;
    }
    this.wal = wal;
    const r = wal.recovery;
    if (r.problems.length) {
      this.m.truncated.inc(this.labels, r.truncatedBytes);
      this.o.logger.error(
        { problems: r.problems, truncatedBytes: r.truncatedBytes },
        'write-ahead log had a torn or corrupt tail: truncated it and recovered everything before it',
      );
    }
    if (r.pending) this.o.logger.info({ records: r.pending, checkpoint: r.checkpoint, lastSeq: r.lastSeq }, 'replaying the write-ahead log tail');
    this.forwardedSeq = wal.checkpoint;
    this.watermark = new Watermark(wal.checkpoint);
    this.forwarder = this.forwardLoop();
    this.checkpointTimer = setInterval(() => void this.persistCheckpoint(), this.o.checkpointIntervalMs);
    this.checkpointTimer.unref();
    this.updateGauges();
  }

  async consume(data: unknown, _ctx?: ConsumeContext): Promise<void> {
    const wal = this.wal;
    if (this.unavailable) throw new BackpressureError(this.unavailable, 5);
    if (!wal || this.stopping) throw new BackpressureError('pipeline is not accepting data (starting or stopping)', 1);
    if (Array.isArray(data) && data.length === 0) return;
    const payload = encodeRecord(data, this.o.codec);
    let range: { first: number; last: number };
    try {
      range = await wal.append([payload]);
    } catch (e) {
      this.m.refused.inc(this.labels);
      if (e instanceof BackpressureError) {
        this.warnOnce('budget', { err: e.message }, 'refusing data: the disk budget (service.durability.max_disk_bytes) is full until exporters catch up');
        throw e;
      }
      // A write that failed (disk full, I/O error): the data is not durable, so it is not
      // accepted; the sender retries later. Nothing was acknowledged, nothing is lost.
      const reason = (e as Error).message;
      this.warnOnce('io', { err: reason, dir: this.o.dir }, 'write-ahead log write failed: refusing data until writes succeed again');
      throw new BackpressureError(`write-ahead log write failed: ${reason}`, 5);
    }
    this.m.appended.inc(this.labels);
    // Kept in memory for the forwarder unless it already read this record from disk.
    const bytes = recordMemoryBytes(payload);
    if (range.first > this.forwardedSeq && this.memoryUsed + bytes <= this.o.memoryBytes) {
      this.memory.set(range.first, { data, bytes });
      this.memoryUsed += bytes;
    }
    this.wakeSoon();
  }

  private wakeScheduled = false;
  /**
   * Wakes the forwarder after the current callbacks: the caller's continuation (the receiver
   * writing its acknowledgement) runs first, instead of waiting behind the forwarding of this
   * record (mapping, batching, maybe a file's JSON), which a direct wake would run first in the
   * same microtask queue.
   */
  private wakeSoon(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake?.();
    });
  }

  private async forwardLoop(): Promise<void> {
    const wal = this.wal!;
    while (!this.stopForwarder) {
      if (this.forwardedSeq >= wal.lastSeq) {
        this.updateGauges();
        if (this.stopping) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const next = this.forwardedSeq + 1;
      if (this.memory.has(next)) {
        await this.forwardOne(next, this.memory.get(next)!.data);
        // One record (one request's calls) per turn of the event loop: acknowledgements and new
        // requests are handled between records, not after the whole backlog in one go.
        await yieldToEventLoop();
        continue;
      }
      // Not in memory: read the backlog from disk, at least up to what is on disk now.
      this.diskReads++;
      const target = wal.lastSeq;
      let complete = true;
      for await (const chunk of wal.read(this.forwardedSeq, 1024 * 1024)) {
        for (const e of chunk) {
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it while this awaits
          if (this.stopForwarder) return;
          if (e.seq <= this.forwardedSeq) continue;
          let data = this.memory.get(e.seq)?.data;
          if (data === undefined) {
            try {
              data = decodeRecord(e.payload);
            } catch (err) {
              this.unreadable(e.seq, e.payload, err as Error);
              continue;
            }
          }
          await this.forwardOne(e.seq, data);
          if (this.forwardedSeq !== e.seq) return; // stopped while downstream refused
          await yieldToEventLoop();
        }
        if (this.memory.has(this.forwardedSeq + 1)) {
          complete = false; // caught up with what is in memory
          break;
        }
      }
      // Every record on disk up to `target` has been forwarded. Numbers at or below it that were
      // not on disk belong to appends that failed (never acknowledged): skip them.
      if (complete && this.forwardedSeq < target) this.forwardedSeq = target;
    }
  }

  private async forwardOne(seq: number, data: unknown): Promise<void> {
    const hold = this.watermark.begin(seq);
    let failures = 0;
    for (;;) {
      try {
        await this.o.next.consume(data, { hold, cuts: this.cuts });
        break;
      } catch (e) {
        if (e instanceof BackpressureError) {
          if (this.stopForwarder) {
            // Shutting down with downstream full: leave this record in the log for the next start.
            return;
          }
          await sleep(Math.min(backoffDelay(FORWARD_BACKOFF, ++failures), (e.retryAfterSeconds || 1) * 1000));
          continue;
        }
        if (e instanceof PermanentError) {
          this.deadLetter(seq, data, e);
          break;
        }
        // Unexpected: keep the data in the log and retry after a pause, never drop it.
        this.o.logger.error({ err: e, seq }, 'downstream failed to take a write-ahead log record; retrying');
        if (this.stopForwarder) return;
        await sleep(backoffDelay(FORWARD_BACKOFF, ++failures));
      }
    }
    hold.release();
    const kept = this.memory.get(seq);
    if (kept) {
      this.memory.delete(seq);
      this.memoryUsed -= kept.bytes;
    }
    this.forwardedSeq = seq;
  }

  private readonly warned = new Map<string, number>();
  /** Logs a warning at most every 10 s per kind, so an outage does not flood the logs. */
  private warnOnce(kind: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if ((this.warned.get(kind) ?? 0) + 10_000 > now) return;
    this.warned.set(kind, now);
    this.o.logger.warn(obj, msg);
  }

  private deadLetter(seq: number, data: unknown, err: Error): void {
    const dir = this.toDeadLetter(seq, { json: JSON.stringify({ error: err.message, data }) });
    this.o.logger.error({ err, seq, dir }, 'downstream rejected a write-ahead log record permanently; moved it to the dead-letter folder');
  }

  /**
   * A record that passed its checksum but cannot be decoded (written by a newer spanmeter, in a
   * format this build does not read): its bytes go to the dead-letter folder as they are, so a
   * build that reads them can replay them, and the log moves on instead of stalling behind it.
   */
  private unreadable(seq: number, payload: Buffer, err: Error): void {
    const name = deadLetterName(seq);
    const dir = this.toDeadLetter(seq, {
      record: payload,
      json: JSON.stringify({ error: `cannot decode the log record: ${err.message}`, bytes: `${name}.record` }),
    });
    this.o.logger.error({ err, seq, dir }, 'cannot decode a write-ahead log record (written by a newer spanmeter?); moved its bytes to the dead-letter folder');
    this.watermark.begin(seq).release();
    this.forwardedSeq = seq;
  }

  /** Writes `<seq>.<extension>` files into the dead-letter folder and counts the record; returns the folder. */
  private toDeadLetter(seq: number, files: Record<string, string | Buffer>): string {
    const dir = join(this.o.dir, 'dead-letter');
    mkdirSync(dir, { recursive: true });
    for (const [ext, content] of Object.entries(files)) writeFileSync(join(dir, `${deadLetterName(seq)}.${ext}`), content);
    this.m.deadLettered.inc(this.labels);
    return dir;
  }

  private persistCheckpoint(): Promise<void> {
    const wal = this.wal;
    if (!wal) return Promise.resolve();
    // The cut log is trimmed to the checkpoint before this one: if this write were torn by a
    // crash, recovery falls back to that one and still finds the cuts it needs.
    let previous = 0;
    this.lastCheckpointWrite = this.lastCheckpointWrite
      .then(() => {
        previous = wal.checkpoint;
        return wal.setCheckpoint(this.watermark.safe);
      })
      .then(() => this.cuts?.trim(previous))
      .catch((err: unknown) => this.o.logger.error({ err }, 'cannot persist the write-ahead log checkpoint'))
      .finally(() => this.updateGauges());
    return this.lastCheckpointWrite;
  }

  private updateGauges(): void {
    const wal = this.wal;
    if (!wal) return;
    this.m.bytes.set(this.labels, wal.bytes);
    this.m.backlog.set(this.labels, wal.lastSeq - this.forwardedSeq);
    this.m.unsafe.set(this.labels, wal.lastSeq - wal.checkpoint);
  }

  /** A group commit reached the disk: counted and timed as it happens. */
  private onCommit(seconds: number): void {
    this.m.syncs.inc(this.labels);
    this.m.commitSeconds.observe(this.labels, seconds);
  }

  /** Status for `spanmeter status` / the admin endpoint. */
  status(): Record<string, unknown> {
    const wal = this.wal;
    return {
      pipeline: this.o.pipeline,
      dir: this.o.dir,
      bytes: wal?.bytes ?? 0,
      lastSeq: wal?.lastSeq ?? 0,
      forwardedSeq: this.forwardedSeq,
      checkpoint: wal?.checkpoint ?? 0,
      outstandingHolds: this.watermark.outstanding,
      diskReads: this.diskReads,
    };
  }

  /**
   * Stops accepting, then forwards what is left in the log downstream until `deadline`.
   * Whatever cannot be forwarded in time stays in the log and is replayed at the next start.
   */
  async shutdown(deadline: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const forwarder = this.forwarder;
    if (forwarder) {
      const timeout = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([forwarder.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeout)))]);
      clearTimeout(timer);
      if (timedOut) {
        this.stopForwarder = true;
        this.wake?.();
        this.o.logger.warn(
          { left: (this.wal?.lastSeq ?? 0) - this.forwardedSeq },
          'shutdown deadline reached: the rest stays in the write-ahead log for the next start',
        );
      }
    }
  }

  /** After downstream has flushed: persist the final checkpoint and close the log. */
  async finalize(): Promise<void> {
    if (this.reopenTimer) clearInterval(this.reopenTimer);
    this.stopForwarder = true;
    this.wake?.();
    await this.forwarder?.catch(() => undefined);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.persistCheckpoint();
    await this.wal?.close();
    await this.cuts?.close();
  }
}

/** A dead-letter file's name without its extension: the record's seq, zero-padded so names sort in log order. */
function deadLetterName(seq: number): string {
  return String(seq).padStart(20, '0');
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
