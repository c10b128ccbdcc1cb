/**
 * Adoption of stranded data directories. Every process that runs pipelines owns one data directory
 * (`<data_dir>` for a single process, `<data_dir>/worker-<i>` for worker i of `--workers N`).
 * After a change of layout — fewer workers than before, workers where a single process ran (its
 * `wal/` and spools at the root), or a single process where workers ran — some directories have no
 * owner, and the calls acknowledged into them would never be delivered. The owner of the root (the
 * single process, or the cluster's primary) adopts them at start: for each one it runs the same
 * pipelines without receivers on that directory (taking its lock), lets its write-ahead log replay
 * and its spools upload, stops it, and removes the directory once nothing is left in it.
 *
 * Exactly once holds as for any restart: the adopted directory's own log, cut log and spools are
 * replayed by the same code (see docs/design/exactly-once.md).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/config.js';
import { Service } from './service.js';
import { DirLockedError, LOCK_FILE } from './storage/dir-lock.js';

const WORKER_RE = /^worker-(\d+)$/;
/** What a data directory holds when a pipeline ran on it. */
const DATA_ENTRIES = ['wal', 'exporters', 'processors'];

/** Whether `dir` holds a pipeline's data at its top level (not counting worker-<i> folders). */
function holdsData(dir: string): boolean {
  return DATA_ENTRIES.some((n) => existsSync(join(dir, n)));
}

/**
 * Directories under `root` that no process of this layout owns: `workers` = 1 for a single
 * process (every worker-<i>), N for a cluster (worker-<j> for j ≥ N, and the root's own data).
 */
export function strandedDirs(root: string, workers: number): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const cluster = workers > 1;
  if (cluster && holdsData(root)) out.push(root);
  for (const name of readdirSync(root).sort()) {
    const m = WORKER_RE.exec(name);
    if (!m) continue;
    const i = Number(m[1]);
    if (cluster && i < workers) continue;
    const dir = join(root, name);
    if (holdsData(dir)) out.push(dir);
  }
  return out;
}

/** Whether everything acknowledged into an adopted directory has left it. */
function drained(service: Service): boolean {
  const s = service.status() as { wal: { lastSeq: number; forwardedSeq: number; checkpoint: number }[]; components: Record<string, { spoolObjects?: number }> };
  return s.wal.every((w) => w.checkpoint >= w.lastSeq) && Object.values(s.components).every((c) => !c.spoolObjects);
}

function forwarded(service: Service): boolean {
  const s = service.status() as { wal: { lastSeq: number; forwardedSeq: number }[] };
  return s.wal.every((w) => w.forwardedSeq >= w.lastSeq);
}

/** The configuration that drains `dir`: the same pipelines without receivers, no admin server. */
export function drainConfig(config: ResolvedConfig, dir: string): ResolvedConfig {
  return {
    ...config,
    components: new Map([...config.components].filter(([, c]) => c.kind !== 'receiver')),
    pipelines: config.pipelines.map((p) => ({ ...p, receivers: [] })),
    service: { ...config.service, dataDir: dir, metricsAddress: null },
  };
}

export interface Adoption {
  /** Resolves when every stranded directory is drained (or the adoption was stopped). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Drains the stranded directories under the root of `config` in the background, one at a time
 * (each needs its exporters' CPU and connections). A drain whose destination is down keeps trying
 * (stopping and starting again every `retryMs`) until it succeeds or `stop()` is called; what is
 * left stays in the directory for the next start.
 */
export function adoptStranded(config: ResolvedConfig, workers: number, logger: Logger, retryMs = 10_000): Adoption {
  const root = config.service.dataDir;
  let stopped = false;
  let current: Service | undefined;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  const drainOne = async (dir: string): Promise<void> => {
    const log = logger.child({ adopting: dir });
    for (let attempt = 0; !stopped; attempt++) {
      // The root's lock is this process's already (the cluster's primary adopting a single process's data).
      const service = new Service(drainConfig(config, dir), { logger: log, metricsAddress: null, processMetrics: false, lockHeld: dir === root });
      try {
        await service.start();
      } catch (e) {
        if (e instanceof DirLockedError) {
          // Its owner may be a worker of the killed cluster that has not exited yet: look again later.
          if (attempt === 0) log.warn({ err: e.message, retryInMs: retryMs }, 'a stranded data directory is in use by a running process; trying again later');
          await pause(retryMs);
          continue;
        }
        log.error({ err: e }, 'cannot start draining a stranded data directory; trying again later');
        await pause(retryMs);
        continue;
      }
      current = service;
      if (attempt === 0) log.warn('adopting a data directory no running process owns (the number of workers changed?): delivering what it holds');
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it while this awaits
      while (!stopped && !forwarded(service)) await pause(200);
      // The batches cut at shutdown are sent and spools upload until the shutdown deadline.
      await service.shutdown().catch((e: unknown) => log.error({ err: e }, 'draining a stranded data directory: shutdown finished with errors'));
      current = undefined;
      // The final checkpoint is on disk now: everything up to the log's end released, spools empty.
      if (drained(service)) {
        if (dir === root) {
          for (const n of DATA_ENTRIES) rmSync(join(root, n), { recursive: true, force: true });
        } else if (!hasDeadLetters(dir)) rmSync(dir, { recursive: true, force: true });
        else rmSync(join(dir, LOCK_FILE), { force: true });
        log.info('stranded data directory drained: everything it held is delivered');
        return;
      }
      log.warn({ retryInMs: retryMs }, 'stranded data directory not fully delivered yet (destination down?); trying again');
      await pause(retryMs);
    }
  };

  const done = (async () => {
    const dirs = strandedDirs(root, workers);
    for (const dir of dirs) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it while this awaits
      if (stopped) return;
      await drainOne(dir).catch((e: unknown) => logger.error({ err: e, dir }, 'adopting a stranded data directory failed'));
    }
  })();

  return {
    done,
    async stop() {
      stopped = true;
      wake?.();
      await current?.shutdown().catch(() => undefined);
      await done;
    },
  };
}

function hasDeadLetters(dir: string): boolean {
  const walk = (d: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(d, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
    } catch {
      return false;
    }
    return names.some((n) => (n === 'dead-letter/' ? readdirSync(join(d, n)).length > 0 : n.endsWith('/') && walk(join(d, n))));
  };
  return walk(dir);
}
