/**
 * A bounded de-duplication window on (traceId, spanId): remembers keys for `windowMs`, at most
 * `maxEntries` of them (oldest forgotten first). Memory is O(maxEntries).
 *
 * Ids are (32 hex traceId, 16 hex spanId) pairs: the processor parses them from the spans' id
 * strings into an {@link IdBatch} (`has`/`addAll` take `<traceId>/<spanId>` keys, for tests). They
 * are kept as 24 raw bytes in an open-addressing table of typed arrays, not as strings in a Map: at
 * 10k calls/s the window takes 10k new keys a second and holds them for seconds, and as heap
 * objects they survived every young-generation collection, were copied and promoted, and made
 * each collection slower (measured: ~6–10 % of the collector's CPU and ~40 % of its scavenge
 * time). The arrays are outside the garbage-collected heap. A key of any other shape (the OTLP
 * decoders always give lower-case hex ids of the right length) is never remembered, so it never
 * counts as a duplicate — as spans without ids.
 */

import { randomInt } from 'node:crypto';

const KEY_CHARS = 32 + 1 + 16;
const WORDS = 6; // 16 + 8 bytes as six 32-bit words
const EMPTY = 0;
const USED = 1;

/** Hex digit value by char code, -1 when not a lower- or upper-case hex digit. */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i; // lower case only: 'AB' and 'ab' are different keys

export class DedupWindow {
  // Open-addressing table (linear probing, deletion by backward shift: no tombstones, so the
  // table never needs rebuilding) of raw ids.
  private readonly words: Uint32Array;
  private readonly state: Uint8Array;
  /** Time first seen (ms), insertion number and place in the ring of each used slot. */
  private readonly stamp: Float64Array;
  private readonly serial: Float64Array;
  private readonly ringPos: Int32Array;
  private readonly mask: number;
  private used = 0;
  // Insertion order: a ring of (slot, serial); an entry whose slot no longer holds that serial was removed.
  private readonly ringSlot: Int32Array;
  private readonly ringSerial: Float64Array;
  private ringHead = 0;
  private ringLen = 0;
  private nextSerial = 1;
  /** Ring compactions so far (each O(entries); tests hold them rare). */
  readonly work = { compactions: 0 };
  private readonly scratch = new Uint32Array(WORDS);

  /**
   * @param seed mixed into the table's hash, random per window by default: span ids come from
   *   senders, and with a fixed hash anyone can make ids that share a home slot (the earlier hash
   *   depended only on two XORs of words), so that every lookup walks all of them.
   */
  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
    private readonly now: () => number = Date.now,
    private readonly seed: number = randomInt(2 ** 32 - 1),
  ) {
    const cap = Math.max(0, maxEntries);
    // Twice the entries (plus spares): when the ring fills, at least half of it is dead places
    // (re-added or expired keys), so compacting it costs O(1) per dead place.
    this.ringSlot = new Int32Array(2 * cap + 2);
    this.ringSerial = new Float64Array(2 * cap + 2);
    const size = tableSize(cap);
    this.words = new Uint32Array(size * WORDS);
    this.state = new Uint8Array(size);
    this.stamp = new Float64Array(size);
    this.serial = new Float64Array(size);
    this.ringPos = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.used;
  }

  has(key: string): boolean {
    return this.parse(key) && this.hasAt(this.scratch, 0);
  }

  /** Whether the id parsed into `w` at word offset `o` (see {@link parseIds}) is remembered. */
  hasAt(w: Uint32Array, o: number): boolean {
    const slot = this.find(w, o);
    if (slot < 0) return false;
    if (this.now() - this.stamp[slot]! > this.windowMs) {
      this.remove(slot); // expired: forgotten now (its ring entry is skipped later)
      return false;
    }
    return true;
  }

  add(key: string): void {
    this.addAll([key]);
  }

  /** Remembers several keys at once (one clock read and one eviction pass for the lot). */
  addAll(keys: readonly string[]): void {
    if (this.maxEntries <= 0 || keys.length === 0) return;
    const now = this.now();
    for (const key of keys) {
      if (!this.parse(key)) continue; // not a (traceId, spanId) key: never remembered
      this.addAt(now, this.scratch, 0);
    }
    this.evict(now);
  }

  /** Remembers the ids of a batch (in their order), as {@link addAll} does their keys. */
  addBatch(ids: IdBatch): void {
    if (this.maxEntries <= 0 || ids.count === 0) return;
    const now = this.now();
    for (let i = 0; i < ids.count; i++) this.addAt(now, ids.words, i * WORDS);
    this.evict(now);
  }

  /**
   * Remembers an id as first seen at `stampMs` (a journal's entry read back after a restart);
   * ignored when that is already outside the window.
   */
  restore(stampMs: number, w: Uint32Array, o: number): void {
    if (this.maxEntries <= 0) return;
    const now = this.now();
    if (now - stampMs > this.windowMs) return;
    const old = this.find(w, o);
    if (old >= 0) this.remove(old);
    this.insert(stampMs, w, o);
    this.evict(now);
  }

  /** The ids remembered, oldest first, each with the time it was first seen (for a journal's compaction). */
  *entries(): Generator<{ stampMs: number; words: Uint32Array }> {
    const cap = this.ringSlot.length;
    for (let i = 0; i < this.ringLen; i++) {
      const at = (this.ringHead + i) % cap;
      const slot = this.ringSlot[at]!;
      if (this.state[slot] !== USED || this.serial[slot] !== this.ringSerial[at]) continue;
      yield { stampMs: this.stamp[slot]!, words: this.words.subarray(slot * WORDS, slot * WORDS + WORDS) };
    }
  }

  /** A batch of ids hashed with this window's seed. */
  batch(capacity: number): IdBatch {
    return new IdBatch(capacity, this.seed);
  }

  private addAt(now: number, w: Uint32Array, o: number): void {
    const old = this.find(w, o);
    if (old >= 0) this.remove(old); // re-inserted as the newest
    this.insert(now, w, o);
    this.evict(now);
  }

  /** Reads a standard key into `scratch`; false for any other shape. */
  private parse(key: string): boolean {
    if (key.length !== KEY_CHARS || key.charCodeAt(32) !== 47) return false;
    return hexWords(key, 0, 4, this.scratch, 0) && hexWords(key, 33, 2, this.scratch, 4);
  }

  /** The home slot of the id in `w` at offset `o` (`scratch` or a table entry). */
  private home(w: Uint32Array, o: number): number {
    return hashIds(this.seed, w, o) & this.mask;
  }

  /** The longest run of occupied slots in the table (what a lookup may walk); for tests. */
  longestRun(): number {
    let longest = 0;
    let run = 0;
    // Twice around, so that a run wrapping past the end is measured whole.
    for (let k = 0; k < 2 * this.state.length; k++) {
      run = this.state[k & this.mask] === USED ? run + 1 : 0;
      if (run > longest) longest = run;
    }
    return Math.min(longest, this.used);
  }

  /** The slot holding the id in `w` at `o`, or -1. */
  private find(w: Uint32Array, o: number): number {
    const ws = this.words;
    for (let slot = this.home(w, o); this.state[slot] === USED; slot = (slot + 1) & this.mask) {
      if (sameId(ws, slot * WORDS, w, o)) return slot;
    }
    return -1;
  }

  private insert(now: number, w: Uint32Array, o: number): void {
    let slot = this.home(w, o);
    while (this.state[slot] === USED) slot = (slot + 1) & this.mask;
    copyId(this.words, slot * WORDS, w, o);
    this.state[slot] = USED;
    this.stamp[slot] = now;
    const serial = this.nextSerial++;
    this.serial[slot] = serial;
    this.used++;
    const cap = this.ringSlot.length;
    const at = (this.ringHead + this.ringLen) % cap;
    this.ringSlot[at] = slot;
    this.ringSerial[at] = serial;
    this.ringPos[slot] = at;
    this.ringLen++; // evict() runs after every insert and keeps ringLen < ring capacity
  }

  /**
   * Empties `slot`, then moves later entries of its probe run back into the hole where their
   * home allows (Knuth's algorithm R), so lookups never need tombstones. A moved entry takes its
   * ring place along.
   */
  private remove(slot: number): void {
    const { words, state, stamp, serial, ringPos, ringSlot, mask } = this;
    let hole = slot;
    for (let j = (slot + 1) & mask; state[j] === USED; j = (j + 1) & mask) {
      const home = this.home(words, j * WORDS);
      // The entry at j stays if its home is cyclically in (hole, j]: moving it would put it before its home.
      if (hole <= j ? home > hole && home <= j : home > hole || home <= j) continue;
      copyId(words, hole * WORDS, words, j * WORDS);
      stamp[hole] = stamp[j]!;
      serial[hole] = serial[j]!;
      ringPos[hole] = ringPos[j]!;
      ringSlot[ringPos[j]!] = hole;
      hole = j;
    }
    state[hole] = EMPTY;
    serial[hole] = 0;
    this.used--;
  }

  /** Forgets the oldest entries while there are too many or they are too old. */
  private evict(now: number): void {
    const cap = this.ringSlot.length;
    if (this.ringLen >= cap) this.compactRing(); // full: mostly dead places (re-added or expired keys)
    while (this.ringLen > 0) {
      const slot = this.ringSlot[this.ringHead]!;
      const live = this.state[slot] === USED && this.serial[slot] === this.ringSerial[this.ringHead];
      if (live && this.used <= this.maxEntries && now - this.stamp[slot]! <= this.windowMs) break;
      if (live) this.remove(slot);
      this.ringHead = (this.ringHead + 1) % cap;
      this.ringLen--;
    }
  }

  /** Drops the ring's dead places (entries removed or re-added), keeping the order. */
  private compactRing(): void {
    this.work.compactions++;
    const cap = this.ringSlot.length;
    let n = 0;
    for (let k = 0; k < this.ringLen; k++) {
      const at = (this.ringHead + k) % cap;
      const slot = this.ringSlot[at]!;
      if (this.state[slot] !== USED || this.serial[slot] !== this.ringSerial[at]) continue;
      const dst = (this.ringHead + n) % cap;
      this.ringSlot[dst] = slot;
      this.ringSerial[dst] = this.ringSerial[at]!;
      this.ringPos[slot] = dst;
      n++;
    }
    this.ringLen = n;
  }
}

/** A power of two with room for `cap` entries at a load of at most one half (at least 16). */
function tableSize(cap: number): number {
  let size = 16;
  while (size < cap * 2) size *= 2;
  return size;
}

/**
 * Reads `words` words of 8 lower-case hex digits from `s` at `from` into `out` at `o`; false if a
 * character is not one.
 */
function hexWords(s: string, from: number, words: number, out: Uint32Array, o: number): boolean {
  for (let word = 0, i = from; word < words; word++) {
    let v = 0;
    for (let k = 0; k < 8; k++, i++) {
      const c = s.charCodeAt(i);
      const d = c < 128 ? HEX[c]! : -1;
      if (d < 0) return false;
      v = (v << 4) | d;
    }
    out[o + word] = v >>> 0;
  }
  return true;
}

/**
 * Parses a (traceId, spanId) pair, 32 and 16 lower-case hex digits as the OTLP decoders give them,
 * into six words of `out` at `o`: the same words a `<traceId>/<spanId>` key gives. False for ids of
 * any other shape.
 */
export function parseIds(traceId: string, spanId: string, out: Uint32Array, o: number): boolean {
  return traceId.length === 32 && spanId.length === 16 && hexWords(traceId, 0, 4, out, o) && hexWords(spanId, 0, 2, out, o + 4);
}

/** Tag words of keys (in place of a span id): "ca11" and the key's kind letter. */
export const KEY_TAG = 0xca11ca11;

/**
 * Six words for a de-duplication key of `kind` (a letter): the value's 128 bits when it is a
 * lower-case UUID, else a 128-bit hash of it (four independent 32-bit lanes over its UTF-16
 * units), then the tag.
 */
export function keyWords(kind: number, value: string, out: Uint32Array, o: number): void {
  if (!uuidWords(value, out, o)) {
    let a = 0x811c9dc5;
    let b = 0x01000193;
    let c = 0x9e3779b1;
    let d = 0x85ebca6b;
    for (let i = 0; i < value.length; i++) {
      const ch = value.charCodeAt(i);
      a = Math.imul(a ^ ch, 0x01000193);
      b = Math.imul(b ^ ch, 0xcc9e2d51) ^ (b >>> 15);
      c = Math.imul(c ^ ch, 0x1b873593) + (c >>> 13);
      d = Math.imul(d ^ ch, 0xc2b2ae35) ^ (d >>> 16);
    }
    out[o] = fmix(a ^ value.length) >>> 0;
    out[o + 1] = fmix(b ^ a) >>> 0;
    out[o + 2] = fmix(c ^ b) >>> 0;
    out[o + 3] = fmix(d ^ c) >>> 0;
  }
  out[o + 4] = KEY_TAG;
  out[o + 5] = kind >>> 0;
}

/** A lower-case UUID's 128 bits into four words; false (words undefined) for any other string. */
function uuidWords(v: string, out: Uint32Array, o: number): boolean {
  if (v.length !== 36 || v.charCodeAt(8) !== 45 || v.charCodeAt(13) !== 45 || v.charCodeAt(18) !== 45 || v.charCodeAt(23) !== 45) return false;
  let word = 0;
  let n = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    const c = v.charCodeAt(i);
    const d = c < 128 ? HEX[c]! : -1;
    if (d < 0) return false;
    word = (word << 4) | d;
    if (++n % 8 === 0) {
      out[o + n / 8 - 1] = word >>> 0;
      word = 0;
    }
  }
  return true;
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Whether the id in `a` at word offset `p` is the one in `b` at `o`. */
function sameId(a: Uint32Array, p: number, b: Uint32Array, o: number): boolean {
  return a[p] === b[o] && a[p + 1] === b[o + 1] && a[p + 2] === b[o + 2] && a[p + 3] === b[o + 3] && a[p + 4] === b[o + 4] && a[p + 5] === b[o + 5];
}

/** Copies the id in `src` at word offset `o` to `dst` at `p`. */
function copyId(dst: Uint32Array, p: number, src: Uint32Array, o: number): void {
  for (let k = 0; k < WORDS; k++) dst[p + k] = src[o + k]!;
}

/** The seeded hash of the id in `w` at `o`: every word, chained through multiply and shift. */
function hashIds(seed: number, w: Uint32Array, o: number): number {
  // Without the seed, which ids collide cannot be worked out.
  let h = seed;
  h = Math.imul(h ^ w[o]!, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ w[o + 1]!, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w[o + 2]!, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ w[o + 3]!, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ w[o + 4]!, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w[o + 5]!, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The ids of one batch's LLM calls, parsed once from the spans' id strings (no `<traceId>/<spanId>`
 * key strings, no Set of them): for the duplicates within the batch, for the window's lookup and,
 * once downstream accepted the batch, for {@link DedupWindow.addBatch}. An id is staged (parsed
 * after the last one added), looked up, and added only if its call is kept.
 */
export class IdBatch {
  readonly words: Uint32Array;
  /** Ids added. The staged one, if any, is at word offset `count * 6`. */
  count = 0;
  /** Index + 1 in `words` of each id added, by hash (open addressing, linear probing). */
  private readonly table: Int32Array;
  private readonly mask: number;
  /** Where the staged id goes in `table` (found by {@link stagedSeen}). */
  private free = -1;

  constructor(
    capacity: number,
    private readonly seed: number,
  ) {
    this.words = new Uint32Array(Math.max(1, capacity) * WORDS);
    const size = tableSize(capacity);
    this.table = new Int32Array(size);
    this.mask = size - 1;
  }

  /** Parses ids as the next id (see {@link parseIds}); false when they are not of the standard shape. */
  stage(traceId: string, spanId: string): boolean {
    this.free = -1;
    return this.staged < this.words.length && parseIds(traceId, spanId, this.words, this.staged);
  }

  /**
   * Stages a call's de-duplication key (see `dedupKey` in integrations/litellm) as the next id: a
   * UUID as its 128 bits, any other key as a 128-bit hash of it, beside a tag that no span id
   * takes, so keys and (traceId, spanId) pairs never meet.
   */
  stageKey(kind: number, value: string): boolean {
    this.free = -1;
    const o = this.staged;
    if (o >= this.words.length) return false;
    keyWords(kind, value, this.words, o);
    return true;
  }

  /** The staged id's word offset (for {@link DedupWindow.hasAt}). */
  get staged(): number {
    return this.count * WORDS;
  }

  /** Whether the staged id was added before. */
  stagedSeen(): boolean {
    const w = this.words;
    const o = this.staged;
    let slot = hashIds(this.seed, w, o) & this.mask;
    for (let at = this.table[slot]!; at !== 0; slot = (slot + 1) & this.mask, at = this.table[slot]!) {
      if (sameId(w, (at - 1) * WORDS, w, o)) return true;
    }
    this.free = slot;
    return false;
  }

  /** Adds the staged id; {@link stagedSeen} must have returned false for it. */
  add(): void {
    if (this.free < 0) throw new Error('IdBatch.add: no staged id looked up');
    this.table[this.free] = ++this.count;
    this.free = -1;
  }
}
