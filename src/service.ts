/**
 * A running spanmeter: telemetry, the admin server and the pipeline graph, with start and
 * graceful shutdown.
 */
import type { Logger } from 'pino';
import type { Host } from './component.js';
import type { ResolvedConfig } from './config/config.js';
import { Graph } from './graph.js';
import { DirLockedError, lockDataDir, type DirLock } from './storage/dir-lock.js';
import { AdminServer } from './telemetry/admin.js';
import { createLogger, recentErrors } from './telemetry/logger.js';
import { SeriesRecorder } from './telemetry/series.js';
import { UsageWindow, meteredUsage } from './telemetry/usage.js';
import { ServiceMetrics } from './telemetry/metrics.js';
import { instruments, onCollect } from './telemetry/declare.js';
import { DISK_BUDGET_METRICS } from './telemetry/metadata.js';
import { VERSION } from './version.js';
import { dormancyOf, dormancyText } from './output/when.js';
import { statusWords } from './telemetry/status-words.js';

export interface ServiceOptions {
  logger?: Logger;
  /** Override the admin address (e.g. "127.0.0.1:0" in tests); null disables it. */
  metricsAddress?: string | null;
  /** Collect Node process metrics (default true). */
  processMetrics?: boolean;
  /** The caller holds the data directory's lock already (default false: start takes it). */
  lockHeld?: boolean;
  /** Record the throughput series (default: when the admin server runs; a worker records for the primary). */
  recordSeries?: boolean;
}

export class Service {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  graph: Graph;
  private admin?: AdminServer;
  readonly series: SeriesRecorder;
  /** Metered usage by team and model over the last hour and day (status page). */
  readonly usage: UsageWindow;
  private readonly healthDetails = new Map<string, { ok: boolean; message?: string }>();
  private state: 'created' | 'starting' | 'running' | 'reloading' | 'stopping' | 'stopped' = 'created';
  private reloadChain: Promise<unknown> = Promise.resolve();
  private shutdownPromise?: Promise<void>;
  private fatalHandler?: (err: Error) => void;
  /** The data directory's lock, held from start to stop (one owner per directory). */
  private lock?: DirLock;
  private readonly lockHeld: boolean;

  constructor(
    public config: ResolvedConfig,
    opts: ServiceOptions = {},
  ) {
    this.logger = opts.logger ?? createLogger(config.service.logLevel);
    this.lockHeld = opts.lockHeld ?? false;
    this.metrics = new ServiceMetrics(VERSION, { processMetrics: opts.processMetrics });
    this.graph = new Graph(config, { logger: this.logger, metrics: this.metrics });
    this.series = new SeriesRecorder(this.metrics.registry);
    this.usage = new UsageWindow(meteredUsage(this.metrics.registry));
    // The disk budget shared by logs and spools, read at scrape time (a reload replaces the graph).
    const graphOf = () => this.graph;
    const budget = instruments(this.metrics.registry, DISK_BUDGET_METRICS);
    onCollect(budget.used, function () {
      this.set(graphOf().budget?.usedBytes ?? 0);
    });
    onCollect(budget.max, function () {
      this.set(graphOf().budget?.maxBytes ?? 0);
    });
    const address = opts.metricsAddress === undefined ? config.service.metricsAddress : opts.metricsAddress;
    this.recordSeries = opts.recordSeries ?? !!address;
    if (address) {
      this.admin = new AdminServer(address, this.metrics.registry, {
        ready: () => this.ready(),
        detail: () => this.readyDetail(),
        status: () => this.status(),
        series: () => this.series.snapshot(),
        usage: () => this.usage.snapshot(),
        errors: () => recentErrors.entries,
      });
    }
  }

  private readonly recordSeries: boolean;

  /** Ready for traffic. Not while a write-ahead log is unusable: a load balancer should send data elsewhere. */
  ready(): boolean {
    return this.state === 'running' && this.graph.allStarted() && ![...this.healthDetails].some(([k, d]) => k.startsWith('wal:') && !d.ok);
  }

  /** `/health/ready`'s detail: every component's state, and the health details components set. */
  readyDetail(): { components: Record<string, string>; details: Record<string, unknown> } {
    return {
      components: Object.fromEntries(this.graph.nodes.map((n) => [`${n.kind}:${n.pipeline ? `${n.pipeline}/` : ''}${n.id}`, n.state])),
      details: Object.fromEntries(this.healthDetails),
    };
  }

  /**
   * Storage and backlog: each pipeline's write-ahead log, each component's own `status()` (e.g.
   * an exporter's spool: files, bytes, oldest unsent batch), and the disk budget.
   */
  status(): Record<string, unknown> {
    const budget = this.graph.budget;
    const components: Record<string, unknown> = {};
    for (const n of this.graph.nodes) {
      const s = (n.instance as { status?: () => Record<string, unknown> }).status;
      if (typeof s === 'function' && n.id !== 'wal') components[`${n.kind}:${n.pipeline ? `${n.pipeline}/` : ''}${n.id}`] = s.call(n.instance);
    }
    const states: Record<string, { state: string; dormant?: string }> = {};
    for (const n of this.graph.nodes) {
      const d = dormancyOf(n.instance);
      states[`${n.kind}:${n.pipeline ? `${n.pipeline}/` : ''}${n.id}`] = d ? { state: n.state, dormant: dormancyText(d) } : { state: n.state };
    }
    const status: Record<string, unknown> = {
      version: VERSION,
      instanceId: this.config.service.instanceId,
      state: this.state,
      pid: process.pid,
      states,
      durability: this.config.service.durability.enabled
        ? { maxDiskBytes: this.config.service.durability.maxDiskBytes, usedBytes: budget?.usedBytes ?? 0 }
        : { enabled: false },
      wal: this.graph.durable.map((d) => d.status()),
      components,
    };
    status.words = statusWords(status);
    return status;
  }

  private readonly host: Host = {
    reportFatalError: (err) => {
      this.logger.fatal({ err }, 'fatal component error; shutting down');
      this.fatalHandler?.(err);
    },
    setHealthDetail: (key, detail) => this.healthDetails.set(key, detail),
  };

  /**
   * Swaps in a new (already validated) configuration without closing the ports of receivers
   * whose settings did not change and without losing accepted data: those receivers refuse new
   * requests (429/503, the sender retries) for the moment of the swap; the old processors and
   * exporters drain (write-ahead logs forward, batches are cut into spools, logs checkpoint);
   * then the new ones start, take over the same logs and spools, and the receivers are
   * re-pointed. If the new graph fails to start, the old configuration is started again.
   */
  reload(config: ResolvedConfig): Promise<void> {
    const run = async () => {
      if (this.state !== 'running') throw new Error(`cannot reload while ${this.state}`);
      this.state = 'reloading';
      const old = this.graph;
      const t0 = Date.now();
      try {
        const reuse = old.runningReceivers();
        const next = new Graph(config, { logger: this.logger, metrics: this.metrics, reuseReceivers: reuse });
        const kept = new Set([...next.receiverSlots.values()].filter((s) => reuse.get(s.node.id) === s).map((s) => s.node));
        for (const slot of reuse.values()) if (kept.has(slot.node)) slot.input.paused = true;
        await old.shutdown(Date.now() + this.config.service.shutdownTimeoutMs, kept);
        try {
          await next.start(this.host);
        } catch (e) {
          this.logger.error({ err: e }, 'the new configuration failed to start; going back to the previous one');
          const back = new Graph(this.config, { logger: this.logger, metrics: this.metrics, reuseReceivers: reuse });
          await back.start(this.host);
          back.activate();
          this.graph = back;
          throw e;
        }
        next.activate();
        this.graph = next;
        this.config = config;
        this.logger.info({ ms: Date.now() - t0, keptReceivers: [...kept].map((n) => n.id) }, 'configuration reloaded');
      } finally {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- shutdown may change the state while the reload is awaited
        if (this.state === 'reloading') this.state = 'running';
      }
    };
    const p = this.reloadChain.then(run, run);
    this.reloadChain = p.catch(() => undefined);
    return p;
  }

  /** Called when a component reports a fatal error (after logging). Default: none. */
  onFatal(handler: (err: Error) => void): void {
    this.fatalHandler = handler;
  }

  get adminAddress(): string | undefined {
    return this.admin?.boundAddress;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`service cannot start from state ${this.state}`);
    this.state = 'starting';
    if (this.config.service.durability.enabled && !this.lockHeld) this.takeLock();
    try {
      await this.admin?.start();
      await this.graph.start(this.host);
      if (this.recordSeries) {
        this.series.start();
        this.usage.start();
      }
    } catch (e) {
      this.state = 'stopped';
      await this.admin?.stop();
      this.lock?.release();
      throw e;
    }
    this.state = 'running';
    this.logger.info(
      {
        version: VERSION,
        pipelines: this.config.pipelines.map((p) => ({ name: p.name, receivers: p.receivers, processors: p.processors, exporters: p.exporters })),
        admin: this.adminAddress,
      },
      'spanmeter started',
    );
  }

  /**
   * Takes the data directory's lock. Another owner: throws (the caller exits). A directory that
   * cannot be used yet (not creatable, read-only): the pipelines start anyway, refusing data until
   * it can (see DurableStage.start), and the lock is taken as soon as it can be.
   */
  private takeLock(): void {
    const dir = this.config.service.dataDir;
    const onTakeover = (previous: unknown) =>
      this.logger.warn({ dir, previousOwner: previous }, 'took over the lock of a process that is gone (a crash); recovering its log and spools');
    try {
      this.lock = lockDataDir(dir, onTakeover);
    } catch (e) {
      if (e instanceof DirLockedError) throw e;
      this.logger.error({ err: e, dir }, 'cannot lock the data directory yet; retrying every 5 s');
      const retry = setInterval(() => {
        if (this.state === 'stopping' || this.state === 'stopped') {
          clearInterval(retry);
          return;
        }
        try {
          this.lock = lockDataDir(dir, onTakeover);
          clearInterval(retry);
        } catch (err) {
          if (err instanceof DirLockedError) {
            clearInterval(retry);
            this.host.reportFatalError(err);
          }
        }
      }, 5_000);
      retry.unref();
    }
  }

  /** Graceful shutdown within `timeoutMs` (default: service.shutdown_timeout). Idempotent. */
  shutdown(timeoutMs = this.config.service.shutdownTimeoutMs): Promise<void> {
    this.shutdownPromise ??= (async () => {
      await this.reloadChain; // let a reload in progress finish first
      this.state = 'stopping';
      const deadline = Date.now() + timeoutMs;
      this.logger.info({ timeoutMs }, 'shutting down: receivers stop accepting, buffers flush');
      try {
        await this.graph.shutdown(deadline);
      } finally {
        this.series.stop();
        this.usage.stop();
        await this.admin?.stop();
        this.metrics.close();
        this.lock?.release();
        this.state = 'stopped';
        this.logger.info('spanmeter stopped');
      }
    })();
    return this.shutdownPromise;
  }
}
