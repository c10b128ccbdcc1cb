/**
 * The de-duplication window's journal: every id the window remembers, appended to a file in the
 * processor's data directory once the next stage has accepted its call, and read back at start, so
 * that a call re-sent after a restart (a sender retrying a request whose acknowledgement a crash
 * lost, a duplicate span that arrives later) is still recognised.
 *
 * One entry per call: its de-duplication key (a successful call's call id or response id), else
 * its (traceId, spanId). Each entry is 32 bytes: the time the id was first seen (float64 ms) and
 * its six words. Appends are plain writes (in the page cache at once, so they survive the process
 * being killed) and the file is fdatasync'ed once a second; a torn last entry is ignored. When it
 * has grown to twice its size after the last rewrite (at least 256 KiB) it is rewritten from the
 * window (temporary file, fsync, rename). Its bytes count against the disk budget, and an append
 * that would eat into the free-space reserve is left out (only de-duplication after a restart
 * depends on it).
 */
import { closeSync, existsSync, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { DiskBudget } from '../../src/durability.js';
import type { DedupWindow, IdBatch } from './dedup.js';

const ENTRY = 32;
const WORDS = 6;
const MAGIC = Buffer.from('spmdedup', 'latin1');
const MIN_LIMIT = 256 * 1024;

export class DedupJournal {
  private fd = -1;
  private bytes = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private limit = MIN_LIMIT;
  private warnedFull = false;

  constructor(
    private readonly path: string,
    private readonly window: DedupWindow,
    private readonly logger: Logger,
    private readonly budget?: DiskBudget,
  ) {}

  /** Reads the journal into the window (entries still inside it) and opens it for appending. Returns the ids restored. */
  open(): number {
    mkdirSync(dirname(this.path), { recursive: true });
    let restored = 0;
    if (existsSync(this.path)) {
      const buf = readFileSync(this.path);
      if (buf.length >= MAGIC.length && buf.subarray(0, MAGIC.length).equals(MAGIC)) {
        const words = new Uint32Array(WORDS);
        const before = this.window.size;
        for (let p = MAGIC.length; p + ENTRY <= buf.length; p += ENTRY) {
          const stamp = buf.readDoubleLE(p);
          for (let k = 0; k < WORDS; k++) words[k] = buf.readUInt32LE(p + 8 + 4 * k);
          this.window.restore(stamp, words, 0);
        }
        restored = this.window.size - before;
      } else if (buf.length > 0) {
        this.logger.warn({ path: this.path }, 'litellm: the de-duplication journal is not one this build wrote; starting a new one');
      }
    }
    this.compact();
    this.timer = setInterval(() => this.sync(), 1000);
    this.timer.unref();
    return restored;
  }

  /** Appends the ids of a batch that the next stage accepted (one per call). */
  append(ids: IdBatch, stampMs: number): void {
    if (this.fd < 0 || ids.count === 0) return;
    const w = ids.words;
    const buf = Buffer.allocUnsafe(ids.count * ENTRY);
    for (let i = 0; i < ids.count; i++) {
      const p = i * ENTRY;
      buf.writeDoubleLE(stampMs, p);
      for (let k = 0; k < WORDS; k++) buf.writeUInt32LE(w[i * WORDS + k]!, p + 8 + 4 * k);
    }
    if (this.budget && !this.budget.leavesFree(buf.length)) {
      if (!this.warnedFull) {
        this.warnedFull = true;
        this.logger.warn(
          { path: this.path },
          'litellm: the disk is nearly full: ids are not journaled until there is room (duplicates re-sent after a restart may not be recognised meanwhile)',
        );
      }
      return;
    }
    this.warnedFull = false;
    try {
      writeSync(this.fd, buf);
      this.bytes += buf.length;
      this.budget?.add(buf.length);
      this.dirty = true;
      if (this.bytes > this.limit) this.compact();
    } catch (err) {
      // Only de-duplication across a restart depends on it: the calls themselves are safe downstream.
      this.logger.warn(
        { err, path: this.path },
        'litellm: cannot append to the de-duplication journal; duplicates re-sent after a restart may not be recognised',
      );
    }
  }

  /** Rewrites the journal from the window's live entries. */
  compact(): void {
    const tmp = `${this.path}.tmp`;
    const live = [...this.window.entries()];
    const buf = Buffer.allocUnsafe(MAGIC.length + live.length * ENTRY);
    MAGIC.copy(buf, 0);
    live.forEach((e, i) => {
      const p = MAGIC.length + i * ENTRY;
      buf.writeDoubleLE(e.stampMs, p);
      for (let k = 0; k < WORDS; k++) buf.writeUInt32LE(e.words[k]!, p + 8 + 4 * k);
    });
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, buf);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = openSync(this.path, 'a');
      const size = fstatSync(this.fd).size;
      if (this.budget) {
        this.budget.sub(this.bytes);
        this.budget.add(size);
      }
      this.bytes = size;
      this.limit = Math.max(MIN_LIMIT, 2 * size);
      this.dirty = false;
    } catch (err) {
      this.logger.warn({ err, path: this.path }, 'litellm: cannot rewrite the de-duplication journal');
    }
  }

  private sync(): void {
    if (this.fd < 0 || !this.dirty) return;
    try {
      fdatasyncSync(this.fd);
      this.dirty = false;
    } catch (err) {
      this.logger.warn({ err, path: this.path }, 'litellm: cannot sync the de-duplication journal');
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sync();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.budget?.sub(this.bytes);
    this.bytes = 0;
  }
}
