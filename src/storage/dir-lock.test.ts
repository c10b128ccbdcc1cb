import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DirLockedError, LOCK_FILE, lockDataDir } from './dir-lock.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'spanmeter-lock-'));

describe('data directory lock', () => {
  it('is held by one owner: a second taker in the same process is refused, naming the directory and the PID; release frees it', () => {
    const dir = tmp();
    try {
      const lock = lockDataDir(dir);
      assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
      assert.throws(
        () => lockDataDir(dir),
        (e: Error) => e instanceof DirLockedError && e.message.includes(dir) && e.message.includes(String(process.pid)),
      );
      lock.release();
      assert.equal(existsSync(join(dir, LOCK_FILE)), false);
      lockDataDir(dir).release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a lock held by another running process (the parent of this test)', () => {
    const dir = tmp();
    try {
      const start = readFileSync(`/proc/${process.ppid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), start, since: 'then' }));
      assert.throws(
        () => lockDataDir(dir),
        (e: Error) => e instanceof DirLockedError && e.message.includes(`process ${process.ppid}`) && e.message.includes('stop it'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes over a stale lock: its process is gone, or its PID now belongs to a process that started later', () => {
    const dir = tmp();
    try {
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: Number(dead), host: hostname(), start: '1', since: 'then' }));
      const seen: unknown[] = [];
      lockDataDir(dir, (o) => seen.push(o.pid)).release();
      assert.deepEqual(seen, [Number(dead)]);
      // PID reused: the parent runs, but did not start at the recorded time.
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), start: '1', since: 'then' }));
      lockDataDir(dir).release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never takes over a lock from another host, and says how to clear it', () => {
    const dir = tmp();
    try {
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', start: '', since: 'then' }));
      assert.throws(
        () => lockDataDir(dir),
        (e: Error) => e.message.includes('on host elsewhere') && e.message.includes(`delete ${join(dir, LOCK_FILE)}`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
