/**
 * A running spanmeter: telemetry, the admin server and the pipeline graph, with start and
 * graceful shutdown.
 */
import type { Logger } from 'pino';
import type { Host } from './component.js';
import type { ResolvedConfig } from './config/config.js';
import { Graph } from './graph.js';
import { AdminServer } from './telemetry/admin.js';
import { createLogger } from './telemetry/logger.js';
import { ServiceMetrics } from './telemetry/metrics.js';
import { VERSION } from './version.js';

export interface ServiceOptions {
  logger?: Logger;
  /** Override the admin address (e.g. "127.0.0.1:0" in tests); null disables it. */
  metricsAddress?: string | null;
  /** Collect Node process metrics (default true). */
  processMetrics?: boolean;
}

export class Service {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly graph: Graph;
  private admin?: AdminServer;
  private readonly healthDetails = new Map<string, { ok: boolean; message?: string }>();
  private state: 'created' | 'starting' | 'running' | 'stopping' | 'stopped' = 'created';
  private shutdownPromise?: Promise<void>;
  private fatalHandler?: (err: Error) => void;

  constructor(
    readonly config: ResolvedConfig,
    opts: ServiceOptions = {},
  ) {
    this.logger = opts.logger ?? createLogger(config.service.logLevel);
    this.metrics = new ServiceMetrics(VERSION, { processMetrics: opts.processMetrics });
    this.graph = new Graph(config, { logger: this.logger, metrics: this.metrics });
    const address = opts.metricsAddress === undefined ? config.service.metricsAddress : opts.metricsAddress;
    if (address) {
      this.admin = new AdminServer(address, this.metrics.registry, {
        ready: () => this.state === 'running' && this.graph.allStarted(),
        detail: () => ({
          components: Object.fromEntries(this.graph.nodes.map((n) => [`${n.kind}:${n.pipeline ? `${n.pipeline}/` : ''}${n.id}`, n.state])),
          details: Object.fromEntries(this.healthDetails),
        }),
        status: () => this.status(),
      });
    }
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
    return {
      version: VERSION,
      instanceId: this.config.service.instanceId,
      state: this.state,
      durability: this.config.service.durability.enabled
        ? { maxDiskBytes: this.config.service.durability.maxDiskBytes, usedBytes: budget?.usedBytes ?? 0 }
        : { enabled: false },
      wal: this.graph.durable.map((d) => d.status()),
      components,
    };
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
    const host: Host = {
      reportFatalError: (err) => {
        this.logger.fatal({ err }, 'fatal component error; shutting down');
        this.fatalHandler?.(err);
      },
      setHealthDetail: (key, detail) => this.healthDetails.set(key, detail),
    };
    try {
      await this.admin?.start();
      await this.graph.start(host);
    } catch (e) {
      this.state = 'stopped';
      await this.admin?.stop();
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

  /** Graceful shutdown within `timeoutMs` (default: service.shutdown_timeout). Idempotent. */
  shutdown(timeoutMs = this.config.service.shutdownTimeoutMs): Promise<void> {
    this.shutdownPromise ??= (async () => {
      this.state = 'stopping';
      const deadline = Date.now() + timeoutMs;
      this.logger.info({ timeoutMs }, 'shutting down: receivers stop accepting, buffers flush');
      try {
        await this.graph.shutdown(deadline);
      } finally {
        await this.admin?.stop();
        this.state = 'stopped';
        this.logger.info('spanmeter stopped');
      }
    })();
    return this.shutdownPromise;
  }
}
