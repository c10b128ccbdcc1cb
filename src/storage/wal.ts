/**
 * A write-ahead log: length-prefixed, checksummed records in segment files, appended with group
 * commit (one fdatasync for all the appends made while the previous one ran) and trimmed once
 * downstream has made the data durable elsewhere (the exporters' spools).
 *
 * Record layout (little-endian):
 *
 *   u32 payload length | u32 crc32(seq ‖ payload) | u64 seq | payload
 *
 * Segments are named `wal-<first seq, 20 digits>.log`. A `checkpoint` file holds the highest seq
 * whose data is safe downstream; recovery replays only records after it. It has two checksummed
 * slots written in turn, in place: moving the checkpoint needs no new disk space, so a full disk
 * can still trim the log (see {@link readCheckpointFile}). On open, every segment
 * is scanned: a torn or corrupt record ends the segment — the file is truncated there, the loss
 * is reported, and everything before it is kept.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, readFileSync } from 'node:fs';
import { open, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { BackpressureError } from '../component.js';
import type { DiskBudget } from '../durability.js';

export const HEADER_BYTES = 16;
const SEGMENT_RE = /^wal-(\d{20})\.log$/;

export interface WalOptions {
  dir: string;
  /** Roll to a new segment beyond this size (default 16 MiB). */
  segmentBytes?: number;
  /**
   * Extra wait before a group commit (default 0: the next turn of the event loop). Appends made
   * while an fdatasync runs always share the next one; a delay only adds latency to gather more.
   */
  syncDelayMs?: number;
  /** Disk budget shared with the spools; appends are refused with BackpressureError when it is full. */
  budget?: DiskBudget;
  /** Largest single record accepted (default 64 MiB). */
  maxRecordBytes?: number;
  /**
   * Called after each group commit that reached the disk: the seconds from the start of its write
   * to the end of its fdatasync, and the records and bytes it made durable (for metrics).
   */
  onCommit?: (seconds: number, records: number, bytes: number) => void;
}

export interface WalEntry {
  seq: number;
  payload: Buffer;
}

interface Segment {
  firstSeq: number;
  lastSeq: number; // firstSeq - 1 when empty
  path: string;
  bytes: number;
}

export interface RecoveryReport {
  segments: number;
  /** Records found after the checkpoint (to be replayed). */
  pending: number;
  /** Bytes cut off torn or corrupt tails. */
  truncatedBytes: number;
  /** Human-readable notes on every truncation. */
  problems: string[];
  checkpoint: number;
  lastSeq: number;
}

interface PendingAppend {
  payloads: readonly Uint8Array[];
  bytes: number;
  resolve: (range: { first: number; last: number }) => void;
  reject: (e: Error) => void;
}

export class WriteAheadLog {
  private segments: Segment[] = [];
  private active?: { seg: Segment; fh: FileHandle };
  private nextSeq = 1;
  private durableSeq = 0;
  private checkpointSeq = 0;
  /** The checkpoint file has the two-slot layout (written in place); the slot written last. */
  private checkpointSlots = false;
  private checkpointSlot = 0;
  private pending: PendingAppend[] = [];
  private pendingBytes = 0;
  private flushTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private closed = false;
  private readonly segmentBytes: number;
  private readonly syncDelayMs: number;
  private readonly maxRecordBytes: number;
  /** Number of fdatasync calls (for tests and metrics). */
  syncs = 0;

  private constructor(
    readonly dir: string,
    private readonly opts: WalOptions,
    readonly recovery: RecoveryReport,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 16 * 1024 * 1024;
    this.syncDelayMs = opts.syncDelayMs ?? 0;
    this.maxRecordBytes = opts.maxRecordBytes ?? 64 * 1024 * 1024;
  }

  /** Opens (creating if needed) and recovers the log in `opts.dir`. */
  static async open(opts: WalOptions): Promise<WriteAheadLog> {
    mkdirSync(opts.dir, { recursive: true });
    const { seq: checkpoint, slots, slot } = readCheckpointFile(join(opts.dir, 'checkpoint'));
    const report: RecoveryReport = { segments: 0, pending: 0, truncatedBytes: 0, problems: [], checkpoint, lastSeq: checkpoint };
    const wal = new WriteAheadLog(opts.dir, opts, report);
    wal.checkpointSeq = checkpoint;
    wal.checkpointSlots = slots;
    wal.checkpointSlot = slot; // the next write goes to the other one
    const names = readdirSync(opts.dir)
      .filter((n) => SEGMENT_RE.test(n))
      .sort();
    for (const name of names) {
      const path = join(opts.dir, name);
      const firstSeq = Number(SEGMENT_RE.exec(name)![1]);
      const { lastSeq, goodBytes, problem, records } = scanSegment(path, firstSeq);
      const size = statSync(path).size;
      if (problem) {
        report.problems.push(`${name}: ${problem}; truncated ${size - goodBytes} bytes at offset ${goodBytes}`);
        report.truncatedBytes += size - goodBytes;
        await truncate(path, goodBytes);
        fsyncPath(path);
      }
      if (records === 0) {
        // Nothing intact in it (new or wholly torn): new appends always go to a new segment.
        await rm(path, { force: true });
        continue;
      }
      wal.segments.push({ firstSeq, lastSeq, path, bytes: goodBytes });
      for (let s = Math.max(firstSeq, checkpoint + 1); s <= lastSeq; s++) report.pending++;
      report.lastSeq = Math.max(report.lastSeq, lastSeq);
    }
    report.segments = wal.segments.length;
    wal.nextSeq = report.lastSeq + 1;
    wal.durableSeq = report.lastSeq;
    opts.budget?.add(wal.bytes);
    // Segments wholly covered by the checkpoint are garbage from before a crash.
    await wal.dropCovered();
    return wal;
  }

  /** Bytes on disk (all segments). */
  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  /**
   * The highest sequence number that is on disk (synced). Sequence numbers are assigned when a
   * group commit starts, so a record with a higher, assigned number may still be in flight.
   */
  get lastSeq(): number {
    return this.durableSeq;
  }

  get checkpoint(): number {
    return this.checkpointSeq;
  }

  /**
   * Appends records and resolves, with their seq range, once they are on disk (fdatasync).
   * Rejects with BackpressureError when the disk budget is full.
   */
  append(payloads: readonly Uint8Array[]): Promise<{ first: number; last: number }> {
    if (this.closed) return Promise.reject(new Error('write-ahead log is closed'));
    let bytes = 0;
    for (const p of payloads) {
      if (p.byteLength > this.maxRecordBytes) return Promise.reject(new Error(`record of ${p.byteLength} bytes exceeds the ${this.maxRecordBytes}-byte limit`));
      bytes += HEADER_BYTES + p.byteLength;
    }
    const budget = this.opts.budget;
    if (budget && !budget.fits(bytes + this.pendingBytes)) {
      return Promise.reject(new BackpressureError(`disk budget full (${budget.describe()})`, 5));
    }
    if (budget && !budget.leavesFree(bytes + this.pendingBytes)) {
      return Promise.reject(new BackpressureError(`disk nearly full (${budget.describeFree()})`, 2));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ payloads, bytes, resolve, reject });
      this.pendingBytes += bytes;
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.flushing) return;
    if (this.syncDelayMs <= 0) this.flushTimer = setImmediate(() => this.runFlush()) as unknown as NodeJS.Timeout;
    else this.flushTimer = setTimeout(() => this.runFlush(), this.syncDelayMs);
  }

  private runFlush(): void {
    this.flushTimer = undefined;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.pending.length) this.scheduleFlush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (!batch.length) return;
    try {
      const ranges: { first: number; last: number }[] = [];
      const buffers: Buffer[] = [];
      let bytes = 0;
      if (!this.active || this.active.seg.bytes >= this.segmentBytes) await this.roll();
      const active = this.active!;
      for (const a of batch) {
        const first = this.nextSeq;
        for (const p of a.payloads) {
          const seq = this.nextSeq++;
          const header = Buffer.allocUnsafe(HEADER_BYTES);
          header.writeUInt32LE(p.byteLength, 0);
          header.writeBigUInt64LE(BigInt(seq), 8);
          header.writeUInt32LE(crc32(p, crc32(header.subarray(8, 16))), 4);
          buffers.push(header, Buffer.from(p.buffer, p.byteOffset, p.byteLength));
          bytes += HEADER_BYTES + p.byteLength;
        }
        ranges.push({ first, last: this.nextSeq - 1 });
      }
      const started = performance.now();
      await writeAll(active.fh, buffers, active.seg.bytes);
      await active.fh.datasync();
      this.syncs++;
      const seconds = (performance.now() - started) / 1000;
      active.seg.bytes += bytes;
      active.seg.lastSeq = this.nextSeq - 1;
      this.durableSeq = this.nextSeq - 1;
      this.opts.budget?.add(bytes);
      batch.forEach((a, i) => a.resolve(ranges[i]!));
      this.reportCommit(seconds, buffers.length / 2, bytes);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      // The active segment may hold a partial write now: start a new one for later appends;
      // recovery truncates the torn tail. Sequence numbers of the failed batch are not reused.
      // A segment with no record in it is removed (on a full disk every failed append would
      // otherwise leave one more empty file behind).
      const failed = this.active?.seg;
      await this.closeActive().catch(() => undefined);
      if (failed && failed.lastSeq < failed.firstSeq) {
        this.segments = this.segments.filter((x) => x !== failed);
        await rm(failed.path, { force: true }).catch(() => undefined);
      }
      for (const a of batch) a.reject(new Error(`write-ahead log append failed: ${err.message}`, { cause: err }));
    }
  }

  /** {@link WalOptions.onCommit}, which must not turn a commit that reached the disk into a failure. */
  private reportCommit(seconds: number, records: number, bytes: number): void {
    try {
      this.opts.onCommit?.(seconds, records, bytes);
    } catch {
      // metrics only
    }
  }

  private async roll(): Promise<void> {
    await this.closeActive();
    const name = `wal-${String(this.nextSeq).padStart(20, '0')}.log`;
    const path = join(this.dir, name);
    const fh = await open(path, 'a');
    fsyncPath(this.dir);
    const seg: Segment = { firstSeq: this.nextSeq, lastSeq: this.nextSeq - 1, path, bytes: (await fh.stat()).size };
    this.segments.push(seg);
    this.active = { seg, fh };
  }

  private async closeActive(): Promise<void> {
    const a = this.active;
    this.active = undefined;
    if (a) await a.fh.close();
  }

  /**
   * Reads records with seq > `after`, in order, handing them over in chunks of at most
   * `maxChunkBytes`. Memory stays bounded by one segment read plus one chunk.
   */
  async *read(after: number, maxChunkBytes = 4 * 1024 * 1024): AsyncGenerator<WalEntry[]> {
    for (const seg of [...this.segments]) {
      if (seg.lastSeq <= after || seg.bytes === 0) continue;
      const fh = await open(seg.path, 'r').catch(() => undefined);
      if (!fh) continue; // deleted by a concurrent checkpoint: nothing left to read in it
      try {
        let offset = 0;
        let chunk: WalEntry[] = [];
        let chunkBytes = 0;
        const header = Buffer.allocUnsafe(HEADER_BYTES);
        while (offset + HEADER_BYTES <= seg.bytes) {
          await readExactly(fh, header, offset);
          const len = header.readUInt32LE(0);
          const seq = Number(header.readBigUInt64LE(8));
          if (seq > after) {
            const payload = Buffer.allocUnsafe(len);
            await readExactly(fh, payload, offset + HEADER_BYTES);
            chunk.push({ seq, payload });
            chunkBytes += len;
            if (chunkBytes >= maxChunkBytes) {
              yield chunk;
              chunk = [];
              chunkBytes = 0;
            }
          }
          offset += HEADER_BYTES + len;
        }
        if (chunk.length) yield chunk;
      } finally {
        await fh.close();
      }
    }
  }

  /**
   * Records that everything up to `seq` is durable downstream: persists the checkpoint and
   * deletes segments that hold nothing newer. Idempotent; a lower seq is ignored.
   */
  async setCheckpoint(seq: number): Promise<void> {
    if (seq <= this.checkpointSeq) return;
    this.checkpointSeq = Math.min(seq, this.lastSeq);
    const path = join(this.dir, 'checkpoint');
    // Asynchronous (on libuv's pool): this runs every checkpoint interval under load, and fsyncs
    // on the event loop would delay every request waiting there.
    if (this.checkpointSlots) {
      // In place, in the slot not written last: a torn write leaves the other slot intact, and
      // overwriting allocated bytes needs no free space (on ext4, XFS, tmpfs; not on copy-on-write file systems).
      this.checkpointSlot ^= 1;
      const fh = await open(path, 'r+');
      try {
        await fh.write(checkpointSlot(this.checkpointSeq), 0, CHECKPOINT_SLOT_BYTES, this.checkpointSlot * CHECKPOINT_SLOT_BYTES);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } else {
      // First checkpoint (or a file from an earlier version): created whole, then renamed in.
      const tmp = `${path}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        const slot = checkpointSlot(this.checkpointSeq);
        await fh.writeFile(Buffer.concat([slot, slot]));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      await fsyncPathAsync(this.dir);
      this.checkpointSlots = true;
    }
    await this.dropCovered();
  }

  private async dropCovered(): Promise<void> {
    const keep: Segment[] = [];
    // A fully covered active segment is closed too (unless a write is under way), so an idle
    // log gives its disk space back; the next append opens a new segment.
    if (this.active && !this.flushing && this.active.seg.lastSeq <= this.checkpointSeq) await this.closeActive();
    for (const seg of this.segments) {
      const isActive = this.active?.seg === seg;
      if (!isActive && seg.lastSeq <= this.checkpointSeq) {
        await rm(seg.path, { force: true });
        this.opts.budget?.sub(seg.bytes);
      } else keep.push(seg);
    }
    this.segments = keep;
  }

  /** Flushes pending appends and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    while (this.flushing || this.pending.length) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
    this.closed = true;
    await this.closeActive();
  }
}

const CHECKPOINT_SLOT_BYTES = 32;

/** `<seq, 20 digits> <crc32 of them, 8 hex>`, padded to 32 bytes with a final newline. */
function checkpointSlot(seq: number): Buffer {
  const digits = String(seq).padStart(20, '0');
  return Buffer.from(`${digits} ${(crc32(digits) >>> 0).toString(16).padStart(8, '0')}`.padEnd(CHECKPOINT_SLOT_BYTES - 1, ' ') + '\n');
}

/**
 * Reads a checkpoint file: two 32-byte slots (see {@link checkpointSlot}), the highest valid one
 * wins; or the single number earlier versions wrote. A missing file is checkpoint 0.
 */
export function readCheckpointFile(path: string): { seq: number; slots: boolean; slot: number } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return { seq: 0, slots: false, slot: 0 };
  }
  if (buf.length === 2 * CHECKPOINT_SLOT_BYTES) {
    let best = -1;
    let slot = 0;
    for (let k = 0; k < 2; k++) {
      const m = /^(\d{20}) ([0-9a-f]{8})/.exec(buf.subarray(k * CHECKPOINT_SLOT_BYTES, (k + 1) * CHECKPOINT_SLOT_BYTES).toString('latin1'));
      if (m && (crc32(m[1]!) >>> 0).toString(16).padStart(8, '0') === m[2] && Number(m[1]) > best) {
        best = Number(m[1]);
        slot = k;
      }
    }
    if (best >= 0) return { seq: best, slots: true, slot };
  }
  const n = Number(buf.toString('utf8').trim());
  return { seq: Number.isSafeInteger(n) && n >= 0 ? n : 0, slots: false, slot: 0 };
}

async function writeAll(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  // writev may write less than asked; loop until everything is on disk (in order).
  let pos = position;
  let bufs = buffers;
  while (bufs.length) {
    const { bytesWritten } = await fh.writev(bufs.slice(0, 1024), pos);
    pos += bytesWritten;
    let n = bytesWritten;
    let i = 0;
    while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
    bufs = bufs.slice(i);
    if (n > 0) bufs[0] = bufs[0]!.subarray(n);
  }
}

async function readExactly(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) throw new Error(`unexpected end of write-ahead log segment at ${position + off}`);
    off += bytesRead;
  }
}

/** Scans a segment, validating every record. */
function scanSegment(path: string, firstSeq: number): { lastSeq: number; goodBytes: number; records: number; problem?: string } {
  const buf = readFileSync(path);
  let off = 0;
  let lastSeq = firstSeq - 1;
  let records = 0;
  while (off < buf.length) {
    if (off + HEADER_BYTES > buf.length) return { lastSeq, goodBytes: off, records, problem: 'torn record header at the end' };
    const len = buf.readUInt32LE(off);
    const crc = buf.readUInt32LE(off + 4);
    const seqBig = buf.readBigUInt64LE(off + 8);
    if (off + HEADER_BYTES + len > buf.length) return { lastSeq, goodBytes: off, records, problem: `torn record (seq ${seqBig}) at the end` };
    const actual = crc32(buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len), crc32(buf.subarray(off + 8, off + 16)));
    if (actual !== crc) return { lastSeq, goodBytes: off, records, problem: `checksum mismatch at offset ${off}` };
    const seq = Number(seqBig);
    if (seq !== lastSeq + 1) return { lastSeq, goodBytes: off, records, problem: `sequence jumps from ${lastSeq} to ${seq} at offset ${off}` };
    lastSeq = seq;
    records++;
    off += HEADER_BYTES + len;
  }
  return { lastSeq, goodBytes: off, records };
}

/**
 * fsync of a directory after a rename into it, shared: while one directory fsync runs, callers
 * wait for the next one, which starts when it ends and covers every rename made before it
 * (group commit per directory). Many small files a second (the file exporter with 100-record
 * batches, a busy spool) then cost a few directory fsyncs instead of one each.
 */
export function syncDirectory(dir: string): Promise<void> {
  let s = dirSyncers.get(dir);
  if (!s) dirSyncers.set(dir, (s = new DirSyncer(dir)));
  return s.sync();
}

/** Directory fsyncs started so far (tests check the sharing). */
export const directorySyncs = { count: 0 };

const dirSyncers = new Map<string, DirSyncer>();

class DirSyncer {
  private running = false;
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;
  constructor(private readonly dir: string) {}

  sync(): Promise<void> {
    if (!this.running) return this.run();
    // The running fsync may have started before the caller's rename: wait for the next one.
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((a, b) => {
        resolve = a;
        reject = b;
      });
      this.next = { promise, resolve, reject };
    }
    return this.next.promise;
  }

  private run(): Promise<void> {
    this.running = true;
    directorySyncs.count++;
    const p = fsyncPathAsync(this.dir);
    const done = () => {
      this.running = false;
      const n = this.next;
      this.next = null;
      if (n) this.run().then(n.resolve, n.reject);
      else if (dirSyncers.get(this.dir) === this) dirSyncers.delete(this.dir); // idle: forget it
    };
    p.then(done, done);
    return p;
  }
}

/** {@link fsyncPath} without blocking the event loop. */
export async function fsyncPathAsync(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
