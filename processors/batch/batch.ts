/**
 * The batch processor for `meter_events`: collects records into batches (one open batch per
 * partition), cuts a batch at `send_batch_size` records, `max_bytes` of JSON or `timeout` after its
 * first record, and hands cut batches to the exporters, up to `max_in_flight` at a time per partition.
 *
 * Acknowledgement and bounds: `consume` resolves once the records are held here (the Collector's
 * model; the write-ahead log makes them durable before that). Everything held — open batches
 * and cut batches waiting for or retrying delivery — counts against `max_pending_records`; beyond
 * it `consume` rejects with BackpressureError, so a slow or dead exporter pushes back to the
 * receivers (429) instead of growing memory. A batch the exporters fail is kept at the head of its
 * partition and sent again after a backoff, never dropped; only a PermanentError (the data can
 * never be accepted) drops it, with an error log and the `dropped` metric.
 */
import type { Logger } from 'pino';
import type { Counter, Gauge, Registry } from 'prom-client';
import { BackpressureError, PermanentError, type ConsumeContext, type Consumer, type Processor } from '../../src/component.js';
import type { CutRecorder, Hold } from '../../src/durability.js';
import { cutMaxSeq } from '../../src/storage/cut-log.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { backoffDelay, sleep, type Backoff } from '../../src/backoff.js';
import type { ComponentMetrics } from '../../src/telemetry/metrics.js';
import type { BatchConfig } from './config.js';
import { metadata } from './metadata.js';
import { instruments } from '../../src/telemetry/declare.js';

interface Batch {
  records: MeterRecord[];
  /** Write-ahead-log holds of the records in this batch, retained until the batch is delivered/spooled. */
  holds: Set<Hold>;
  /** Bytes of the records' JSON counted against max_bytes (0 when max_bytes is off). */
  bytes: number;
  /**
   * Handed to the exporters at least once. Such a batch is never merged with another: a retry
   * sends the same records as the failed attempt, so that an object the attempt wrote (the failure
   * came after) is found again under its content-derived key instead of written twice.
   */
  tried: boolean;
  /**
   * Where its records are in the write-ahead log, in order: [seq, first index, count] runs (see
   * cut-log.ts). Empty for data that did not come from a log.
   */
  parts: [number, number, number][];
  /** Its parts are in the cut log: a replay re-creates this batch as it is. */
  recorded: boolean;
  /** When its first record arrived (epoch ms), for the status: the timeout cuts it then + timeout. */
  openedAt?: number;
}

/** A batch recorded before a restart, being re-created from the replayed records. */
interface Redo {
  batch: Batch;
  /** Records it had. */
  expect: number;
  /** Highest seq it names: once the replay is past it, it is complete or never will be. */
  maxSeq: number;
  /** The parts of the records that came back (the recorded ones, unless the pipeline changed). */
  got: [number, number, number][];
}

/** Where a replayed record goes: into a batch being re-created, or nowhere (already written). */
interface Claim {
  from: number;
  to: number; // exclusive
  redo: Redo | null;
}

interface Partition {
  key: string;
  open: Batch;
  /** Records in `ready` (cut, not yet delivered). */
  readyRecords: number;
  /** When the last wave started (performance.now()), for merge_wait. */
  lastSend: number;
  /** Ends a merge wait early (enough records wait, or shutdown). */
  wake?: () => void;
  timer?: NodeJS.Timeout;
  /** Cut batches, oldest first; the head is being delivered. */
  ready: Batch[];
  draining?: Promise<void>;
}

const newBatch = (): Batch => ({ records: [], holds: new Set(), bytes: 0, tried: false, parts: [], recorded: false });

/** Appends item `idx` of log record `seq` to a batch's parts. */
function addPart(parts: [number, number, number][], seq: number, idx: number): void {
  const last = parts[parts.length - 1];
  if (last && last[0] === seq && last[1] + last[2] === idx) last[2]++;
  else parts.push([seq, idx, 1]);
}

/** Appends a run of items (another batch's part) to a batch's parts. */
function addParts(parts: [number, number, number][], [seq, from, count]: readonly [number, number, number]): void {
  const last = parts[parts.length - 1];
  if (last && last[0] === seq && last[1] + last[2] === from) last[2] += count;
  else parts.push([seq, from, count]);
}

export interface BatchSettings {
  id: string;
  pipeline?: string;
  logger: Logger;
  registry: Registry;
  metrics: ComponentMetrics;
}

export class BatchProcessor implements Processor<MeterRecord[]> {
  private readonly partitions = new Map<string, Partition>();
  /**
   * When emptied partitions last sent, while that is within merge_wait: an empty partition is
   * forgotten (partition_by may see many values), but its next send must still wait.
   */
  private readonly recentSends = new Map<string, number>();
  private readonly sizeMax: number;
  /** The most records a merged object may hold (see {@link coalesce}); at most sizeMax: no merging. */
  private readonly mergeMax: number;
  private readonly bytesMax: number;
  /** See `merge_wait`; 0 when merging is off. */
  private readonly mergeWaitMs: number;
  private readonly timeoutMs: number;
  /** The wait before sending a failed batch again: doubling from retry_initial_interval, jittered ±50%. */
  private readonly retryBackoff: Backoff;
  private pending = 0;
  private stopping = false;
  /** Forwarders waiting for room (see consume). */
  private roomWaiters: (() => void)[] = [];
  private readonly abandon = new AbortController();
  private readonly pendingGauge: Gauge<'processor' | 'pipeline'>;
  private readonly cuts: Counter<'processor' | 'pipeline' | 'trigger'>;
  private readonly failures: Counter<'processor' | 'pipeline'>;
  private readonly refusedC: Counter<'processor' | 'pipeline'>;
  private readonly mergedC: Counter<'processor' | 'pipeline'>;
  private readonly labels: { processor: string; pipeline: string };
  /** The write-ahead log's cut log, once data came from one (see {@link ConsumeContext.cuts}). */
  private cutLog?: CutRecorder;
  /** The log record whose items are arriving, and the index of the next one. */
  private curSeq = -1;
  private curIdx = 0;
  /** Replay of recorded batches: which items of which seq go where. */
  private readonly claims = new Map<number, Claim[]>();
  private readonly redos = new Set<Redo>();

  constructor(
    private readonly cfg: BatchConfig,
    private readonly s: BatchSettings,
    private readonly next: Consumer<MeterRecord[]>,
  ) {
    this.sizeMax = cfg.send_batch_size;
    this.mergeMax = Math.max(cfg.send_batch_size, cfg.send_batch_max_size);
    this.mergeWaitMs = this.mergeMax > cfg.send_batch_size ? cfg.merge_wait : 0;
    this.bytesMax = cfg.max_bytes;
    this.timeoutMs = cfg.timeout;
    this.retryBackoff = { initialMs: cfg.retry_initial_interval, maxMs: cfg.retry_max_interval, multiplier: 2, jitter: 0.5 };
    this.labels = { processor: s.id, pipeline: s.pipeline ?? '' };
    const m = instruments(s.registry, metadata.metrics);
    this.pendingGauge = m.pending;
    this.cuts = m.batches;
    this.failures = m.sendFailures;
    this.refusedC = m.refused;
    this.mergedC = m.merged;
    this.pendingGauge.set(this.labels, 0);
  }

  /** Records currently held (for tests and status). */
  /**
   * For `spanmeter status` and the status page: the open batches (records, bytes of JSON, when the
   * oldest opened and when the timeout cuts it) and the records cut but not yet delivered.
   */
  status(): Record<string, unknown> {
    let records = 0;
    let bytes = 0;
    let openedAt: number | undefined;
    let waiting = 0;
    for (const p of this.partitions.values()) {
      waiting += p.readyRecords;
      if (p.open.records.length === 0) continue;
      records += p.open.records.length;
      bytes += this.bytesMax > 0 ? p.open.bytes : p.open.records.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)) + 1, 1);
      if (p.open.openedAt !== undefined && (openedAt === undefined || p.open.openedAt < openedAt)) openedAt = p.open.openedAt;
    }
    return {
      openBatch: {
        records,
        bytes,
        partitions: [...this.partitions.values()].filter((p) => p.open.records.length > 0).length,
        openedAt: openedAt === undefined ? null : new Date(openedAt).toISOString(),
        cutAt: openedAt === undefined || this.timeoutMs <= 0 ? null : new Date(openedAt + this.timeoutMs).toISOString(),
        cutAtRecords: this.sizeMax,
        timeoutMs: this.timeoutMs,
      },
      waitingRecords: waiting,
      pendingRecords: this.pending,
    };
  }

  get pendingRecords(): number {
    return this.pending;
  }

  async consume(records: MeterRecord[], ctx?: ConsumeContext): Promise<void> {
    if (records.length === 0) return;
    if (this.stopping) throw new BackpressureError('batch processor is shutting down', 5);
    // A request larger than the whole bound is accepted only into an empty buffer (else it could never pass).
    const full = () => this.pending > 0 && this.pending + records.length > this.cfg.max_pending_records;
    if (full() && ctx?.hold) {
      // Sent by a write-ahead log's forwarder: the data is already durable upstream, so wait for
      // room instead of refusing (a refusal makes the forwarder back off for 50 ms–2 s even when
      // room frees a moment later). Shutdown ends the wait. (The narrowing from the check above does
      // not hold across the await: shutdown sets `stopping` while we wait.)
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      while (full() && !this.stopping) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (this.stopping) throw new BackpressureError('batch processor is shutting down', 5);
    }
    if (full()) {
      this.refusedC.inc(this.labels, records.length);
      throw new BackpressureError(
        `batch buffer full: ${this.pending} records pending (max_pending_records ${this.cfg.max_pending_records}); exporters are slow or failing`,
        Math.max(1, Math.ceil(this.retryBackoff.initialMs / 1000)),
      );
    }
    const touched = new Set<Partition>();
    const hold = ctx?.hold;
    if (hold && ctx.cuts && this.cutLog !== ctx.cuts) this.adopt(ctx.cuts);
    if (hold && hold.seq !== this.curSeq) {
      this.curSeq = hold.seq;
      this.curIdx = 0;
      if (this.redos.size) this.passed(hold.seq);
    }
    for (const r of records) {
      if (hold) {
        const idx = this.curIdx++;
        if (this.claims.size && this.replayed(r, hold, idx)) continue;
      }
      const p = this.partitionFor(r);
      const bytes = this.bytesMax > 0 ? Buffer.byteLength(JSON.stringify(r)) + 1 : 0;
      if (this.bytesMax > 0 && p.open.records.length > 0 && p.open.bytes + bytes + 2 > this.bytesMax) this.cut(p, 'bytes');
      p.open.records.push(r);
      if (hold) {
        if (!p.open.holds.has(hold)) p.open.holds.add(hold.retain());
        addPart(p.open.parts, hold.seq, this.curIdx - 1);
      }
      p.open.bytes += bytes;
      this.pending++;
      if (p.open.records.length === 1) p.open.openedAt = Date.now();
      if (p.open.records.length === 1 && this.timeoutMs > 0) {
        p.timer = setTimeout(() => this.cut(p, 'timeout'), this.timeoutMs);
        p.timer.unref();
      }
      if (p.open.records.length >= this.sizeMax) this.cut(p, 'size');
      touched.add(p);
    }
    if (this.timeoutMs === 0) for (const p of touched) this.cut(p, 'timeout');
    this.pendingGauge.set(this.labels, this.pending);
  }

  /**
   * First data from a write-ahead log (after a start or reload): the batches recorded before the
   * last stop are found again. A batch that names a seq at or below the log's checkpoint was
   * delivered whole (its holds were released), so its replayed records are dropped; any other is
   * re-created from the replayed records, exactly as it was, and sent again (the exporters find
   * the object it may already have written under the same key).
   */
  private adopt(cuts: CutRecorder): void {
    this.cutLog = cuts;
    this.claims.clear();
    this.redos.clear();
    let redone = 0;
    let skipped = 0;
    for (const cut of cuts.recovered(this.s.id)) {
      const written = cut.parts.some((part) => part[0] <= cuts.replayedAfter);
      const expect = cut.parts.reduce((n, part) => n + part[2], 0);
      const redo: Redo | null = written
        ? null
        : {
            batch: { ...newBatch(), tried: true, recorded: true, parts: cut.parts.map(([a, b, c]) => [a, b, c]) },
            expect,
            maxSeq: cutMaxSeq(cut.parts),
            got: [],
          };
      if (redo) {
        this.redos.add(redo);
        redone++;
      } else skipped++;
      for (const [seq, from, count] of cut.parts) {
        if (seq <= cuts.replayedAfter) continue;
        let list = this.claims.get(seq);
        if (!list) this.claims.set(seq, (list = []));
        list.push({ from, to: from + count, redo });
      }
    }
    if (redone || skipped)
      this.s.logger.info(
        { recreated: redone, alreadyWritten: skipped },
        'replay: re-creating the batches recorded before the last stop, leaving out records of batches already written',
      );
  }

  /** A replayed record named by a recorded batch: put into it (or left out); false when unclaimed. */
  private replayed(r: MeterRecord, hold: Hold, idx: number): boolean {
    const list = this.claims.get(hold.seq);
    const c = list?.find((x) => idx >= x.from && idx < x.to);
    if (!c) return false;
    const redo = c.redo;
    if (!redo) return true; // in an object already
    const b = redo.batch;
    b.records.push(r);
    addPart(redo.got, hold.seq, idx);
    if (!b.holds.has(hold)) b.holds.add(hold.retain());
    if (this.bytesMax > 0) b.bytes += Buffer.byteLength(JSON.stringify(r)) + 1;
    this.pending++;
    if (b.records.length === redo.expect) this.redone(redo);
    return true;
  }

  /** A recorded batch is whole again (or never will be): it goes out first, as it is. */
  private redone(redo: Redo): void {
    this.redos.delete(redo);
    const b = redo.batch;
    if (!b.records.length) return;
    const p = this.partitionFor(b.records[0]!);
    p.ready.unshift(b);
    p.readyRecords += b.records.length;
    this.kick(p);
  }

  /** The replay reached `seq`: claims below it are over, and recorded batches not whole by now never will be. */
  private passed(seq: number): void {
    for (const s of this.claims.keys()) if (s < seq) this.claims.delete(s);
    for (const redo of [...this.redos]) {
      if (redo.maxSeq >= seq) continue;
      // Only if what runs between the log and here changed since (configuration, version).
      this.s.logger.warn(
        { records: redo.batch.records.length, expected: redo.expect },
        'replay: a recorded batch came back incomplete (the pipeline changed since it was recorded?); sending what came back',
      );
      redo.batch.recorded = false; // recorded again, as it is now, before it is sent
      redo.batch.parts = redo.got;
      this.redone(redo);
    }
  }

  private partitionFor(r: MeterRecord): Partition {
    const key = this.cfg.partition_by.length ? JSON.stringify(this.cfg.partition_by.map((d) => r.dimensions?.[d] ?? null)) : '';
    let p = this.partitions.get(key);
    if (!p) {
      const lastSend = this.recentSends.get(key) ?? -Infinity;
      this.recentSends.delete(key);
      this.partitions.set(key, (p = { key, open: newBatch(), readyRecords: 0, lastSend, ready: [] }));
    }
    return p;
  }

  /** Drops an empty partition, remembering its last send while merge_wait still applies to it. */
  private forget(p: Partition): void {
    this.partitions.delete(p.key);
    if (this.mergeWaitMs <= 0) return;
    const now = performance.now();
    if (this.recentSends.size >= 1024) for (const [k, t] of this.recentSends) if (now - t >= this.mergeWaitMs) this.recentSends.delete(k);
    if (now - p.lastSend < this.mergeWaitMs) this.recentSends.set(p.key, p.lastSend);
  }

  private cut(p: Partition, trigger: string): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    if (p.open.records.length === 0) return;
    p.ready.push(p.open);
    p.readyRecords += p.open.records.length;
    p.open = newBatch();
    if (p.wake && this.mergeNow(p)) p.wake();
    this.cuts.inc({ ...this.labels, trigger });
    this.kick(p);
  }

  private kick(p: Partition): void {
    if (p.draining) return;
    p.draining = this.drain(p).finally(() => {
      p.draining = undefined;
      if (p.ready.length && !this.abandon.signal.aborted) this.kick(p);
      else if (p.open.records.length === 0 && p.ready.length === 0) this.forget(p);
    });
  }

  /**
   * Merges consecutive cut batches that wait into objects of up to `mergeMax` records (and
   * `max_bytes`), oldest first, keeping their order. Batches wait while the exporters write the
   * previous wave, or for `merge_wait` (see {@link mergeWait}); sending them as fewer, larger
   * objects costs fewer file creations, fsyncs and uploads per record (with 100-record batches a
   * third of the collector's CPU went into creating files). Batches already tried are left as they
   * are (see {@link Batch.tried}). Called only between waves, when none of `p.ready` is with the
   * exporters.
   */
  private coalesce(p: Partition): void {
    if (this.mergeMax <= this.sizeMax || p.ready.length < 2) return;
    const out: Batch[] = [];
    let merged = 0;
    for (const b of p.ready) {
      const last = out[out.length - 1];
      if (
        last !== undefined &&
        !last.tried &&
        !b.tried &&
        last.records.length + b.records.length <= this.mergeMax &&
        (this.bytesMax === 0 || last.bytes + b.bytes + 2 <= this.bytesMax)
      ) {
        for (const r of b.records) last.records.push(r);
        for (const part of b.parts) addParts(last.parts, part);
        for (const h of b.holds) {
          if (last.holds.has(h))
            h.release(); // the merged batch holds it once
          else last.holds.add(h);
        }
        last.bytes += b.bytes;
        merged++;
      } else out.push(b);
    }
    if (merged === 0) return;
    p.ready = out;
    this.mergedC.inc(this.labels, merged);
  }

  /** Whether the batches that wait should go now rather than wait for more (see {@link mergeWait}). */
  private mergeNow(p: Partition): boolean {
    return this.stopping || p.readyRecords >= this.mergeMax || 2 * this.pending >= this.cfg.max_pending_records;
  }

  /** Milliseconds the next send of `p` should still wait for batches to merge with (≤ 0: none). */
  private mergeWaitLeft(p: Partition): number {
    if (this.mergeWaitMs <= 0 || this.mergeNow(p)) return 0;
    return p.lastSend + this.mergeWaitMs - performance.now();
  }

  /**
   * `merge_wait`: lets the next send start no sooner than `mergeWaitMs` after the previous one
   * started, so that the batches cut meanwhile go out merged. Under a steady load that is one
   * object per partition (per `send_batch_max_size` records) per `merge_wait` instead of one per
   * `send_batch_size` records: at 15,000 calls/s the exporters wrote ~85 files a second, a median
   * of 600 records each, and every file cost ~0.8 ms of CPU on the benchmark's disk. Returns at
   * once when merging is off, after an idle spell, when `send_batch_max_size` records (or half of
   * `max_pending_records`) wait, and at shutdown. `left`: {@link mergeWaitLeft}, > 0.
   */
  private async mergeWait(p: Partition, left: number): Promise<void> {
    const signal = this.abandon.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        p.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, left);
      signal.addEventListener('abort', done);
      p.wake = done;
    });
  }

  /**
   * Sends the partition's cut batches, oldest first, up to `max_in_flight` at a time (a wave),
   * and waits for the wave. Batches that waited are merged first (see {@link coalesce}).
   * Delivered (or spooled) batches release their holds; failed ones stay at the head, in order,
   * and the next wave after a backoff retries them first, unmerged. A PermanentError drops its
   * batch, logged and counted.
   */
  private async drain(p: Partition): Promise<void> {
    let failures = 0;
    const width = this.cfg.max_in_flight;
    while (p.ready.length && !this.abandon.signal.aborted) {
      // Only when it has to: a send that need not wait starts now (synchronously from cut()).
      const left = failures === 0 ? this.mergeWaitLeft(p) : 0;
      if (left > 0) await this.mergeWait(p, left);
      p.lastSend = performance.now();
      this.coalesce(p);
      const wave = p.ready.slice(0, width);
      for (const b of wave) b.tried = true;
      // What goes out is recorded first: after a crash, the replay re-creates these batches as they are.
      const unrecorded = this.cutLog ? wave.filter((b) => !b.recorded && b.parts.length) : [];
      let results: PromiseSettledResult<void>[];
      try {
        if (unrecorded.length)
          await this.cutLog!.record(
            this.s.id,
            unrecorded.map((b) => b.parts),
          );
        for (const b of unrecorded) b.recorded = true;
        results = await Promise.allSettled(wave.map((b) => this.next.consume(b.records, {})));
      } catch (e) {
        results = wave.map(() => ({ status: 'rejected', reason: e }));
      }
      let failed: unknown;
      for (let k = 0; k < wave.length; k++) {
        const { records: batch, holds } = wave[k]!;
        const r = results[k]!;
        if (r.status === 'rejected') {
          const e = r.reason as Error;
          if (!(e instanceof PermanentError || (e as { permanent?: boolean }).permanent === true)) {
            failed ??= e;
            continue; // kept, in order, for the next wave
          }
          this.s.logger.error(
            { err: e, records: batch.length },
            'exporters rejected a batch permanently; dropping it (see the exporter logs / dead-letter folder)',
          );
          this.s.metrics.dropped(batch.length, 'permanent_error');
        }
        p.ready.splice(p.ready.indexOf(wave[k]!), 1);
        p.readyRecords -= batch.length;
        // Delivered, or spooled by the exporters: the write-ahead log may now be trimmed past it.
        for (const h of holds) h.release();
        this.pending -= batch.length;
      }
      this.pendingGauge.set(this.labels, this.pending);
      this.wakeRoomWaiters();
      if (failed === undefined) {
        failures = 0;
        continue;
      }
      failures++;
      this.failures.inc(this.labels);
      const e = failed as Error;
      const wait = backoffDelay(this.retryBackoff, failures);
      this.s.logger.warn(
        { err: { type: e.name, message: e.message }, pending: this.pending, retryInMs: wait },
        'exporters failed a batch; keeping it and sending it again',
      );
      const stopped = await sleep(wait, this.abandon.signal).then(
        () => false,
        () => true,
      );
      if (stopped) break;
    }
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    if (!waiters.length) return;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  async shutdown(deadline: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wakeRoomWaiters();
    for (const p of this.partitions.values()) p.wake?.();
    for (const p of this.partitions.values()) this.cut(p, 'shutdown');
    const timer = setTimeout(() => this.abandon.abort(), Math.max(0, deadline - Date.now()));
    const abandoned = new Promise<void>((resolve) => this.abandon.signal.addEventListener('abort', () => resolve(), { once: true }));
    try {
      // Wait for every partition to drain, or the deadline (then the exporters' own shutdown stops their retries).
      for (;;) {
        const busy = [...this.partitions.values()].map((p) => p.draining).filter((d): d is Promise<void> => !!d);
        if (!busy.length || this.abandon.signal.aborted) break;
        await Promise.race([Promise.all(busy), abandoned]);
      }
    } finally {
      clearTimeout(timer);
      this.abandon.abort();
    }
    if (this.pending > 0) {
      // Their write-ahead-log holds stay unreleased, so a durable pipeline replays them at the next
      // start; without a write-ahead log they are lost, and said so.
      const held = [...this.partitions.values()].some((p) => [p.open, ...p.ready].some((b) => b.holds.size > 0));
      if (held) {
        this.s.logger.warn(
          { records: this.pending },
          'shutdown deadline reached with undelivered records; they stay in the write-ahead log and are replayed at the next start',
        );
      } else {
        this.s.logger.error({ records: this.pending }, 'shutdown deadline reached with undelivered records; no write-ahead log, so they are lost');
        this.s.metrics.dropped(this.pending, 'shutdown_undelivered');
      }
    }
  }
}
