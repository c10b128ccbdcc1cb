/**
 * One owner per data directory. Two processes appending to one write-ahead log interleave their
 * sequence numbers in one segment, and recovery then cuts the log at the first jump: acknowledged
 * data is lost. So a process takes `<dir>/spanmeter.lock` (created with O_EXCL, holding its PID,
 * host and the process's start time) before it touches the directory, and a second one refuses at
 * once, naming the directory and the owner.
 *
 * A lock left by a process that died (SIGKILL, OOM, power loss) is stale and taken over: its PID
 * is not running on this host, or it is running but started at another time (the PID was reused:
 * in a container a restarted collector often gets the same PID). A lock from another host is
 * never taken over automatically (its owner cannot be checked from here): the message says so.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'spanmeter.lock';

interface Owner {
  pid: number;
  host: string;
  /** The process's start time as /proc gives it (clock ticks since boot); '' where there is no /proc. */
  start: string;
  since: string;
}

export class DirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: Partial<Owner>,
    detail: string,
  ) {
    super(`data directory ${dir} is in use by ${describe(owner)}${detail}`);
    this.name = 'DirLockedError';
  }
}

function describe(o: Partial<Owner>): string {
  return `process ${o.pid ?? '?'}${o.host && o.host !== hostname() ? ` on host ${o.host}` : ''}${o.since ? ` (since ${o.since})` : ''}`;
}

/** Directories this process holds (a second Service in the same process must refuse too). */
const held = new Set<string>();

/** The start time of a running process, '' when unknown (no /proc), undefined when it is not running. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name in parentheses (which may hold spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return '';
    try {
      statSync('/proc/self/stat');
      return undefined; // /proc exists: the process does not
    } catch {
      /* no /proc: ask the kernel */
    }
  }
  try {
    process.kill(pid, 0);
    return '';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? '' : undefined;
  }
}

/** Whether the lock's owner is certainly gone. */
function stale(o: Partial<Owner>): boolean {
  if (typeof o.pid !== 'number' || o.host !== hostname()) return false;
  if (o.pid === process.pid) return true; // an earlier run with our PID (this process holds none: see `held`)
  const start = processStart(o.pid);
  if (start === undefined) return true;
  return start !== '' && o.start !== undefined && o.start !== '' && start !== o.start;
}

function readOwner(path: string): Partial<Owner> | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return {}; // being written, or torn by a crash while written
  }
}

export interface DirLock {
  readonly dir: string;
  release(): void;
}

/**
 * Takes the lock of `dir` (created if needed), or throws {@link DirLockedError}. A stale lock is
 * taken over; `onTakeover` is told whose.
 */
export function lockDataDir(dir: string, onTakeover?: (previous: Partial<Owner>) => void): DirLock {
  const abs = resolve(dir);
  if (held.has(abs)) throw new DirLockedError(abs, { pid: process.pid, host: hostname() }, ' (this process)');
  mkdirSync(abs, { recursive: true });
  const path = join(abs, LOCK_FILE);
  const me: Owner = { pid: process.pid, host: hostname(), start: processStart(process.pid) ?? '', since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      held.add(abs);
      let released = false;
      return {
        dir: abs,
        release() {
          if (released) return;
          released = true;
          held.delete(abs);
          try {
            if (readOwner(path)?.pid === process.pid) unlinkSync(path);
          } catch {
            /* gone already */
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readOwner(path);
    if (owner === undefined) continue; // released meanwhile: try again
    const torn = owner.pid === undefined;
    // An empty or torn file: its writer may be writing it right now; give it a moment first.
    const oldEnough = !torn || Date.now() - safeMtime(path) > 2_000;
    if (attempt < 8 && ((torn && oldEnough) || (!torn && stale(owner)))) {
      if (takeOver(path, owner)) onTakeover?.(owner);
      continue;
    }
    if (attempt < 8 && torn) {
      sleepSync(250);
      continue;
    }
    const other = owner.host !== undefined && owner.host !== hostname();
    throw new DirLockedError(
      abs,
      owner,
      other
        ? `; it cannot be checked from ${hostname()}. If that host no longer runs spanmeter on this directory, delete ${path}`
        : '; stop it, or give this process another data directory (service.data_dir / SPANMETER_DATA_DIR)',
    );
  }
}

/**
 * Removes a stale lock, guarded so that of two processes taking it over at the same moment only
 * one removes it (the other would otherwise remove the first one's fresh lock).
 */
function takeOver(path: string, seen: Partial<Owner>): boolean {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx');
  } catch {
    // Someone else is taking it over; a guard left by a crash in these few lines expires.
    if (Date.now() - safeMtime(guard) > 10_000) unlinkQuiet(guard);
    else sleepSync(100);
    return false;
  }
  closeSync(fd);
  try {
    const now = readOwner(path);
    if (now && JSON.stringify(now) === JSON.stringify(seen)) {
      unlinkSync(path);
      return true;
    }
    return false;
  } finally {
    unlinkQuiet(guard);
  }
}

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone */
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
