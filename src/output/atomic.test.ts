import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { directorySyncs, syncDirectory } from '../storage/wal.js';
import { writeFileAtomic } from './atomic.js';

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
