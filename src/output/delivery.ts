/**
 * The shared delivery core of the meter-record exporters (file, s3, azureblob): route → split →
 * encode → deliver with retries. A transport only implements {@link ObjectSink.put}: "write these
 * exact bytes under this key, or under a key derived from it when another object holds it"
 * (putWithoutReplacing in ./encode.ts). Because objects are content-addressed, a retried or
 * replayed put is harmless.
 *
 * Two modes:
 * - durable (`settings.storage.durable`, the pipeline has a write-ahead log): `consume` encodes the
 *   batch and writes each object to this exporter's spool (`<dataDir>/spool`, fsync + rename), then
 *   resolves — that is when the batch processor releases its write-ahead-log holds. Background
 *   uploaders (`max_concurrent_uploads`) deliver spooled objects oldest first with retries, delete
 *   them after success, keep retrying (never dropping) while the destination is down, and resume
 *   after a restart. Shutdown uploads until the deadline and leaves the rest spooled for the next
 *   start. A sink whose writes are durable themselves (`durableWrites`, the file sink) is written
 *   directly as in direct mode; the log keeps the data until the write succeeded.
 * - direct (no write-ahead log): `consume` resolves only when every object is delivered; when
 *   delivery keeps failing past `max_elapsed_time` it rejects with a DeliveryError and the batch
 *   processor keeps the batch in its bounded retry buffer (pushing back on receivers when full).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Gauge, Registry } from 'prom-client';
import { BackpressureError, type Exporter } from '../component.js';
import type { DiskBudget } from '../durability.js';
import { Spool } from '../storage/spool.js';
import type { MeterRecord } from '../data/meter-record.js';
import type { ComponentMetrics } from '../telemetry/metrics.js';
import { instruments } from '../telemetry/declare.js';
import { SPOOL_METRICS } from '../telemetry/metadata.js';
import type { TProperties, TString } from 'typebox';
import { Duration, type Settings, Type, type Static } from '../config/declare.js';
import { DEFAULT_GZIP_LEVEL, type EncodedObject, type ObjectFormat } from './encode.js';
import { ExporterMetrics } from './metrics.js';
import { RoutingSettings, groupByRoute, type RoutingConfig } from './routing.js';
import { DeliveryError, RetrySettings, backoffDelay, retryPolicyOf, sleep, withRetry, type RetryPolicy } from './retry.js';
import { dormantExporter, isActive, whenSchema } from './when.js';

/** Where an object goes; `path` is the key prefix. Transports add their own fields (bucket...). */
export interface Destination {
  path: string;
  /** Human-readable location for logs, e.g. "s3://bucket". */
  label: string;
}

/** What a transport implements. */
export interface ObjectSink<D extends Destination> {
  /**
   * Writes `obj.body` under `obj.key` at `dest`, never over an object with other records (a taken
   * key moves it to a derived key; an object with the same records is left as it is). Rejects on
   * failure; honours `signal`.
   */
  put(obj: EncodedObject, dest: D, signal: AbortSignal): Promise<void>;
  /**
   * `put` itself leaves the object durable on local disk (fsync'd), so with the write-ahead log
   * on there is nothing a spool would add but a second copy on the same disk: such a sink is
   * written directly (the batch keeps its log holds until the write succeeded).
   */
  readonly durableWrites?: boolean;
  start?(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A sink whose module is imported on `start`: an exporter's SDK (AWS, Azure: ~25 MB of resident
 * memory each) is loaded only when the exporter is active, not because it is listed in the
 * pipeline (the default pipeline lists all four sinks and uses one).
 */
export function lazySink<D extends Destination>(load: () => Promise<ObjectSink<D>>): ObjectSink<D> {
  let sink: ObjectSink<D> | undefined;
  return {
    async start() {
      sink = await load();
      await sink.start?.();
    },
    put(obj, dest, signal) {
      if (!sink) return Promise.reject(new Error('the sink was used before start()'));
      return sink.put(obj, dest, signal);
    },
    async close() {
      await sink?.close?.();
    },
  };
}

/** Spooled objects an exporter uploads at the same time, unless configured. */
export const DEFAULT_CONCURRENT_UPLOADS = 4;

/**
 * The keys every object exporter (file, s3, azureblob) takes, declared once: spread them into the
 * exporter's declaration. `path` is the key prefix's declaration, from the object format;
 * `routeOverrides` are its own per-route keys (see {@link RoutingSettings}), `what` names its
 * destination ("bucket or prefix").
 */
export function objectExporterKeys<O extends TProperties>(path: TString, routeOverrides: O, what: string) {
  return {
    path,
    timeout: Duration({ default: '30s', description: 'Timeout of one upload attempt.' }),
    max_records_per_object: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: "Split batches larger than this into several objects (the callback's buffer bound).",
    }),
    compression_level: Type.Integer({
      minimum: 1,
      maximum: 9,
      default: DEFAULT_GZIP_LEVEL,
      description: 'gzip level of the objects, 1 (fastest) to 9 (smallest). Level 3 is about twice as fast as 6, for files about 25 % larger.',
    }),
    max_concurrent_uploads: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: DEFAULT_CONCURRENT_UPLOADS,
      description: 'With the write-ahead log on: spooled objects uploaded at the same time. One at a time, the latency of each upload caps the throughput.',
    }),
    routing: Type.Optional(RoutingSettings(routeOverrides, what)),
    retry_on_failure: RetrySettings(),
    when: Type.Optional(whenSchema),
  };
}

/** The resolved common keys of an object exporter (its own keys and route overrides aside). */
export type ObjectExporterCommonConfig = Static<ReturnType<typeof Settings<ReturnType<typeof objectExporterKeys<TProperties>>>>>;

/** The exporter options every object exporter takes from the common config keys, the same way. */
export function commonObjectOptions(
  c: ObjectExporterCommonConfig,
): Pick<ObjectExporterOptions<Destination>, 'retry' | 'maxRecordsPerObject' | 'gzipLevel' | 'maxConcurrentUploads'> {
  return {
    retry: retryPolicyOf(c.retry_on_failure, c.timeout),
    maxRecordsPerObject: c.max_records_per_object,
    gzipLevel: c.compression_level,
    maxConcurrentUploads: c.max_concurrent_uploads,
  };
}

/**
 * The exporter of an object exporter's resolved config: dormant when its `when` does not match,
 * otherwise an {@link ObjectExporter} with the common options; `sink` is called only then.
 */
export function createObjectExporter<D extends Destination>(
  c: ObjectExporterCommonConfig,
  s: Pick<ObjectExporterOptions<D>, 'id' | 'logger' | 'registry' | 'metrics' | 'dataDir' | 'storage'>,
  o: Pick<ObjectExporterOptions<D>, 'format' | 'destination'> & { sink(): ObjectSink<D> },
): Exporter<MeterRecord[]> {
  if (c.when && !isActive(c.when)) return dormantExporter(s.logger, c.when);
  const { id, logger, registry, metrics, dataDir, storage } = s;
  return new ObjectExporter<D>({
    id,
    logger,
    registry,
    metrics,
    dataDir,
    storage,
    format: o.format,
    sink: o.sink(),
    routing: c.routing,
    destination: o.destination,
    ...commonObjectOptions(c),
  });
}

export interface ObjectExporterOptions<D extends Destination> {
  id: string;
  logger: Logger;
  registry: Registry;
  metrics: ComponentMetrics;
  sink: ObjectSink<D>;
  /** What an object holds and its key: the exporter's format. */
  format: ObjectFormat;
  /** The destination for a route value (undefined = default route). */
  destination(route: string | undefined): D;
  routing?: RoutingConfig<unknown>;
  retry: RetryPolicy;
  maxRecordsPerObject: number;
  /** gzip level (default {@link DEFAULT_GZIP_LEVEL}). */
  gzipLevel?: number;
  /** Durable mode: spooled objects uploaded at the same time (default {@link DEFAULT_CONCURRENT_UPLOADS}). */
  maxConcurrentUploads?: number;
  /** Also split so that each object's uncompressed JSON stays within this many bytes (0 = no limit). */
  maxBytesPerObject?: number;
  /**
   * Called when the destination rejects an object permanently (PermanentError, e.g. HTTP 400):
   * store it somewhere for a human (dead-letter). The object then counts as handled. Without it,
   * a permanent failure rejects like any other.
   */
  onRejected?(obj: EncodedObject, err: Error): Promise<void>;
  dataDir?: string;
  storage?: { durable: boolean; budget?: DiskBudget };
}

interface Spooled {
  obj: EncodedObject;
  route: string | undefined;
}

export class ObjectExporter<D extends Destination> implements Exporter<MeterRecord[]> {
  readonly xm: ExporterMetrics;
  private readonly stop = new AbortController();
  private inFlight = new Set<Promise<unknown>>();
  private queued = 0;
  /** Durable mode: the spool and its uploader. */
  spool?: Spool;
  private uploader?: Promise<void>;
  /** Idle uploaders waiting for objects. */
  private waiting: (() => void)[] = [];
  /** Spool ids being uploaded. */
  private readonly uploading = new Set<string>();
  private spooledRecords = 0;
  /** The last object delivered, for the status page and `spanmeter status`. */
  private lastObject?: { key: string; destination: string; records: number; bytes: number; at: string };
  private spoolGauge?: Gauge<'exporter'>;

  constructor(private readonly o: ObjectExporterOptions<D>) {
    this.xm = new ExporterMetrics(o.registry, o.id);
  }

  get durable(): boolean {
    return !!this.o.storage?.durable && !!this.o.dataDir;
  }

  /** For `spanmeter status`: the spool backlog (durable mode) and in-memory work. */
  status(): Record<string, unknown> {
    const oldest = this.spool?.oldestMs;
    return {
      ...(this.spool
        ? {
            spoolObjects: this.spool.count,
            spoolBytes: this.spool.bytes,
            spoolRecords: this.spooledRecords,
            oldestUnsent: oldest ? new Date(oldest).toISOString() : null,
          }
        : {}),
      queuedRecords: this.queued,
      lastObject: this.lastObject ?? null,
    };
  }

  async start(): Promise<void> {
    await this.o.sink.start?.();
    if (!this.durable) return;
    this.spool = Spool.open(join(this.o.dataDir!, 'spool'), this.o.storage?.budget);
    this.spoolGauge = instruments(this.o.registry, SPOOL_METRICS).spoolObjects;
    for (const e of this.spool.list()) {
      try {
        const { meta } = await this.spool.get(e.id);
        this.spooledRecords += Number(meta.records ?? 0);
      } catch {
        /* counted as 0 */
      }
    }
    if (this.spool.count) this.o.logger.info({ objects: this.spool.count, bytes: this.spool.bytes }, 'resuming uploads from the spool');
    this.updateSpoolMetrics();
    this.uploader = this.uploadLoop();
  }

  private updateSpoolMetrics(): void {
    this.spoolGauge?.set({ exporter: this.o.id }, this.spool?.count ?? 0);
    this.o.metrics.queueSize(this.spooledRecords + this.queued);
  }

  /**
   * Encodes the batch (per route, split by size) into the objects that `consume` would deliver.
   * Compression runs on libuv's thread pool, all objects at once.
   */
  encode(records: readonly MeterRecord[]): Promise<{ obj: EncodedObject; dest: D; route: string | undefined }[]> {
    const out: Promise<{ obj: EncodedObject; dest: D; route: string | undefined }>[] = [];
    for (const [route, group] of groupByRoute(records, this.o.routing)) {
      const dest = this.o.destination(route);
      for (const chunk of this.o.format.split(group, this.o.maxRecordsPerObject, this.o.maxBytesPerObject ?? 0)) {
        out.push(this.o.format.encode(chunk, { path: dest.path, gzipLevel: this.o.gzipLevel }).then((obj) => ({ obj, dest, route })));
      }
    }
    return Promise.all(out);
  }

  /** Durable mode: spool every object of the batch (fsync), then acknowledge. */
  private async consumeDurable(records: MeterRecord[]): Promise<void> {
    if (this.stop.signal.aborted) throw new BackpressureError(`exporter ${this.o.id} is stopping`, 5);
    for (const { obj, route } of await this.encode(records)) {
      await this.spool!.put({
        key: obj.key,
        body: obj.body,
        meta: { route: route ?? null, records: obj.records, rawBytes: obj.rawBytes, firstRecordTimeMs: obj.firstRecordTimeMs },
      });
      this.spooledRecords += obj.records;
    }
    this.updateSpoolMetrics();
    this.wakeUploaders();
  }

  /** Reads a spooled object back into the EncodedObject it was made from. */
  private async readSpooled(id: string): Promise<Spooled> {
    const { key, body, meta } = await this.spool!.get(id);
    return {
      obj: {
        key,
        body,
        records: Number(meta.records ?? 0),
        rawBytes: Number(meta.rawBytes ?? 0),
        firstRecordTimeMs: Number(meta.firstRecordTimeMs ?? 0),
        contentType: 'application/json',
        contentEncoding: 'gzip',
      },
      route: typeof meta.route === 'string' ? meta.route : undefined,
    };
  }

  /**
   * Uploads spooled objects oldest first, `maxConcurrentUploads` at a time (an upload mostly waits
   * on the network or the disk); on failure each uploader waits and tries again (nothing is
   * dropped).
   */
  private async uploadLoop(): Promise<void> {
    const n = Math.max(1, this.o.maxConcurrentUploads ?? DEFAULT_CONCURRENT_UPLOADS);
    await Promise.all(Array.from({ length: n }, () => this.uploader1()));
  }

  /** The oldest spooled object no other uploader has taken. */
  private nextToUpload(): string | undefined {
    for (const e of this.spool!.entries()) if (!this.uploading.has(e.id)) return e.id;
    return undefined;
  }

  private async uploader1(): Promise<void> {
    let failures = 0;
    while (!this.stop.signal.aborted) {
      const id = this.nextToUpload();
      if (id === undefined) {
        // One abort listener per wait, removed when the wait ends (otherwise every idle period
        // would leave one behind on the long-lived signal).
        const signal = this.stop.signal;
        let onAbort!: () => void;
        await new Promise<void>((resolve) => {
          this.waiting.push(resolve);
          onAbort = resolve;
          signal.addEventListener('abort', onAbort, { once: true });
        });
        signal.removeEventListener('abort', onAbort);
        continue;
      }
      this.uploading.add(id);
      try {
        const { obj, route } = await this.readSpooled(id);
        await this.deliver(obj, this.o.destination(route));
        await this.spool!.delete(id);
        this.uploading.delete(id);
        this.spooledRecords -= obj.records;
        this.updateSpoolMetrics();
        failures = 0;
      } catch (e) {
        this.uploading.delete(id); // another uploader may take it while this one waits
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() aborts it while the upload is awaited
        if (this.stop.signal.aborted) break;
        failures++;
        const wait = backoffDelay(this.o.retry, failures);
        this.o.logger.warn({ err: errInfo(e), spooled: this.spool!.count, retryInMs: wait }, 'spooled object not delivered yet; keeping it and trying again');
        await sleep(wait, this.stop.signal).catch(() => undefined);
      }
    }
  }

  /** Wakes the idle uploaders (new objects in the spool). */
  private wakeUploaders(): void {
    const w = this.waiting;
    if (!w.length) return;
    this.waiting = [];
    for (const wake of w) wake();
  }

  async consume(records: MeterRecord[]): Promise<void> {
    if (records.length === 0) return;
    // A sink whose writes are durable themselves is written directly; its spool (opened anyway)
    // only uploads what an earlier version may have left in it.
    if (this.spool && !this.o.sink.durableWrites) return this.consumeDurable(records);
    const objects = await this.encode(records);
    this.queued += records.length;
    this.o.metrics.queueSize(this.queued);
    try {
      // Sequential: a slow destination slows the caller (back-pressure), never piles up requests.
      for (const { obj, dest } of objects) await this.deliver(obj, dest);
    } finally {
      this.queued -= records.length;
      this.o.metrics.queueSize(this.queued);
    }
  }

  /**
   * Delivers one encoded object with retries. Resolves when stored; rejects with DeliveryError
   * after max_elapsed_time, on a permanent error, or when shutdown's deadline passes.
   */
  deliver(obj: EncodedObject, dest: D): Promise<void> {
    const p = this.xm.track(async () => {
      try {
        await withRetry(
          (signal) => this.o.sink.put(obj, dest, signal),
          this.o.retry,
          {
            onAttemptFailed: () => this.xm.attemptFailed(),
            onRetry: (err, attempt, delayMs) => {
              this.xm.retried();
              this.o.logger.warn({ err: errInfo(err), key: obj.key, dest: dest.label, attempt, retryInMs: delayMs }, 'upload failed; retrying');
            },
          },
          this.stop.signal,
        );
      } catch (e) {
        this.o.metrics.sendFailed(obj.records);
        if (e instanceof DeliveryError && e.permanent && this.o.onRejected) {
          await this.o.onRejected(obj, e.cause instanceof Error ? e.cause : e);
          this.xm.deadLettered(obj.records);
          return;
        }
        this.xm.gaveUp();
        const err = e instanceof DeliveryError ? e : new DeliveryError(String(e), 1, false, { cause: e });
        this.o.logger.error(
          { err: errInfo(err.cause ?? err), key: obj.key, dest: dest.label, records: obj.records, attempts: err.attempts },
          `upload failed: ${err.message}`,
        );
        throw err;
      }
      this.o.metrics.sent(obj.records);
      this.xm.delivered(obj.body.length);
      this.lastObject = { key: obj.key, destination: dest.label, records: obj.records, bytes: obj.body.length, at: new Date().toISOString() };
      this.o.logger.debug({ key: obj.key, dest: dest.label, records: obj.records, bytes: obj.body.length }, 'object delivered');
    });
    this.inFlight.add(p);
    void p.catch(() => undefined).finally(() => this.inFlight.delete(p));
    return p;
  }

  async shutdown(deadline: number): Promise<void> {
    // Let in-flight deliveries (and, durable, the spool) finish until the deadline, then stop retrying.
    const timer = setTimeout(() => this.stop.abort(new Error('shutdown deadline reached')), Math.max(0, deadline - Date.now()));
    try {
      if (this.spool) {
        while (this.spool.count > 0 && !this.stop.signal.aborted) await sleep(20, this.stop.signal).catch(() => undefined);
        this.stop.abort(new Error('exporter stopped'));
        await this.uploader;
        if (this.spool.count)
          this.o.logger.warn(
            { objects: this.spool.count, records: this.spooledRecords },
            'shutdown: objects left in the spool; they are uploaded at the next start',
          );
      }
      await Promise.allSettled([...this.inFlight]);
    } finally {
      clearTimeout(timer);
      this.stop.abort(new Error('exporter stopped'));
      await this.o.sink.close?.();
    }
  }
}

/** A compact, log-friendly view of an error (SDK errors carry large metadata). */
export function errInfo(e: unknown): { type: string; message: string; status?: number; code?: string } {
  if (!(e instanceof Error)) return { type: typeof e, message: String(e) };
  const any = e as Error & { $metadata?: { httpStatusCode?: number }; statusCode?: number; status?: number; code?: string; Code?: string };
  return {
    type: e.name,
    message: e.message,
    status: any.$metadata?.httpStatusCode ?? any.statusCode ?? any.status,
    code: any.code ?? any.Code,
  };
}
