import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { directorySyncs, syncDirectory } from '../storage/wal.js';
import { directoriesMade, writeFileAtomic } from './atomic.js';

describe('writeFileAtomic and shared directory fsyncs', () => {
  it('writes every file whole; concurrent writes into one directory share its fsyncs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-atomic-'));
    try {
      const before = directorySyncs.count;
      await Promise.all(Array.from({ length: 30 }, (_, i) => writeFileAtomic(join(dir, 'm', `f${i}.json`), `content ${i}`)));
      const shared = directorySyncs.count - before;
      const names = readdirSync(join(dir, 'm')).sort();
      assert.equal(names.length, 30, 'no temp file left, every file there');
      for (let i = 0; i < 30; i++) assert.equal(readFileSync(join(dir, 'm', `f${i}.json`), 'utf8'), `content ${i}`);
      assert.ok(shared >= 1 && shared < 30, `${shared} directory fsyncs for 30 concurrent files`);

      const seq = directorySyncs.count;
      for (let i = 0; i < 3; i++) await writeFileAtomic(join(dir, 'm', `s${i}.json`), 'x');
      assert.equal(directorySyncs.count - seq, 3, 'one after the other: one fsync each');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes missing directories once, syncing the parent of each one it makes; makes a removed one again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-atomic-'));
    try {
      const made = { ...directoriesMade };
      const syncs = directorySyncs.count;
      await writeFileAtomic(join(dir, '2025', '11', '13', 'a.json'), 'a');
      assert.equal(directoriesMade.count - made.count, 3, '2025, 11 and 13 made');
      assert.equal(directoriesMade.parentSyncs - made.parentSyncs, 3, 'their parents synced');
      assert.equal(directorySyncs.count - syncs, 4, 'three parents, then the directory of the file');

      // The same directory again: nothing made, only the file's directory synced.
      const again = directorySyncs.count;
      await writeFileAtomic(join(dir, '2025', '11', '13', 'b.json'), 'b');
      assert.equal(directoriesMade.count - made.count, 3);
      assert.equal(directorySyncs.count - again, 1);

      // Removed by someone else: made again (13 only), the write succeeds.
      rmSync(join(dir, '2025', '11', '13'), { recursive: true });
      await writeFileAtomic(join(dir, '2025', '11', '13', 'c.json'), 'c');
      assert.equal(directoriesMade.count - made.count, 4);
      assert.deepEqual(readdirSync(join(dir, '2025', '11', '13')), ['c.json']);
      assert.equal(readFileSync(join(dir, '2025', '11', '13', 'c.json'), 'utf8'), 'c');

      // A new sibling under a known parent: one directory made, one parent synced.
      await writeFileAtomic(join(dir, '2025', '11', '14', 'd.json'), 'd');
      assert.equal(directoriesMade.count - made.count, 5);
      assert.equal(directoriesMade.parentSyncs - made.parentSyncs, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replace: false never writes over a file: written, same (equal bytes, or as sameContent says) or taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-atomic-'));
    try {
      const f = join(dir, 'x', 'f.json');
      assert.equal(await writeFileAtomic(f, 'one', undefined, { replace: false }), 'written');
      assert.equal(await writeFileAtomic(f, 'one', undefined, { replace: false }), 'same');
      assert.equal(await writeFileAtomic(f, 'two', undefined, { replace: false }), 'taken');
      assert.equal(await writeFileAtomic(f, 'ONE', undefined, { replace: false, sameContent: (b) => b.toString().toUpperCase() === 'ONE' }), 'same');
      assert.equal(readFileSync(f, 'utf8'), 'one', 'the file is as first written');
      assert.deepEqual(readdirSync(join(dir, 'x')), ['f.json'], 'no temp file left');
      // The default still replaces.
      writeFileSync(join(dir, 'x', 'g.json'), 'old');
      assert.equal(await writeFileAtomic(join(dir, 'x', 'g.json'), 'new'), 'written');
      assert.equal(readFileSync(join(dir, 'x', 'g.json'), 'utf8'), 'new');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a caller arriving while a directory fsync runs waits for the next one (which starts after it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-atomic-'));
    try {
      const start = directorySyncs.count;
      const first = syncDirectory(dir);
      const second = syncDirectory(dir); // the first fsync may predate this caller's rename
      const third = syncDirectory(dir); // shares the second
      await Promise.all([first, second, third]);
      assert.equal(directorySyncs.count - start, 2);
      await assert.rejects(syncDirectory(join(dir, 'missing')), /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
