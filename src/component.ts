/**
 * The component model: what every receiver, processor and exporter implements, built-in or plugin.
 *
 * A component type is described by a {@link Factory}: its kind, type name, the JSON Schema of its
 * config, a default config, what data it consumes and produces, and a `create` function. The
 * pipeline graph (src/graph.ts) creates instances from pipeline.yaml, links them with typed
 * {@link Consumer}s and runs their lifecycle.
 *
 * Data moves by `await next.consume(items)`. The promise resolving is the acknowledgement: the
 * downstream stage has taken responsibility for the items. A stage that cannot take more rejects
 * with {@link BackpressureError} (or waits, within a bound); that error travels back to the
 * receiver, which answers 429 / RESOURCE_EXHAUSTED. Nothing between stages is an unbounded queue.
 */
import type { ObjectReader } from './report/objects.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LlmCall } from './data/llm-call.js';
import type { MeterRecord } from './data/meter-record.js';
import type { LogsBatch } from './data/logs.js';
import type { SpanBatch } from './data/span.js';
import type { CutRecorder, DiskBudget, Hold } from './durability.js';
import type { ComponentMetrics } from './telemetry/metrics.js';
import type { Static, TSchema } from './config/declare.js';
import type { MetricDeclarations } from './telemetry/declare.js';

/** The data types that flow between stages. */
export type DataType = 'spans' | 'logs' | 'llm_calls' | 'meter_events';
export const DATA_TYPES: readonly DataType[] = ['spans', 'logs', 'llm_calls', 'meter_events'];

/** What one `consume` call carries, per data type. */
export interface DataOf {
  spans: SpanBatch;
  logs: LogsBatch;
  llm_calls: LlmCall[];
  meter_events: MeterRecord[];
}

export type ComponentKind = 'receiver' | 'processor' | 'exporter';
export type Stability = 'development' | 'alpha' | 'beta' | 'stable' | 'deprecated';

/** Per-call context; lets stages pass hints (e.g. the receiver's transport) downstream. */
export interface ConsumeContext {
  /** The receiver instance id that accepted the data, e.g. "otlp". */
  receiver?: string;
  /** The transport, e.g. "http", "grpc", "file". */
  transport?: string;
  /**
   * Present when the data came out of a pipeline's write-ahead log. A stage that keeps the data
   * after its `consume` call returns (e.g. in an open batch) must `hold.retain()` it and
   * `hold.release()` once the data is durable further on (in an exporter's spool) or dropped on
   * purpose; the log is trimmed only past released holds. Pass `ctx` on to `next.consume`.
   */
  hold?: Hold;
  /**
   * With {@link hold}: where a stage that regroups log records (the batch processor) records each
   * group before handing it on, so that a replay re-creates the same groups (exactly-once objects).
   */
  cuts?: CutRecorder;
}

/** A stage that accepts data of type T. Implementations must not mutate `data` after returning. */
export interface Consumer<T> {
  consume(data: T, ctx?: ConsumeContext): Promise<void>;
  /**
   * For `spans` consumers: the only span attributes (keys of `Span.attributes`) that this consumer,
   * and everything after it, ever reads. A receiver may leave the other attributes out of the spans
   * it hands over; the OTLP receiver then does not build their values. Undefined: all of them. Only
   * a consumer that does not hand spans on (it turns them into another type) can declare this.
   */
  readonly spanAttributes?: ReadonlySet<string> | undefined;
  /**
   * For `spans` consumers that declare {@link spanAttributes}: attributes (among those) without
   * all of which this consumer, and everything after it, ignores a span. A receiver may then leave
   * such spans out of the batch, counting them in `SpanBatch.omitted`. Undefined: every span is read.
   */
  readonly spanSelector?: ReadonlySet<string> | undefined;
  /**
   * For the consumers a receiver is given: false while no pipeline takes this data type from the
   * receiver (its `consume` then refuses with PermanentError); the receiver answers as it does for
   * data it does not keep. Undefined: connected.
   */
  readonly connected?: boolean;
}

/** One item (a span, a log payload) as `spanmeter inspect` explains it. */
export interface InspectEntry {
  /** What the item is, e.g. `span "chat gpt-4o" <traceId>/<spanId>`. */
  item: string;
  outcome: 'billed' | 'not billed' | 'duplicate' | 'invalid';
  /** How it was read (a layout or format name). */
  as?: string;
  reason?: string;
  /** One line for people: the record's main facts. */
  summary?: string;
  /** The record it yields (printed with --json). */
  record?: unknown;
  /** The component that explained it. */
  by?: string;
}

/** A `spans` consumer that can say what it would make of a batch, without keeping any state. */
export interface Inspectable {
  inspect(batch: SpanBatch): InspectEntry[];
}

/** A receiver factory's reader of documents it takes (for `spanmeter inspect`). */
export type DocumentInspector = (text: string) => InspectEntry[];

/** Lifecycle shared by every component instance. Both methods must be idempotent. */
export interface Lifecycle {
  /** Open ports, start timers, connect. Must return once the component is ready. */
  start?(host: Host): Promise<void>;
  /**
   * Stop accepting new work, finish what is in flight, flush buffers to the next consumer.
   * `deadline` is an absolute time (ms since epoch) by which shutdown should be done.
   */
  shutdown?(deadline: number): Promise<void>;
}

export type Receiver = Lifecycle;
export type Processor<I = unknown> = Lifecycle & Consumer<I>;
export type Exporter<I = unknown> = Lifecycle & Consumer<I>;

/** What the running service offers to started components. */
export interface Host {
  /** Marks a fatal, unrecoverable error: the service logs it and shuts down. */
  reportFatalError(err: Error): void;
  /** A component may publish a readiness detail shown by /health/ready (e.g. a lookup source). */
  setHealthDetail(key: string, detail: { ok: boolean; message?: string }): void;
}

/** Everything a create function receives. */
export interface CreateSettings<C> {
  /** Instance id as written in pipeline.yaml: `type` or `type/name`. */
  id: string;
  /** The pipeline the instance belongs to (processors only; receivers and exporters are shared). */
  pipeline?: string;
  /** Validated config: defaults with the user's values on top. */
  config: C;
  logger: Logger;
  /** The service's Prometheus registry; components register their own metrics here. */
  registry: Registry;
  /** Ready-made standard counters, labelled with this component's id. */
  metrics: ComponentMetrics;
  /** Directory for this instance's durable state (write-ahead log, spool, dead letters). */
  dataDir: string;
  /** Name of this spanmeter instance (used in object keys so replicas never collide). */
  instanceId: string;
  /**
   * Durability: when `durable` is true the pipeline has a write-ahead log and exporters should
   * spool each batch to disk (under `dataDir`) before acknowledging it; spool bytes count against
   * the shared `budget` (service.durability.max_disk_bytes).
   */
  storage?: { durable: boolean; budget?: DiskBudget };
  /**
   * Receivers: the consumer of each data type the factory produces (`produces`, `alsoProduces`);
   * `next` is the one of `produces`. See {@link Consumer.connected}.
   */
  nextFor?<T extends DataType>(type: T): Consumer<DataOf[T]>;
}

/** JSON Schema (draft 2020-12 subset accepted by ajv). */
export type JSONSchema = Record<string, unknown>;

interface FactoryBase<S extends TSchema> {
  /** Type name, `^[a-zA-Z][0-9a-zA-Z_]{0,62}$`. */
  type: string;
  /** One line for `spanmeter components`. */
  description: string;
  stability: Stability;
  /** The metrics this component type registers besides the standard ones (its metadata.ts); docs/metrics.md lists them. */
  metrics?: MetricDeclarations;
  /**
   * The config's declaration (src/config/declare.ts): its JSON Schema, with each key's default and
   * description, from which the config's type is derived. Use `additionalProperties: false` on every
   * object so that unknown keys are rejected.
   */
  configSchema: S;
  /**
   * Only for a plain JSON Schema without defaults (a plugin written in JavaScript): the default
   * config, with the user's config deep-merged on top. A declared config leaves it out.
   */
  defaultConfig?(): Static<S>;
  /** Extra checks that a schema cannot express; return messages keyed by a dotted sub-path. */
  validate?(config: Static<S>): ConfigProblem[];
}

export interface ConfigProblem {
  /** Dotted path inside the component's config, '' for the component itself. */
  path: string;
  message: string;
}

/** What a processor hands on: its own type, or (for `same`) what it consumes. */
export type OutputOf<I extends DataType, O extends DataType | 'same'> = O extends DataType ? DataOf[O] : DataOf[I];

export interface ReceiverFactory<S extends TSchema = TSchema, O extends DataType = DataType> extends FactoryBase<S> {
  kind: 'receiver';
  /** The main data type it produces (the one a pipeline carries when its stages accept several). */
  produces: O;
  /**
   * Other types it produces. Each pipeline carries one type: the receivers' common type that its
   * first stage consumes (see the config loader's type links).
   */
  alsoProduces?: readonly DataType[];
  create(settings: CreateSettings<Static<S>>, next: Consumer<DataOf[O]>): Receiver;
}

export interface ProcessorFactory<
  S extends TSchema = TSchema,
  I extends DataType = DataType,
  O extends DataType | 'same' = DataType | 'same',
> extends FactoryBase<S> {
  kind: 'processor';
  /** The types this processor accepts. */
  consumes: I | readonly I[];
  /** The type it emits; 'same' for a pass-through processor (filter, batch...). */
  produces: O;
  /**
   * Its output depends on state outside the data (a catalogue that can change): the pipeline's
   * write-ahead log goes after it, so a replay hands on what it decided the first time instead of
   * deciding again. Everything after the log must be a function of the data and the config.
   */
  logAfter?: boolean;
  create(settings: CreateSettings<Static<S>>, next: Consumer<OutputOf<I, O>>): Processor<DataOf[I]>;
}

export interface ExporterFactory<S extends TSchema = TSchema, I extends DataType = DataType> extends FactoryBase<S> {
  kind: 'exporter';
  consumes: I | readonly I[];
  create(settings: CreateSettings<Static<S>>): Exporter<DataOf[I]>;
  /** Exporters that write objects: a reader of the objects at the configured destination (`spanmeter report`). */
  objectReader?(config: Static<S>): ObjectReader | Promise<ObjectReader>;
}

export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory;

/** Every type a receiver produces, the main one first. */
export function producesOf(f: ReceiverFactory): readonly DataType[] {
  return [f.produces, ...(f.alsoProduces ?? []).filter((t) => t !== f.produces)];
}

/** Normalises `consumes` to a list. */
export function consumesOf(f: ProcessorFactory | ExporterFactory): readonly DataType[] {
  return typeof f.consumes === 'string' ? [f.consumes] : f.consumes;
}

// ---------------------------------------------------------------------------------------------
// Errors that cross stage boundaries.

/**
 * The pipeline cannot take more right now (full queue, disk budget, memory limit). The receiver
 * answers 429 (HTTP) / RESOURCE_EXHAUSTED (gRPC) with Retry-After. Data was NOT accepted.
 */
export class BackpressureError extends Error {
  override name = 'BackpressureError';
  constructor(
    message: string,
    /** Suggested wait before retrying, in seconds. */
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
  }
}

/**
 * The data can never be accepted (malformed, rejected by policy). Retrying will not help.
 * Receivers answer 400; exporters move the batch to a dead-letter location.
 */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Identity helper for plugins: `api.defineFactory({...})`. */
export function defineFactory<F extends Factory>(f: F): F {
  return f;
}

/** A receiver factory, its config type derived from its declaration. */
export function defineReceiver<S extends TSchema, const O extends DataType>(f: ReceiverFactory<S, O>): ReceiverFactory<S, O> {
  return f;
}

/** A processor factory, its config and data types derived from its declaration. */
export function defineProcessor<S extends TSchema, const I extends DataType, const O extends DataType | 'same'>(
  f: ProcessorFactory<S, I, O>,
): ProcessorFactory<S, I, O> {
  return f;
}

/** An exporter factory, its config and data types derived from its declaration. */
export function defineExporter<S extends TSchema, const I extends DataType>(f: ExporterFactory<S, I>): ExporterFactory<S, I> {
  return f;
}
