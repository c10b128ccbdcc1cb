/**
 * Streams the meter records of a time range out of an exporter's objects: lists the partitions
 * that can hold them (the object format says which), reads a few objects at a time and hands each object's records
 * in the range to a callback. Memory stays at a few objects, whatever the range.
 */
import type { MeterRecord } from '../data/meter-record.js';
import type { ObjectReader, RecordFormat } from './objects.js';

export interface ScanOptions {
  fromMs: number;
  toMs: number;
  /**
   * How far before `fromMs` to list partitions: an object's key has the minute of its first
   * record, and a batch holds records of up to its timeout (a backfill batch: any times).
   */
  slackMs: number;
  /** Objects read at the same time (default 4). */
  concurrency?: number;
  onProgress?(p: Readonly<ScanProgress>): void;
}

export interface ScanProgress {
  partitions: number;
  partitionsListed: number;
  objectsListed: number;
  objectsRead: number;
  bytesRead: number;
  records: number;
  /** Records in the objects read but outside [from, to). */
  recordsOutside: number;
  /** Objects that could not be read or parsed (key and reason); their records are not counted. */
  unreadable: { key: string; reason: string }[];
}

/** Calls `each` with every object's records in [fromMs, toMs) (in no particular order across objects). */
export async function scanRecords(
  reader: ObjectReader,
  format: RecordFormat,
  o: ScanOptions,
  each: (records: MeterRecord[], key: string) => void,
): Promise<ScanProgress> {
  const prefixes = format.partitions(reader.path, o.fromMs - o.slackMs, o.toMs);
  const p: ScanProgress = {
    partitions: prefixes.length,
    partitionsListed: 0,
    objectsListed: 0,
    objectsRead: 0,
    bytesRead: 0,
    records: 0,
    recordsOutside: 0,
    unreadable: [],
  };
  const limit = Math.max(1, o.concurrency ?? 4);
  const inFlight = new Set<Promise<void>>();
  const read = async (key: string) => {
    // An object holds whatever was written to it: an element of its array may be null.
    let records: (MeterRecord | null)[];
    try {
      const body = await reader.get(key);
      p.bytesRead += body.length;
      records = await format.parse(key, body);
    } catch (e) {
      p.unreadable.push({ key, reason: (e as Error).message });
      return;
    }
    const inRange: MeterRecord[] = [];
    for (const r of records) {
      const t = r?.meterTimeInMillis;
      if (r && typeof t === 'number' && t >= o.fromMs && t < o.toMs) inRange.push(r);
      else p.recordsOutside++;
    }
    p.objectsRead++;
    p.records += inRange.length;
    if (inRange.length) each(inRange, key);
    o.onProgress?.(p);
  };
  for (const prefix of prefixes) {
    for await (const { key } of reader.list(prefix)) {
      if (!format.isObject(key)) continue;
      p.objectsListed++;
      const job: Promise<void> = read(key).finally(() => inFlight.delete(job));
      inFlight.add(job);
      if (inFlight.size >= limit) await Promise.race(inFlight);
    }
    p.partitionsListed++;
    o.onProgress?.(p);
  }
  await Promise.all(inFlight);
  o.onProgress?.(p);
  return p;
}
