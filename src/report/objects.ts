/**
 * Reading back the objects an exporter wrote (MAPPING.md §4 layout:
 * `<path>/YYYY/MM/DD/HH/mm/merged_logs_<suffix>.json.gz`, each a gzip JSON array of meter
 * records). An {@link ObjectReader} lists keys under a prefix and fetches one object; exporters
 * that write objects offer one through their factory's `objectReader` (file, s3, azureblob).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { MeterRecord } from '../data/meter-record.js';
import { joinKey } from '../output/encode.js';

const gunzipAsync = promisify(gunzip);

export interface ObjectReader {
  /** Where the objects are, for messages: `file:///data/out/litellm-metering`, `s3://bucket/prefix`. */
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

/** An object key written by an exporter (temporary files and other names are not). */
export const OBJECT_NAME = /(^|\/)merged_logs_[0-9a-f]{8}\.json\.gz$/;

const HOUR_MS = 3_600_000;
const pad = (n: number) => String(n).padStart(2, '0');

/** `<path>/YYYY/MM/DD/HH/` of every hour that overlaps [fromMs, toMs). */
export function hourPrefixes(path: string, fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(fromMs / HOUR_MS) * HOUR_MS; t < toMs; t += HOUR_MS) {
    const d = new Date(t);
    out.push(`${joinKey(path, `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`)}/`);
  }
  return out;
}

/** The records of one object: gunzipped and parsed; a clear error when it is not a record array. */
export async function parseObject(key: string, body: Buffer): Promise<MeterRecord[]> {
  let json: Buffer;
  try {
    json = await gunzipAsync(body);
  } catch (e) {
    throw new Error(`${key}: not gzip (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw new Error(`${key}: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${key}: not a JSON array of meter records`);
  return parsed as MeterRecord[];
}
