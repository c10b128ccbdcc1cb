/**
 * What a stage sees of a pipeline's durability machinery (implemented in storage/): the hold on
 * write-ahead-log data it keeps past `consume`, the cut recorder, and the shared disk budget.
 */

/** Data forwarded from the write-ahead log; the log is trimmed only past released holds. */
export interface Hold {
  /** The log record's sequence number. */
  readonly seq: number;
  /** Keeps the data alive past the current consume call; pair with one `release()`. */
  retain(): Hold;
  release(): void;
  readonly released: boolean;
}

/** Items `from`..`from + count - 1` of log record `seq`. */
export type CutPart = readonly [seq: number, from: number, count: number];

/** A recorded group: its owner (the stage's id) and the parts it holds, in order. */
export interface RecordedCut {
  owner: string;
  parts: CutPart[];
}

/** What a stage downstream of the write-ahead log sees (ConsumeContext.cuts). */
export interface CutRecorder {
  /** Records at or below this seq are not replayed (the data log's checkpoint when it was opened). */
  readonly replayedAfter: number;
  /** Groups `owner` recorded before the last stop that name a replayed seq (taken once: a second call returns []). */
  recovered(owner: string): RecordedCut[];
  /** Records groups durably (one fdatasync for all); resolves once they are on disk. */
  record(owner: string, groups: readonly (readonly CutPart[])[]): Promise<void>;
}

/** The disk budget a pipeline's write-ahead log and its exporters' spools share (service.durability). */
export interface DiskBudget {
  readonly maxBytes: number;
  readonly usedBytes: number;
  /** Whether `n` more bytes fit. */
  fits(n: number): boolean;
  /** Whether `n` more bytes of new data may be written without eating into the free-space reserve. */
  leavesFree(n: number): boolean;
  add(n: number): void;
  sub(n: number): void;
  /** "x MiB of y MiB used", for errors. */
  describe(): string;
  /** The free space and the reserve, for errors. */
  describeFree(): string;
}
