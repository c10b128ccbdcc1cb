/** Durable file writes: temp file in the same directory + fsync + rename + fsync(directory), the last shared (see syncDirectory). */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDirectory } from '../storage/wal.js';

/**
 * Directories this process made or found, with durable entries in their parents. An output
 * directory (a minute's partition) takes hundreds of files, and `mkdir -p` cost each of them a
 * mkdir and a stat on the thread pool. A directory removed by someone else is made again when
 * the temp file cannot be created in it (ENOENT).
 */
const knownDirs = new Set<string>();
const MAX_KNOWN_DIRS = 4096;

/** For tests: how many directories writeFileAtomic made, and the parents it synced for them. */
export const directoriesMade = { count: 0, parentSyncs: 0 };

/**
 * Makes `dir` and any missing parents. The entry of a new directory is durable only once its
 * parent is synced: each parent from the first directory made down to `dir`'s is fsynced before
 * this returns (a crash after the write's acknowledgement must not lose a new minute directory
 * and the file in it, on file systems that do not order metadata for us).
 */
async function ensureDir(dir: string): Promise<void> {
  if (knownDirs.has(dir)) return;
  const first = await mkdir(dir, { recursive: true });
  if (first !== undefined) {
    const parents: string[] = [];
    for (let d = dir; ; d = dirname(d)) {
      directoriesMade.count++;
      parents.push(dirname(d));
      if (d === first || dirname(d) === d) break;
    }
    for (const p of parents) {
      await syncDirectory(p);
      directoriesMade.parentSyncs++;
    }
  }
  if (knownDirs.size >= MAX_KNOWN_DIRS) knownDirs.clear();
  knownDirs.add(dir);
}

/**
 * What {@link writeFileAtomic} did with `replace: false`: wrote the file, found it there with the
 * same content already (`same`: a re-delivery), or found another file under that name (`taken`,
 * left as it was).
 */
export type WriteOutcome = 'written' | 'same' | 'taken';

export interface WriteOptions {
  /**
   * false: never replace an existing file. The temp file is hard-linked to the name (which fails
   * if the name exists) instead of renamed over it; if the name exists, `sameContent` decides
   * between `same` and `taken`. On a file system without hard links the write falls back to a
   * rename (and replaces, as with `replace: true`).
   */
  replace?: boolean;
  /** With `replace: false`: whether an existing file's bytes are this write's content (default: equal bytes). */
  sameContent?: (existing: Buffer) => boolean;
}

export async function writeFileAtomic(file: string, data: Uint8Array | string, signal?: AbortSignal, opts: WriteOptions = {}): Promise<WriteOutcome> {
  const dir = dirname(file);
  await ensureDir(dir);
  signal?.throwIfAborted();
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'w', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    knownDirs.delete(dir); // removed since: made again
    await ensureDir(dir);
    fh = await open(tmp, 'w', 0o644);
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  let outcome: WriteOutcome = 'written';
  try {
    signal?.throwIfAborted();
    if (opts.replace === false) outcome = await linkNoReplace(tmp, file, data, opts.sameContent);
    else await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dir); // shared with the renames made into `dir` at the same time
  return outcome;
}

/** Links `tmp` to `file` unless `file` exists, then removes `tmp` (see {@link WriteOptions.replace}). */
async function linkNoReplace(tmp: string, file: string, data: Uint8Array | string, sameContent?: (existing: Buffer) => boolean): Promise<WriteOutcome> {
  try {
    await link(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
      await rename(tmp, file); // no hard links here: replace, as before
      return 'written';
    }
    await unlink(tmp);
    const existing = await readFile(file);
    const same = sameContent ? sameContent(existing) : existing.equals(typeof data === 'string' ? Buffer.from(data) : data);
    return same ? 'same' : 'taken';
  }
  await unlink(tmp); // one call (rm would stat it first)
  return 'written';
}
