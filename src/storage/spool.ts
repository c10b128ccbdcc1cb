/**
 * A spool: a directory of finished objects (the exact bytes an exporter will upload) waiting for
 * delivery. An object is written whole (temp file, fsync, rename, fsync of the directory) before
 * anyone relies on it, deleted only after a successful delivery, and found again after a restart.
 *
 * File layout: `<12-digit order>-<16 hex of the key's hash>.spool`, holding
 *   u32 metadata length | metadata JSON ({ key, ...meta }) | body
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskBudget } from '../durability.js';
import { syncDirectory } from './wal.js';

const FILE_RE = /^(\d{12})-([0-9a-f]{16})\.spool$/;

export interface SpoolObject {
  /** Destination key (object key or file path relative to the exporter's root). */
  key: string;
  body: Buffer;
  /** Small JSON-serialisable facts (record count, content type, first record time...). */
  meta: Record<string, unknown>;
}

export interface SpoolEntry {
  id: string;
  key: string;
  bytes: number;
  createdMs: number;
}

export class Spool {
  private index = new Map<string, SpoolEntry>();
  private order = 0;

  private constructor(
    readonly dir: string,
    private readonly budget?: DiskBudget,
  ) {}

  /** Opens the spool in `dir`, removing temp files left by a crash and indexing what is there. */
  static open(dir: string, budget?: DiskBudget): Spool {
    mkdirSync(dir, { recursive: true });
    const spool = new Spool(dir, budget);
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (name.endsWith('.tmp')) {
        rmSync(path, { force: true }); // an object that never finished being spooled
        continue;
      }
      const m = FILE_RE.exec(name);
      if (!m) continue;
      try {
        const { key } = readHeader(path);
        const st = statSync(path);
        spool.index.set(name, { id: name, key, bytes: st.size, createdMs: st.mtimeMs });
        spool.order = Math.max(spool.order, Number(m[1]));
        budget?.add(st.size);
      } catch {
        // Unreadable: keep it aside for a human rather than deleting data.
        renameSync(path, `${path}.corrupt`);
      }
    }
    return spool;
  }

  /** Writes an object durably; returns its id. An object with the same key replaces nothing: both are kept. */
  async put(obj: SpoolObject): Promise<string> {
    const meta = Buffer.from(JSON.stringify({ key: obj.key, ...obj.meta }));
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(meta.length, 0);
    const id = `${String(++this.order).padStart(12, '0')}-${createHash('sha256').update(obj.key).digest('hex').slice(0, 16)}.spool`;
    const path = join(this.dir, id);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writev([head, meta, obj.body]);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDirectory(this.dir);
    const bytes = 4 + meta.length + obj.body.length;
    this.index.set(id, { id, key: obj.key, bytes, createdMs: Date.now() });
    this.budget?.add(bytes);
    return id;
  }

  /**
   * The oldest entry, in O(1): ids grow with every put and `open` indexes the directory in sorted
   * order, so the map's insertion order is the id order (the uploader asks this once per object;
   * sorting the whole index each time made a backlog of n objects cost O(n² log n)).
   */
  oldest(): SpoolEntry | undefined {
    for (const e of this.index.values()) return e;
    return undefined;
  }

  /** Entries, oldest first, without copying the index (do not put or delete while iterating). */
  entries(): IterableIterator<SpoolEntry> {
    return this.index.values();
  }

  /** Entries, oldest first. */
  list(): SpoolEntry[] {
    return [...this.index.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async get(id: string): Promise<SpoolObject> {
    const buf = await readFile(join(this.dir, id));
    const metaLen = buf.readUInt32LE(0);
    const { key, ...meta } = JSON.parse(buf.subarray(4, 4 + metaLen).toString('utf8')) as { key: string };
    return { key, meta, body: buf.subarray(4 + metaLen) };
  }

  async delete(id: string): Promise<void> {
    const e = this.index.get(id);
    if (!e) return;
    await rm(join(this.dir, id), { force: true });
    this.index.delete(id);
    this.budget?.sub(e.bytes);
  }

  get count(): number {
    return this.index.size;
  }

  get bytes(): number {
    let n = 0;
    for (const e of this.index.values()) n += e.bytes;
    return n;
  }

  /** Creation time of the oldest waiting object, or undefined when empty. */
  get oldestMs(): number | undefined {
    return this.oldest()?.createdMs;
  }
}

function readHeader(path: string): { key: string } {
  const buf = readFileSync(path);
  const metaLen = buf.readUInt32LE(0);
  if (metaLen > buf.length - 4) throw new Error('bad header');
  const meta = JSON.parse(buf.subarray(4, 4 + metaLen).toString('utf8')) as { key?: unknown };
  if (typeof meta.key !== 'string') throw new Error('no key');
  return { key: meta.key };
}
