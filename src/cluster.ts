/**
 * `spanmeter run --workers N`: N worker processes on one machine (node:cluster). Receivers' ports
 * are shared (the primary hands connections out round-robin); each worker has its own write-ahead
 * log and spools under `<data_dir>/worker-<i>` and its own instance id (`<id>-w<i>`), so workers
 * share nothing but the ports. The primary runs no pipeline of its own: it serves the admin
 * endpoint (metrics aggregated over workers; health, status, throughput and errors asked from every
 * worker on each request, merged, and kept per worker), forwards SIGTERM, and restarts a worker
 * that dies (it recovers its own log and spool on start). It holds the lock of the data
 * directory's root (each worker holds its own folder's) and drains the folders no worker of this
 * count owns (see ./adopt.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { ResolvedConfig } from './config/config.js';
import type { Service } from './service.js';
import { DirLockedError, lockDataDir } from './storage/dir-lock.js';
import { adoptStranded } from './adopt.js';
import { AdminServer } from './telemetry/admin.js';
import { aggregateErrors, aggregateReadyDetail, aggregateSeries, aggregateStatus, type WorkerReport } from './telemetry/aggregate.js';
import { recentErrors } from './telemetry/logger.js';
import { VERSION } from './version.js';

type Msg = { spanmeter: 'ready' } | { spanmeter: 'status'; id: number } | { spanmeter: 'status-reply'; id: number; report: Omit<WorkerReport, 'index'> };

/** How long the primary waits for a worker's report before saying it does not answer. */
const REPORT_TIMEOUT_MS = 2000;

/** In a worker: adapts the config to this worker's share of the machine. */
export function workerConfig(config: ResolvedConfig, index: number): ResolvedConfig {
  return {
    ...config,
    service: {
      ...config.service,
      dataDir: join(config.service.dataDir, `worker-${index}`),
      instanceId: `${config.service.instanceId}-w${index}`,
      metricsAddress: null,
    },
  };
}

/** Worker side: publish this service's registry for aggregation and answer status requests. */
export function attachWorker(service: Service): void {
  new AggregatorRegistry(); // installs prom-client's worker-side IPC listener
  AggregatorRegistry.setRegistries([service.metrics.registry]);
  process.on('message', (m: Msg | null) => {
    if (m && m.spanmeter === 'status') {
      const report = {
        pid: process.pid,
        status: service.status(),
        ready: service.ready(),
        detail: service.readyDetail(),
        series: service.series.snapshot(),
        errors: recentErrors.entries,
      };
      process.send?.({ spanmeter: 'status-reply', id: m.id, report } satisfies Msg);
    }
  });
}

export function reportReady(): void {
  process.send?.({ spanmeter: 'ready' } satisfies Msg);
}

/** Primary side. Resolves when every worker has exited after a stop. */
export async function runPrimary(config: ResolvedConfig, workers: number, logger: Logger, argv: string[]): Promise<number> {
  // The primary owns the data directory's root (so a second collector on it refuses before
  // forking anything); each worker owns its worker-<i> directory.
  let lock;
  try {
    lock = config.service.durability.enabled
      ? lockDataDir(config.service.dataDir, (previous) =>
          logger.warn({ dir: config.service.dataDir, previousOwner: previous }, 'took over the lock of a process that is gone'),
        )
      : undefined;
  } catch (e) {
    if (!(e instanceof DirLockedError)) throw e;
    logger.fatal({ err: e }, 'spanmeter failed to start');
    process.stderr.write(`spanmeter: ${e.message}\n`);
    return 1;
  }
  const ready = new Set<number>();
  const byIndex = new Map<number, Worker>();
  let stopping = false;
  let statusSeq = 0;
  const pending = new Map<number, (r: Omit<WorkerReport, 'index'>) => void>();
  const aggregator = new AggregatorRegistry();

  const fork = (index: number) => {
    cluster.setupPrimary({ exec: process.argv[1], args: argv });
    const w = cluster.fork({ SPANMETER_WORKER_INDEX: String(index) });
    byIndex.set(index, w);
    w.on('message', (m: Msg | null) => {
      if (m?.spanmeter === 'ready') {
        ready.add(index);
        logger.info({ worker: index, pid: w.process.pid }, 'worker ready');
      } else if (m?.spanmeter === 'status-reply') pending.get(m.id)?.(m.report);
    });
    w.on('exit', (code, signal) => {
      ready.delete(index);
      if (stopping) return;
      logger.error({ worker: index, code, signal }, 'worker died; restarting it (it recovers its own log and spool)');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, 1000).unref();
    });
  };

  const reportOf = (index: number, w: Worker) =>
    new Promise<WorkerReport>((resolve) => {
      if (!w.isConnected()) {
        resolve({ index, pid: w.process.pid, error: 'not running (restarting)' });
        return;
      }
      const id = ++statusSeq;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve({ index, pid: w.process.pid, error: `no answer within ${REPORT_TIMEOUT_MS} ms` });
      }, REPORT_TIMEOUT_MS);
      pending.set(id, (r) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve({ index, ...r });
      });
      w.send({ spanmeter: 'status', id } satisfies Msg);
    });
  /** Every worker's report, asked now; concurrent requests share one round. */
  let round: Promise<WorkerReport[]> | undefined;
  const reports = () =>
    (round ??= Promise.all([...byIndex].map(([i, w]) => reportOf(i, w))).finally(() => {
      round = undefined;
    }));

  let admin: AdminServer | undefined;
  if (config.service.metricsAddress) {
    const metrics = { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType };
    admin = new AdminServer(config.service.metricsAddress, metrics, {
      ready: () => !stopping && ready.size === workers,
      detail: async () => aggregateReadyDetail(await reports(), workers),
      status: async () => aggregateStatus(await reports(), { version: VERSION, instanceId: config.service.instanceId, workers }),
      series: async () => aggregateSeries((await reports()).flatMap((r) => (r.series ? [r.series] : []))),
      // Usage is counted per worker: the primary serves the summed spanmeter_metered_* metrics instead.
      usage: () => null,
      errors: async () => aggregateErrors(await reports()),
    });
    await admin.start();
  }

  for (let i = 0; i < workers; i++) fork(i);
  logger.info({ workers, admin: admin?.boundAddress }, 'spanmeter primary started');
  // Folders no worker of this layout owns (fewer workers than before, a single process's data at
  // the root) are drained here, in the primary, which owns the root.
  const adoption = config.service.durability.enabled ? adoptStranded(config, workers, logger) : undefined;

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping workers');
      for (const w of byIndex.values()) if (!w.isDead()) w.process.kill('SIGTERM');
      const adopted = adoption?.stop() ?? Promise.resolve();
      const check = setInterval(() => {
        if ([...byIndex.values()].every((w) => w.isDead())) {
          clearInterval(check);
          void adopted
            .then(() => {
              lock?.release();
              return admin?.stop();
            })
            .then(() => resolve(0));
        }
      }, 50);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      for (const w of byIndex.values()) if (!w.isDead()) w.process.kill('SIGHUP');
    });
  });
}
