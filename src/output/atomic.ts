/** Durable file writes: temp file in the same directory + fsync + rename + fsync(directory), the last shared (see syncDirectory). */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
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

export async function writeFileAtomic(file: string, data: Uint8Array | string, signal?: AbortSignal): Promise<void> {
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
  try {
    signal?.throwIfAborted();
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dir); // shared with the renames made into `dir` at the same time
}
