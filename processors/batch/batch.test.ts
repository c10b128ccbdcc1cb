import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BackpressureError, PermanentError, type Consumer } from '../../src/component.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { CutLog } from '../../src/storage/cut-log.js';
import { Watermark } from '../../src/storage/holds.js';
import type { ComponentMetrics } from '../../src/telemetry/metrics.js';
import { BatchProcessor } from './batch.js';
import { validate } from './config.js';
import { configOf } from '../../src/config/component-config.js';
import factory from './index.js';

const rec = (i: number, bu?: string): MeterRecord => ({
  meterApiName: 'm',
  meterTimeInMillis: 1_700_000_000_000 + i,
  meterValue: i,
  uniqueId: `u${i}`,
  ...(bu ? { dimensions: { bu } } : {}),
});
const recs = (from: number, n: number, bu?: string) => Array.from({ length: n }, (_, k) => rec(from + k, bu));

function metrics(): ComponentMetrics & { droppedN: number } {
  const m = {
    kind: 'processor' as const,
    droppedN: 0,
    accepted() {},
    refused() {},
    failed() {},
    dropped(n: number) {
      m.droppedN += n;
    },
    sent() {},
    sendFailed() {},
    queueSize() {},
    queueCapacity() {},
  };
  return m;
}

class Sink implements Consumer<MeterRecord[]> {
  batches: MeterRecord[][] = [];
  fail = 0;
  failWith: () => Error = () => new Error('down');
  async consume(b: MeterRecord[]) {
    if (this.fail > 0) {
      this.fail--;
      throw this.failWith();
    }
    this.batches.push(b);
  }
}

function make(cfg: Record<string, unknown>, sink = new Sink()) {
  const m = metrics();
  // merge_wait 0s unless a test is about it: sends start as soon as the exporters are free.
  const p = new BatchProcessor(
    configOf(factory, { merge_wait: '0s', retry_initial_interval: '1ms', retry_max_interval: '5ms', ...cfg }),
    { id: 'batch', pipeline: 'p', logger: pino({ level: 'silent' }), registry: new Registry(), metrics: m },
    sink,
  );
  return { p, sink, m };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

describe('batch processor', () => {
  it('cuts at send_batch_size and flushes the remainder on shutdown, in order', async () => {
    const { p, sink } = make({ send_batch_size: 10 });
    await p.consume(recs(0, 25));
    await until(() => sink.batches.length === 2);
    assert.equal(p.pendingRecords, 5);
    await p.shutdown(Date.now() + 5_000);
    assert.deepEqual(
      sink.batches.map((b) => b.length),
      [10, 10, 5],
    );
    assert.deepEqual(sink.batches.flat(), recs(0, 25));
    assert.equal(p.pendingRecords, 0);
  });

  it('cuts before max_bytes of JSON would be exceeded', async () => {
    const one = Buffer.byteLength(JSON.stringify(rec(0))) + 1;
    const { p, sink } = make({ send_batch_size: 1000, max_bytes: 2 + one * 3 + 1 });
    await p.consume(recs(0, 7));
    await p.shutdown(Date.now() + 5_000);
    assert.ok(sink.batches.every((b) => Buffer.byteLength(JSON.stringify(b)) <= 2 + one * 3 + 1));
    assert.deepEqual(sink.batches.flat(), recs(0, 7));
  });

  it('cuts a batch `timeout` after its first record', async () => {
    const { p, sink } = make({ send_batch_size: 1000, timeout: '20ms' });
    await p.consume(recs(0, 3));
    await until(() => sink.batches.length === 1);
    assert.deepEqual(sink.batches[0], recs(0, 3));
    await p.shutdown(Date.now() + 1_000);
  });

  it('keeps one open batch per partition_by value', async () => {
    const { p, sink } = make({ send_batch_size: 4, partition_by: ['bu'] });
    await p.consume([...recs(0, 3, 'a'), ...recs(10, 3, 'b'), rec(20), rec(3, 'a')]);
    await p.shutdown(Date.now() + 5_000);
    for (const b of sink.batches) assert.equal(new Set(b.map((r) => r.dimensions?.bu ?? '')).size, 1, 'homogeneous batch');
    assert.equal(sink.batches.flat().length, 8);
  });

  it('keeps a failed batch and sends it again (never dropped), then continues in order', async () => {
    const sink = new Sink();
    sink.fail = 3;
    const { p } = make({ send_batch_size: 5 }, sink);
    await p.consume(recs(0, 10));
    await p.shutdown(Date.now() + 5_000);
    assert.deepEqual(sink.batches.flat(), recs(0, 10));
  });

  it('hands up to max_in_flight batches to the exporters at once; a failed one is retried, nothing lost', async () => {
    let inFlight = 0;
    let peak = 0;
    let failNext = 1; // the first send fails once
    const got: number[] = [];
    const slow: Consumer<MeterRecord[]> = {
      async consume(b) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (failNext > 0) {
          failNext--;
          throw new Error('down');
        }
        got.push(...b.map((r) => r.meterValue));
      },
    };
    const m = metrics();
    const p = new BatchProcessor(
      configOf(factory, { send_batch_size: 2, send_batch_max_size: 2, max_in_flight: 3, retry_initial_interval: '1ms', retry_max_interval: '5ms' }),
      { id: 'batch', pipeline: 'p', logger: pino({ level: 'silent' }), registry: new Registry(), metrics: m },
      slow,
    );
    await p.consume(recs(0, 20));
    await until(() => got.length === 20);
    assert.equal(peak, 3, 'three batches at a time');
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      [...Array(20).keys()],
      'every record once',
    );
    assert.equal(p.pendingRecords, 0);
    await p.shutdown(Date.now() + 50);
  });

  /** A sink whose sends wait for `open()`; records what each send carried. */
  class GatedSink implements Consumer<MeterRecord[]> {
    sent: MeterRecord[][] = [];
    failNext = 0;
    private gate: Promise<void> | null = null;
    private openGate: () => void = () => {};
    close(): void {
      this.gate = new Promise((r) => (this.openGate = r));
    }
    open(): void {
      this.openGate();
      this.gate = null;
    }
    async consume(b: MeterRecord[]) {
      if (this.gate) await this.gate;
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error('down');
      }
      this.sent.push(b);
    }
  }

  it('while the exporters are behind, sends waiting batches merged into objects of up to send_batch_max_size, in order', async () => {
    const sink = new GatedSink();
    const registry = new Registry();
    const p = new BatchProcessor(
      configOf(factory, { send_batch_size: 10, send_batch_max_size: 35, max_in_flight: 4 }),
      { id: 'batch', pipeline: 'p', logger: pino({ level: 'silent' }), registry, metrics: metrics() },
      sink,
    );
    sink.close();
    await p.consume(recs(0, 100)); // the first batch goes at once and waits at the gate; nine pile up
    sink.open();
    await until(() => p.pendingRecords === 0);
    assert.deepEqual(
      sink.sent.map((b) => b.length),
      [10, 30, 30, 30],
      'the first as cut, then three merged objects of ≤ 35',
    );
    assert.deepEqual(sink.sent.flat(), recs(0, 100), 'every record once, in order');
    const merged = (await registry.getSingleMetric('spanmeter_processor_batch_merged_total')!.get()).values[0]!.value;
    assert.equal(merged, 6, 'nine batches went out as three objects');
    await p.shutdown(Date.now() + 1_000);
  });

  it('sends every batch as cut when send_batch_max_size ≤ send_batch_size, or when the exporters keep up', async () => {
    for (const max of [1, 10]) {
      const sink = new GatedSink();
      const { p } = make({ send_batch_size: 10, send_batch_max_size: max }, sink as unknown as Sink);
      sink.close();
      await p.consume(recs(0, 100));
      sink.open();
      await until(() => p.pendingRecords === 0);
      assert.deepEqual(
        sink.sent.map((b) => b.length),
        Array(10).fill(10),
        `send_batch_max_size ${max}`,
      );
      await p.shutdown(Date.now() + 1_000);
    }
    const sink = new GatedSink();
    const { p } = make({ send_batch_size: 10, send_batch_max_size: 1000 }, sink as unknown as Sink);
    for (let i = 0; i < 5; i++) {
      await p.consume(recs(i * 10, 10));
      await until(() => p.pendingRecords === 0);
    }
    assert.deepEqual(
      sink.sent.map((b) => b.length),
      [10, 10, 10, 10, 10],
      'nothing waited, nothing merged',
    );
    await p.shutdown(Date.now() + 1_000);
  });

  it('merges within max_bytes', async () => {
    const one = Buffer.byteLength(JSON.stringify(rec(0))) + 1;
    const maxBytes = 2 + one * 25;
    const sink = new GatedSink();
    const { p } = make({ send_batch_size: 10, send_batch_max_size: 1000, max_bytes: maxBytes }, sink as unknown as Sink);
    sink.close();
    await p.consume(recs(0, 60));
    sink.open();
    await until(() => p.pendingRecords === 0);
    assert.deepEqual(
      sink.sent.map((b) => b.length),
      [10, 20, 20, 10],
      'two 10-record batches fit in max_bytes, three do not',
    );
    assert.ok(sink.sent.every((b) => Buffer.byteLength(JSON.stringify(b)) <= maxBytes));
    assert.deepEqual(sink.sent.flat(), recs(0, 60));
    await p.shutdown(Date.now() + 1_000);
  });

  it('retries a failed batch as it was (unmerged), and merges only batches not yet tried', async () => {
    const sink = new GatedSink();
    sink.failNext = 1;
    const { p } = make({ send_batch_size: 10, send_batch_max_size: 1000, max_in_flight: 1 }, sink as unknown as Sink);
    sink.close();
    await p.consume(recs(0, 40)); // batch 1 is tried and fails once; 2–4 wait
    sink.open();
    await until(() => p.pendingRecords === 0);
    assert.deepEqual(
      sink.sent.map((b) => b.length),
      [10, 30],
      'the failed batch again on its own, then the three that waited in one',
    );
    assert.deepEqual(sink.sent.flat(), recs(0, 40));
    await p.shutdown(Date.now() + 1_000);
  });

  it('a merged object keeps the write-ahead-log holds of its batches until it is delivered, each released once', async () => {
    const sink = new GatedSink();
    const { p } = make({ send_batch_size: 10, send_batch_max_size: 1000 }, sink as unknown as Sink);
    const wm = new Watermark(0);
    sink.close();
    // Five log records of 15 calls: holds 1–5, each spanning two batches (the last one open).
    const holds = [1, 2, 3, 4, 5].map((seq) => wm.begin(seq));
    for (const [k, h] of holds.entries()) {
      await p.consume(recs(k * 15, 15), { hold: h });
      h.release(); // the forwarder's own reference, as the durable stage does after consume
    }
    assert.equal(wm.safe, 0, 'nothing delivered yet');
    sink.open();
    await until(() => sink.sent.length === 2);
    assert.deepEqual(
      sink.sent.map((b) => b.length),
      [10, 60],
      'batch 1 alone, batches 2–7 merged; 5 records still open',
    );
    assert.equal(wm.safe, 4, 'holds 1–4 are released; 5 still has records in the open batch');
    await p.shutdown(Date.now() + 1_000);
    assert.equal(wm.safe, 5);
    assert.equal(wm.outstanding, 0);
    assert.deepEqual(sink.sent.flat(), recs(0, 75));
  });

  it('merge_wait: a send starts no sooner than merge_wait after the previous one, with what was cut meanwhile merged', async () => {
    const sink = new GatedSink();
    const at: number[] = [];
    const timed: Consumer<MeterRecord[]> = {
      consume: async (b) => {
        at.push(performance.now());
        await sink.consume(b);
      },
    };
    const p = new BatchProcessor(
      configOf(factory, { send_batch_size: 10, send_batch_max_size: 1000, merge_wait: '300ms' }),
      { id: 'batch', pipeline: 'p', logger: pino({ level: 'silent' }), registry: new Registry(), metrics: metrics() },
      timed,
    );
    await p.consume(recs(0, 10)); // after an idle spell: sent at once
    assert.equal(sink.sent.length, 1);
    for (let i = 1; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await p.consume(recs(i * 10, 10));
    }
    assert.equal(sink.sent.length, 1, 'the four batches cut since wait');
    await until(() => p.pendingRecords === 0);
    assert.deepEqual(
      sink.sent.map((b) => b.length),
      [10, 40],
      'then go out as one object',
    );
    assert.ok(at[1]! - at[0]! >= 290, `the second send ${Math.round(at[1]! - at[0]!)} ms after the first`);
    assert.deepEqual(sink.sent.flat(), recs(0, 50));
    await p.shutdown(Date.now() + 1_000);
  });

  it('merge_wait ends early when send_batch_max_size records or half of max_pending_records wait, and at shutdown', async () => {
    const start = async (cfg: Record<string, unknown>) => {
      const sink = new GatedSink();
      const { p } = make({ send_batch_size: 10, send_batch_max_size: 30, merge_wait: '60s', ...cfg }, sink as unknown as Sink);
      await p.consume(recs(0, 10)); // sent at once; the next send would wait a minute
      return { p, sink };
    };
    /** Consumes `records`; the waiting batches must then go out without waiting out merge_wait. */
    const sentAtOnce = async (p: BatchProcessor, sink: GatedSink, records: MeterRecord[]) => {
      const t0 = performance.now();
      await p.consume(records);
      await until(() => sink.sent.length === 2);
      assert.ok(performance.now() - t0 < 1_000, 'without waiting out merge_wait');
    };
    {
      const { p, sink } = await start({});
      await p.consume(recs(10, 20));
      assert.equal(sink.sent.length, 1, '20 records wait');
      await sentAtOnce(p, sink, recs(30, 10));
      assert.deepEqual(
        sink.sent.map((b) => b.length),
        [10, 30],
        'send_batch_max_size records waited: sent',
      );
      await p.shutdown(Date.now() + 1_000);
    }
    {
      const { p, sink } = await start({ send_batch_max_size: 1000, max_pending_records: 40 });
      await p.consume(recs(10, 10));
      assert.equal(sink.sent.length, 1, '10 of 40 pending');
      await sentAtOnce(p, sink, recs(20, 10));
      assert.deepEqual(
        sink.sent.map((b) => b.length),
        [10, 20],
        'half of max_pending_records held: sent',
      );
      await p.shutdown(Date.now() + 1_000);
    }
    {
      const { p, sink } = await start({});
      await p.consume(recs(10, 15));
      const t0 = performance.now();
      await p.shutdown(Date.now() + 5_000);
      assert.ok(performance.now() - t0 < 1_000, 'shutdown does not wait out merge_wait');
      assert.deepEqual(sink.sent.flat(), recs(0, 25), 'everything delivered');
    }
  });

  it('a PermanentError drops the batch, counted', async () => {
    const sink = new Sink();
    sink.fail = 1;
    sink.failWith = () => new PermanentError('never');
    const { p, m } = make({ send_batch_size: 5 }, sink);
    await p.consume(recs(0, 10));
    await p.shutdown(Date.now() + 5_000);
    assert.equal(m.droppedN, 5);
    assert.deepEqual(sink.batches.flat(), recs(5, 5));
  });

  it('refuses with BackpressureError beyond max_pending_records', async () => {
    const sink = new Sink();
    sink.fail = Number.MAX_SAFE_INTEGER;
    const { p } = make({ send_batch_size: 5, max_pending_records: 12 }, sink);
    await p.consume(recs(0, 10));
    await assert.rejects(p.consume(recs(10, 5)), BackpressureError);
    assert.equal(p.pendingRecords, 10);
    await p.shutdown(Date.now() + 50);
  });

  it('a write-ahead log forwarder (ctx.hold) waits for room instead of being refused; shutdown ends the wait', async () => {
    const sink = new Sink();
    sink.fail = Number.MAX_SAFE_INTEGER;
    const { p } = make({ send_batch_size: 5, max_pending_records: 12 }, sink);
    const wm = new Watermark();
    await p.consume(recs(0, 10), { hold: wm.begin(1) });
    let settled = false;
    const waiting = p.consume(recs(10, 5), { hold: wm.begin(2) }).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(settled, false, 'full: the forwarder waits');
    await assert.rejects(p.consume(recs(20, 5)), BackpressureError, 'without a hold (a receiver): refused at once');
    sink.fail = 0; // the exporters recover: room frees, the waiting records go in
    await waiting;
    await until(() => sink.batches.flat().length === 15);
    assert.deepEqual(
      sink.batches.flat().map((r) => r.meterValue),
      [...Array(15).keys()],
    );

    sink.fail = Number.MAX_SAFE_INTEGER;
    await p.consume(recs(15, 10), { hold: wm.begin(3) });
    const stuck = assert.rejects(
      p.consume(recs(25, 5), { hold: wm.begin(4) }),
      BackpressureError,
      'shutdown wakes the waiter with a refusal (the log keeps the data)',
    );
    await new Promise((r) => setTimeout(r, 10));
    await p.shutdown(Date.now() + 20);
    await stuck;
  });

  it('retains write-ahead-log holds until the batch is delivered, and keeps them when it is not', async () => {
    const done: number[] = [];
    const wm = new Watermark();
    const sink = new Sink();
    const { p } = make({ send_batch_size: 4 }, sink);
    const h1 = wm.begin(1);
    const h2 = wm.begin(2);
    const origRelease = (h: typeof h1, seq: number) => {
      const r = h.release.bind(h);
      h.release = () => {
        r();
        if (h.released && !done.includes(seq)) done.push(seq);
      };
    };
    origRelease(h1, 1);
    origRelease(h2, 2);
    await p.consume(recs(0, 3), { hold: h1 });
    h1.release(); // the durable stage's own reference
    assert.equal(h1.released, false, 'retained by the open batch');
    sink.fail = Number.MAX_SAFE_INTEGER;
    await p.consume(recs(3, 3), { hold: h2 });
    h2.release();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(h1.released, false, 'batch [0..3] failed: hold kept');
    sink.fail = 0;
    await until(() => sink.batches.length === 1);
    await until(() => h1.released);
    assert.equal(h2.released, false, 'h2 still in the open batch');
    sink.fail = Number.MAX_SAFE_INTEGER;
    await p.shutdown(Date.now() + 30);
    assert.equal(h2.released, false, 'undelivered at the deadline: hold kept for replay');
  });

  it('validates max_pending_records ≥ send_batch_size; the factory has defaults 100 / 300s', () => {
    assert.deepEqual(
      validate({ ...configOf(factory), send_batch_size: 100, max_pending_records: 10 }).map((x) => x.path),
      ['max_pending_records'],
    );
    assert.equal(configOf(factory).send_batch_size, 100);
    assert.equal(configOf(factory).timeout, 300_000, 'durations reach the processor in milliseconds');
    assert.throws(() => configOf(factory, { send_batch_size: 10, max_pending_records: 5 }), /max_pending_records: must be at least send_batch_size/);
  });
});

describe('batch processor: exactly-once replay (cut log)', () => {
  /** Feeds log records 1..n (each `per` records) with holds and a cut log, like the durable stage. */
  async function feed(p: BatchProcessor, cuts: CutLog, wm: Watermark, seqs: number[], per: number) {
    for (const seq of seqs) await p.consume(recs(seq * 100, per), { hold: wm.begin(seq), cuts });
  }

  it('records every batch before sending it; a replay re-creates the recorded batches as they were and leaves out batches already written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-cuts-'));
    try {
      // First run: 5 log records of 7 records each, batches of 10 (cut across log records).
      let cuts = await CutLog.open(dir, 0);
      const first = make({ send_batch_size: 10, send_batch_max_size: 10, timeout: '0s' });
      first.sink.fail = 1_000_000; // nothing is acknowledged downstream: every batch stays recorded and held
      const sent: MeterRecord[][] = [];
      first.sink.consume = async (b) => {
        sent.push(b);
        throw new Error('down');
      };
      let wm = new Watermark(0);
      await feed(first.p, cuts, wm, [1, 2, 3, 4, 5], 7);
      await until(() => sent.length >= 3);
      await first.p.shutdown(Date.now() + 50);
      await cuts.close();
      const tried = new Map(sent.map((b) => [JSON.stringify(b), b]));
      assert.ok(tried.size >= 3);

      // Restart with the checkpoint at 0: every recorded batch comes back exactly as it was.
      cuts = await CutLog.open(dir, 0);
      const again = make({ send_batch_size: 4, send_batch_max_size: 50, timeout: '0s' }); // other sizes now: recorded batches keep theirs
      wm = new Watermark(0);
      await feed(again.p, cuts, wm, [1, 2, 3, 4, 5], 7);
      await until(() => again.p.pendingRecords === 0);
      for (const b of tried.values())
        assert.ok(
          again.sink.batches.some((x) => JSON.stringify(x) === JSON.stringify(b)),
          'a recorded batch is sent again as it was',
        );
      const all = again.sink.batches.flat().map((r) => r.uniqueId);
      assert.equal(all.length, 35, 'every record once');
      assert.equal(new Set(all).size, 35);
      await again.p.shutdown(Date.now() + 50);
      await cuts.close();

      // Restart with the checkpoint at 2: batches naming seq 1 or 2 were written whole; their
      // records from seq 3 on are left out, the others come back once.
      cuts = await CutLog.open(dir, 2);
      const third = make({ send_batch_size: 10, timeout: '0s' });
      wm = new Watermark(2);
      await feed(third.p, cuts, wm, [3, 4, 5], 7);
      await until(() => third.p.pendingRecords === 0);
      const written = new Set([...tried.values()].filter((b) => b.some((r) => r.meterValue < 300)).flatMap((b) => b.map((r) => r.uniqueId)));
      const out = third.sink.batches.flat().map((r) => r.uniqueId);
      assert.deepEqual(
        out.filter((id) => written.has(id)),
        [],
        'records of batches already written are not sent again',
      );
      assert.equal(new Set(out).size, out.length);
      assert.equal(out.length + [...written].filter((id) => Number(String(id).slice(1)) >= 300).length, 21, 'the rest of seqs 3–5 once');
      await third.p.shutdown(Date.now() + 50);
      await cuts.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
