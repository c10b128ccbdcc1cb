/**
 * The cut log: where a stage that regroups write-ahead-log records (the batch processor) records,
 * durably and before it hands a group downstream, which log records the group holds. After a
 * crash the write-ahead log replays its tail and the stage finds its recorded groups again, so it
 * re-creates exactly the groups it may already have written (same records, same order: the same
 * object under the same key, which the no-replace write absorbs) and leaves out records of
 * groups it knows were written. See docs/design/exactly-once.md.
 *
 * A record is named by its place in the log: (seq, index), the seq of the log record it came
 * from and its index among the items that log record produced at the stage. Replays produce the
 * same items in the same order (everything between the log and the stage is deterministic), so
 * the names hold across restarts.
 *
 * Entries live in their own write-ahead log (`<log dir>/cuts`) and are trimmed once the data
 * log's checkpoint covers every seq they name: then no record of theirs is replayed any more.
 */
import { join } from 'node:path';
import type { CutPart, CutRecorder, RecordedCut } from '../durability.js';
import { WriteAheadLog } from './wal.js';

const minSeq = (parts: readonly CutPart[]) => parts.reduce((m, p) => Math.min(m, p[0]), Infinity);
const maxSeq = (parts: readonly CutPart[]) => parts.reduce((m, p) => Math.max(m, p[0]), 0);
export { minSeq as cutMinSeq, maxSeq as cutMaxSeq };

export class CutLog implements CutRecorder {
  /** Entries not yet trimmed, in cut-log order: their seq in this log and the highest data seq they name. */
  private live: { seq: number; maxSeq: number }[] = [];
  private readonly byOwner = new Map<string, RecordedCut[]>();

  private constructor(
    private readonly wal: WriteAheadLog,
    readonly replayedAfter: number,
  ) {}

  /** Opens `<dir>/cuts` and reads the entries that name seqs after `dataCheckpoint`. */
  static async open(dir: string, dataCheckpoint: number): Promise<CutLog> {
    // No disk budget: entries are tiny, and they must be writable when the budget is full (the
    // budget's way out is delivering, which records cuts).
    const wal = await WriteAheadLog.open({ dir: join(dir, 'cuts'), segmentBytes: 4 * 1024 * 1024 });
    const log = new CutLog(wal, dataCheckpoint);
    for await (const chunk of wal.read(wal.checkpoint)) {
      for (const e of chunk) {
        let cut: RecordedCut;
        try {
          const j = JSON.parse(e.payload.toString('utf8')) as { o: string; p: CutPart[] };
          cut = { owner: j.o, parts: j.p };
        } catch {
          continue; // cannot happen with a checksummed record; a cut lost only risks a duplicate
        }
        const top = maxSeq(cut.parts);
        log.live.push({ seq: e.seq, maxSeq: top });
        if (top <= dataCheckpoint) continue;
        let list = log.byOwner.get(cut.owner);
        if (!list) log.byOwner.set(cut.owner, (list = []));
        list.push(cut);
      }
    }
    return log;
  }

  recovered(owner: string): RecordedCut[] {
    const list = this.byOwner.get(owner) ?? [];
    this.byOwner.delete(owner);
    return list;
  }

  async record(owner: string, groups: readonly (readonly CutPart[])[]): Promise<void> {
    if (!groups.length) return;
    const payloads = groups.map((p) => Buffer.from(JSON.stringify({ o: owner, p })));
    const { first } = await this.wal.append(payloads);
    groups.forEach((p, i) => insertSorted(this.live, { seq: first + i, maxSeq: maxSeq(p) }));
  }

  /** The data log's checkpoint moved: entries whose seqs it all covers are not needed any more. */
  async trim(dataCheckpoint: number): Promise<void> {
    let upTo = this.wal.checkpoint;
    let n = 0;
    while (n < this.live.length && this.live[n]!.maxSeq <= dataCheckpoint) upTo = this.live[n++]!.seq;
    if (n === 0) return;
    this.live = this.live.slice(n);
    await this.wal.setCheckpoint(upTo);
  }

  get bytes(): number {
    return this.wal.bytes;
  }

  close(): Promise<void> {
    return this.wal.close();
  }
}

function insertSorted(list: { seq: number; maxSeq: number }[], e: { seq: number; maxSeq: number }): void {
  let i = list.length;
  while (i > 0 && list[i - 1]!.seq > e.seq) i--;
  list.splice(i, 0, e);
}
