import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BackpressureError } from '../component.js';
import { DiskBudget } from './budget.js';
import { HEADER_BYTES, WriteAheadLog, readCheckpointFile } from './wal.js';

const newDir = () => mkdtempSync(join(tmpdir(), 'spanmeter-wal-'));
const p = (s: string) => Buffer.from(s);

async function readAll(wal: WriteAheadLog, after = 0): Promise<{ seq: number; text: string }[]> {
  const out: { seq: number; text: string }[] = [];
  for await (const chunk of wal.read(after, 64)) for (const e of chunk) out.push({ seq: e.seq, text: e.payload.toString() });
  return out;
}

describe('write-ahead log', () => {
  it('appends, assigns sequence numbers, and reads back in order', async () => {
    const wal = await WriteAheadLog.open({ dir: newDir() });
    assert.deepEqual(await wal.append([p('a'), p('b')]), { first: 1, last: 2 });
    assert.deepEqual(await wal.append([p('c')]), { first: 3, last: 3 });
    assert.deepEqual(await readAll(wal), [
      { seq: 1, text: 'a' },
      { seq: 2, text: 'b' },
      { seq: 3, text: 'c' },
    ]);
    assert.deepEqual(await readAll(wal, 2), [{ seq: 3, text: 'c' }]);
    await wal.close();
  });

  it('group-commits concurrent appends into few fdatasyncs', async () => {
    const wal = await WriteAheadLog.open({ dir: newDir(), syncDelayMs: 5 });
    const ranges = await Promise.all(Array.from({ length: 200 }, (_, i) => wal.append([p(`r${i}`)])));
    assert.deepEqual(
      ranges.map((r) => r.first),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.ok(wal.syncs <= 5, `expected few syncs for 200 concurrent appends, got ${wal.syncs}`);
    await wal.close();
  });

  it('reports each group commit that reached the disk (time, records, bytes); a throwing callback fails nothing', async () => {
    const commits: { seconds: number; records: number; bytes: number }[] = [];
    const wal = await WriteAheadLog.open({ dir: newDir(), syncDelayMs: 5, onCommit: (seconds, records, bytes) => commits.push({ seconds, records, bytes }) });
    await Promise.all([wal.append([p('ab'), p('cde')]), wal.append([p('f')])]);
    assert.equal(commits.length, wal.syncs);
    assert.equal(
      commits.reduce((n, c) => n + c.records, 0),
      3,
    );
    assert.equal(
      commits.reduce((n, c) => n + c.bytes, 0),
      3 * HEADER_BYTES + 6,
    );
    for (const c of commits) assert.ok(c.seconds > 0 && c.seconds < 60, `commit took ${c.seconds} s`);
    await wal.close();

    const throwing = await WriteAheadLog.open({
      dir: newDir(),
      onCommit: () => {
        throw new Error('metrics broke');
      },
    });
    assert.deepEqual(await throwing.append([p('x')]), { first: 1, last: 1 });
    assert.deepEqual(await throwing.append([p('y')]), { first: 2, last: 2 });
    assert.deepEqual(await readAll(throwing), [
      { seq: 1, text: 'x' },
      { seq: 2, text: 'y' },
    ]);
    await throwing.close();
  });

  it('survives a restart: continues the sequence and replays what is after the checkpoint', async () => {
    const dir = newDir();
    let wal = await WriteAheadLog.open({ dir, segmentBytes: 64 });
    for (let i = 1; i <= 10; i++) await wal.append([p(`record-${i}`)]);
    await wal.setCheckpoint(4);
    await wal.close();
    wal = await WriteAheadLog.open({ dir, segmentBytes: 64 });
    assert.equal(wal.recovery.checkpoint, 4);
    assert.equal(wal.recovery.pending, 6);
    assert.deepEqual(wal.recovery.problems, []);
    assert.deepEqual(
      (await readAll(wal, wal.checkpoint)).map((e) => e.seq),
      [5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(await wal.append([p('next')]), { first: 11, last: 11 });
    await wal.close();
  });

  it('rolls segments and deletes the ones the checkpoint covers', async () => {
    const dir = newDir();
    const budget = new DiskBudget(0);
    const wal = await WriteAheadLog.open({ dir, segmentBytes: 100, budget });
    for (let i = 0; i < 20; i++) await wal.append([Buffer.alloc(40, i)]);
    const before = readdirSync(dir).filter((n) => n.endsWith('.log')).length;
    assert.ok(before >= 5, `expected several segments, got ${before}`);
    assert.equal(budget.usedBytes, 20 * (HEADER_BYTES + 40));
    await wal.setCheckpoint(20);
    const after = readdirSync(dir).filter((n) => n.endsWith('.log')).length;
    // Every covered segment goes; the active one too once no write is under way (an idle log gives its space back).
    assert.ok(after <= 1, `at most the active segment is left, found ${after}`);
    assert.ok(budget.usedBytes < 20 * (HEADER_BYTES + 40));
    assert.equal(readCheckpointFile(join(dir, 'checkpoint')).seq, 20);
    await wal.close();
  });

  it('detects a torn tail, truncates it and keeps every intact record', async () => {
    const dir = newDir();
    let wal = await WriteAheadLog.open({ dir });
    for (let i = 1; i <= 5; i++) await wal.append([p(`intact-${i}`)]);
    await wal.close();
    const seg = join(
      dir,
      readdirSync(dir).find((n) => n.endsWith('.log'))!,
    );
    const size = statSync(seg).size;
    truncateSync(seg, size - 3); // the last record loses its last bytes, as in a crash mid-write
    wal = await WriteAheadLog.open({ dir });
    assert.equal(wal.recovery.problems.length, 1);
    assert.match(wal.recovery.problems[0]!, /torn record \(seq 5\) at the end; truncated/);
    assert.deepEqual(
      (await readAll(wal)).map((e) => e.text),
      ['intact-1', 'intact-2', 'intact-3', 'intact-4'],
    );
    assert.deepEqual(await wal.append([p('after')]), { first: 5, last: 5 });
    await wal.close();
  });

  it('detects a corrupt record by checksum and keeps what precedes it', async () => {
    const dir = newDir();
    let wal = await WriteAheadLog.open({ dir });
    for (let i = 1; i <= 4; i++) await wal.append([p(`ok-${i}`)]);
    await wal.close();
    const seg = join(
      dir,
      readdirSync(dir).find((n) => n.endsWith('.log'))!,
    );
    const buf = readFileSync(seg);
    const recordBytes = HEADER_BYTES + 4;
    const at = recordBytes * 2 + HEADER_BYTES + 1; // a payload byte of record 3, inside the four-record segment
    buf[at] = buf[at]! ^ 0xff;
    writeFileSync(seg, buf);
    appendFileSync(seg, Buffer.alloc(7, 0xaa)); // and some garbage after it
    wal = await WriteAheadLog.open({ dir });
    assert.match(wal.recovery.problems[0]!, /checksum mismatch at offset 40/);
    assert.equal(wal.recovery.truncatedBytes, recordBytes * 2 + 7);
    assert.deepEqual(
      (await readAll(wal)).map((e) => e.text),
      ['ok-1', 'ok-2'],
    );
    await wal.close();
  });

  it('refuses appends with BackpressureError when the disk budget is full', async () => {
    const budget = new DiskBudget(200);
    const wal = await WriteAheadLog.open({ dir: newDir(), budget });
    await wal.append([Buffer.alloc(100)]);
    await assert.rejects(wal.append([Buffer.alloc(100)]), (e: Error) => e instanceof BackpressureError && /disk budget full/.test(e.message));
    await wal.setCheckpoint(1);
    assert.equal(budget.usedBytes, 0, 'the covered segment was deleted');
    assert.deepEqual(await wal.append([Buffer.alloc(100)]), { first: 2, last: 2 });
    await wal.close();
  });

  it('rejects appends while the disk is full (ENOSPC) and works again afterwards', async () => {
    const dir = newDir();
    const wal = await WriteAheadLog.open({ dir, segmentBytes: 1 });
    await wal.append([p('before')]);
    // The next segment the log will create is a symlink to /dev/full: every write fails with ENOSPC.
    const nextSegment = join(dir, `wal-${String(2).padStart(20, '0')}.log`);
    symlinkSync('/dev/full', nextSegment);
    await assert.rejects(wal.append([p('lost-1'), p('lost-2')]), /write-ahead log append failed: .*ENOSPC/);
    rmSync(nextSegment, { force: true }); // removed by the log already: no record in it
    assert.deepEqual(await wal.append([p('after')]), { first: 4, last: 4 }, 'failed sequence numbers are not reused');
    assert.deepEqual(
      (await readAll(wal)).map((e) => e.text),
      ['before', 'after'],
    );
    await wal.close();
  });

  it('never reports a sequence number as written before it is on disk', async () => {
    const wal = await WriteAheadLog.open({ dir: newDir(), syncDelayMs: 0 });
    for (let round = 0; round < 20; round++) {
      const pending = wal.append([p(`r${round}-a`), p(`r${round}-b`)]);
      let done = false;
      void pending.then(() => (done = true));
      // While the group commit is writing and syncing, whatever lastSeq says must be readable.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the callback above while this loop awaits; the compiler does not see it
      while (!done) {
        const last = wal.lastSeq;
        const readable = (await readAll(wal)).filter((e) => e.seq <= last).length;
        assert.equal(readable, last, `lastSeq ${last} but only ${readable} records readable`);
        await new Promise((r) => setImmediate(r));
      }
      await pending;
    }
    assert.equal(wal.lastSeq, 40);
    await wal.close();
  });
  it('writes the checkpoint in place, in two checksummed slots: a torn slot falls back to the other; the old one-number file is read', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'checkpoint'), '0\n'); // an earlier version's file
    const wal = await WriteAheadLog.open({ dir });
    for (let i = 0; i < 5; i++) await wal.append([p(`r${i}`)]);
    await wal.setCheckpoint(2);
    const inode = statSync(join(dir, 'checkpoint')).ino;
    await wal.setCheckpoint(4);
    await wal.setCheckpoint(5);
    assert.equal(statSync(join(dir, 'checkpoint')).ino, inode, 'rewritten in place, not replaced');
    assert.equal(statSync(join(dir, 'checkpoint')).size, 64);
    assert.equal(readCheckpointFile(join(dir, 'checkpoint')).seq, 5);
    await wal.close();
    // Tear the slot written last (5): the other one (4) is used.
    const buf = readFileSync(join(dir, 'checkpoint'));
    const last = readCheckpointFile(join(dir, 'checkpoint')).slot;
    buf[last * 32 + 19] = 0x39;
    writeFileSync(join(dir, 'checkpoint'), buf);
    assert.equal(readCheckpointFile(join(dir, 'checkpoint')).seq, 4);
  });

  it('leaves no empty segment behind when appends fail (a full disk)', async () => {
    const dir = newDir();
    const wal = await WriteAheadLog.open({ dir, segmentBytes: 64 });
    await wal.append([p('a'.repeat(100))]);
    // Every write fails from now on, as on a full disk.
    const proto = Object.getPrototypeOf(await import('node:fs/promises').then((m) => m.open(join(dir, 'checkpoint.probe'), 'w'))) as { writev: unknown };
    const writev = proto.writev;
    proto.writev = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    try {
      for (let i = 0; i < 20; i++) await assert.rejects(wal.append([p('b')]), /ENOSPC/);
    } finally {
      proto.writev = writev;
    }
    const segments = readdirSync(dir).filter((n) => n.endsWith('.log'));
    assert.equal(segments.length, 1, `segments: ${segments.join(', ')}`);
    assert.deepEqual(await wal.append([p('c')]), { first: 22, last: 22 });
    await wal.close();
  });
});
