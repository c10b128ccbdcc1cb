/**
 * Reading back the objects an exporter wrote. An {@link ObjectReader} lists keys under a prefix
 * and fetches one object; exporters that write objects offer one through their factory's
 * `objectReader` (file, s3, azureblob). Which keys are objects and what they hold is the object
 * format's ({@link RecordFormat}).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MeterRecord } from '../data/meter-record.js';

/** How an object format lays meter records out in objects, for reading them back. */
export interface RecordFormat {
  /** Whether a listed key is an object of records (temporary files and other names are not). */
  isObject(key: string): boolean;
  /** Key prefixes (each ending with `/`) of the partitions under `path` that can hold records of [fromMs, toMs). */
  partitions(path: string, fromMs: number, toMs: number): string[];
  /** The records of one object; a clear error when it does not hold any. */
  parse(key: string, body: Buffer): Promise<MeterRecord[]>;
}

export interface ObjectReader {
  /** Where the objects are, for messages: `file:///data/out/metering`, `s3://bucket/prefix`. */
  readonly label: string;
  /** Key prefix the exporter writes under (its `path`). */
  readonly path: string;
  /** Keys (with their size in bytes, when the store says) under `prefix`, which ends with `/`. */
  list(prefix: string): AsyncIterable<{ key: string; size?: number }>;
  /** The stored bytes of one object. */
  get(key: string): Promise<Buffer>;
  close?(): Promise<void> | void;
}

/** Objects of the file exporter: `<directory>/<key>`. */
export class DirectoryReader implements ObjectReader {
  readonly label: string;
  private readonly root: string;
  constructor(
    directory: string,
    readonly path: string,
  ) {
    this.root = resolve(directory);
    this.label = `file://${join(this.root, path)}`;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size?: number }> {
    // Walks the directory tree under the prefix; names are the key's segments.
    const walk = async function* (dir: string, key: string): AsyncIterable<{ key: string }> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const k = key ? `${key}/${e.name}` : e.name;
        if (e.isDirectory()) yield* walk(join(dir, e.name), k);
        else if (e.isFile()) yield { key: k };
      }
    };
    yield* walk(join(this.root, ...prefix.split('/').filter(Boolean)), prefix.replace(/\/+$/, ''));
  }

  get(key: string): Promise<Buffer> {
    return readFile(join(this.root, ...key.split('/')));
  }
}
