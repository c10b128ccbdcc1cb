/**
 * A bounded de-duplication window on (traceId, spanId): remembers keys for `windowMs`, at most
 * `maxEntries` of them (oldest forgotten first). Memory is O(maxEntries).
 *
 * Keys are `<32 hex traceId>/<16 hex spanId>`, as the litellm processor builds them. Those are
 * kept as 24 raw bytes in an open-addressing table of typed arrays, not as strings in a Map: at
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
    if (!this.parse(key)) return false;
    const slot = this.find();
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
      const old = this.find();
      if (old >= 0) this.remove(old); // re-inserted as the newest
      this.insert(now);
      this.evict(now);
    }
    this.evict(now);
  }

  /** Reads a standard key into `scratch`; false for any other shape. */
  private parse(key: string): boolean {
    if (key.length !== KEY_CHARS || key.charCodeAt(32) !== 47) return false;
    const w = this.scratch;
    for (let word = 0, i = 0; word < WORDS; word++) {
      let v = 0;
      for (let k = 0; k < 8; k++, i++) {
        if (i === 32) i++; // the '/'
        const c = key.charCodeAt(i);
        const d = c < 128 ? HEX[c]! : -1;
        if (d < 0) return false;
        v = (v << 4) | d;
      }
      w[word] = v >>> 0;
    }
    return true;
  }

  /** The home slot of the id in `w` at offset `o` (`scratch` or a table entry). */
  private home(w: Uint32Array, o: number): number {
    // Every word, chained through multiply and shift from the seed: without the seed, which
    // ids collide cannot be worked out.
    let h = this.seed;
    h = Math.imul(h ^ w[o]!, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ w[o + 1]!, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ w[o + 2]!, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ w[o + 3]!, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ w[o + 4]!, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ w[o + 5]!, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.mask;
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

  /** The slot holding `scratch`, or -1. */
  private find(): number {
    const w = this.scratch;
    const ws = this.words;
    for (let slot = this.home(w, 0); this.state[slot] === USED; slot = (slot + 1) & this.mask) {
      const o = slot * WORDS;
      if (ws[o] === w[0] && ws[o + 1] === w[1] && ws[o + 2] === w[2] && ws[o + 3] === w[3] && ws[o + 4] === w[4] && ws[o + 5] === w[5]) return slot;
    }
    return -1;
  }

  private insert(now: number): void {
    let slot = this.home(this.scratch, 0);
    while (this.state[slot] === USED) slot = (slot + 1) & this.mask;
    this.words.set(this.scratch, slot * WORDS);
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
      words.copyWithin(hole * WORDS, j * WORDS, j * WORDS + WORDS);
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
