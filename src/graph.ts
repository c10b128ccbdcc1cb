/**
 * The pipeline graph: creates component instances from a resolved config, links them, and runs
 * their lifecycle in the right order.
 *
 * - Receivers and exporters are shared: one instance per id, whatever the number of pipelines.
 *   A receiver listed by several pipelines fans out to all of them; a pipeline with several
 *   exporters fans out to all of them.
 * - Processors are created per pipeline (each pipeline has its own batch, its own dedup window).
 * - Start: exporters, then processors (last to first), then receivers. Shutdown: receivers first
 *   (stop accepting, finish in-flight requests), then processors first to last (each flushes into
 *   the next), then exporters. So every stage can drain into a consumer that is still running.
 * - Data is passed by awaiting `consume`; a rejection (e.g. BackpressureError) travels back to the
 *   receiver. Nothing here queues.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  BackpressureError,
  PermanentError,
  producesOf,
  type ComponentKind,
  type DataType,
  type ConsumeContext,
  type Consumer,
  type CreateSettings,
  type Host,
  type Lifecycle,
  type Processor,
} from './component.js';
import { componentKey, type ComponentConfig, type PipelineConfig, type ResolvedConfig } from './config/config.js';
import { DATA_TYPE_INFO } from './data/types.js';
import type { ServiceMetrics } from './telemetry/metrics.js';
import { DiskBudget } from './storage/budget.js';
import { DurableStage } from './storage/durable-stage.js';
import { dormancyOf } from './output/when.js';
import { LlmCallGate } from './data/llm-call-gate.js';

export interface Node {
  kind: ComponentKind;
  id: string;
  pipeline?: string;
  instance: Lifecycle;
  state: 'created' | 'starting' | 'started' | 'dormant' | 'stopping' | 'stopped' | 'failed';
}

/** One consumer that hands the same data to several, waiting for all. */
export function fanout<T>(consumers: Consumer<T>[]): Consumer<T> {
  if (consumers.length === 1) return consumers[0]!;
  return {
    // Every branch must be served: the union of what they read, or all when one reads all.
    spanAttributes: unionOfSpanAttributes(consumers),
    // Spans may be left out only when every branch ignores them.
    spanSelector: commonSpanSelector(consumers),
    // Not async: nothing keeps `data` referenced while the consumers work.
    consume(data: T, ctx?: ConsumeContext) {
      return Promise.allSettled(consumers.map((c) => c.consume(data, ctx))).then((results) => {
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      });
    },
  };
}

/** A span may be left out only when every branch ignores it: the union of their selectors, or none. */
function commonSpanSelector(consumers: Consumer<unknown>[]): ReadonlySet<string> | undefined {
  const first = consumers[0]?.spanSelector;
  if (consumers.every((c) => c.spanSelector === first)) return first;
  const out = new Set<string>();
  for (const c of consumers) {
    if (c.spanSelector === undefined) return undefined;
    for (const k of c.spanSelector) out.add(k);
  }
  return out;
}

function unionOfSpanAttributes(consumers: Consumer<unknown>[]): ReadonlySet<string> | undefined {
  const out = new Set<string>();
  for (const c of consumers) {
    if (c.spanAttributes === undefined) return undefined;
    for (const k of c.spanAttributes) out.add(k);
  }
  return out;
}

export interface GraphOptions {
  logger: Logger;
  metrics: ServiceMetrics;
  /**
   * Running receivers to keep across a config reload (same id and config): they keep their
   * ports open and are re-pointed at the new pipelines.
   */
  reuseReceivers?: Map<string, ReceiverSlot>;
}

/**
 * The consumer a receiver is given: a switch, so a reload can re-point a running receiver at new
 * pipelines. While paused (during the swap) it refuses with BackpressureError, so the sender
 * retries; nothing is accepted and then dropped. It routes the receiver's main data type; `for`
 * gives the consumer of another type it produces (CreateSettings.nextFor), paused with it.
 */
export class SwitchConsumer implements Consumer<unknown> {
  paused = false;
  private readonly views = new Map<DataType, Consumer<unknown>>();
  constructor(
    /** The pipelines behind each data type; a type absent here goes to no pipeline. */
    public targets: ReadonlyMap<DataType, Consumer<unknown>>,
    readonly main: DataType,
  ) {}
  consume(data: unknown, ctx?: ConsumeContext): Promise<void> {
    return this.route(this.main, data, ctx);
  }
  get connected(): boolean {
    return this.targets.has(this.main);
  }
  get spanAttributes(): ReadonlySet<string> | undefined {
    return this.targets.get(this.main)?.spanAttributes;
  }
  get spanSelector(): ReadonlySet<string> | undefined {
    return this.targets.get(this.main)?.spanSelector;
  }
  /** The consumer of `type` (this switch for the main type). */
  for(type: DataType): Consumer<unknown> {
    if (type === this.main) return this;
    let view = this.views.get(type);
    if (!view) {
      // Reads the targets at each call: a reload replaces them.
      const connected = () => this.targets.has(type);
      view = {
        consume: (data, ctx) => this.route(type, data, ctx),
        get connected() {
          return connected();
        },
      };
      this.views.set(type, view);
    }
    return view;
  }
  private route(type: DataType, data: unknown, ctx?: ConsumeContext): Promise<void> {
    if (this.paused) return Promise.reject(new BackpressureError('configuration reload in progress', 1));
    const target = this.targets.get(type);
    if (!target) return Promise.reject(new PermanentError(`no pipeline takes ${type} from this receiver`));
    return target.consume(data, ctx);
  }
}

export interface ReceiverSlot {
  node: Node;
  input: SwitchConsumer;
  /** The receiver's config, serialised, to tell whether a reload changed it. */
  configKey: string;
}

export class Graph {
  readonly nodes: Node[] = [];
  /** Write-ahead log stages, one per durable pipeline. */
  readonly durable: DurableStage[] = [];
  readonly budget?: DiskBudget;
  private readonly receivers: Node[] = [];
  /** Receiver id → its node and switchable input. */
  readonly receiverSlots = new Map<string, ReceiverSlot>();
  /** Receivers taken over from a previous graph (already running). */
  private readonly reused = new Set<Node>();
  private readonly exporters: Node[] = [];
  /** Processors of each pipeline, in pipeline order. */
  private readonly processors = new Map<string, Node[]>();

  constructor(
    private readonly config: ResolvedConfig,
    private readonly opts: GraphOptions,
  ) {
    const d = config.service.durability;
    if (d.enabled) this.budget = new DiskBudget(d.maxDiskBytes, d.minFreeBytes);
    this.build();
  }

  private settings<C>(c: ComponentConfig, pipeline?: string): CreateSettings<C> {
    const { logger, metrics } = this.opts;
    return {
      id: c.id,
      pipeline,
      config: c.config as C,
      logger: logger.child({ kind: c.kind, component: c.id, ...(pipeline ? { pipeline } : {}) }),
      registry: metrics.registry,
      metrics: metrics.forComponent(c.kind, c.id, pipeline),
      dataDir: join(this.config.service.dataDir, `${c.kind}s`, c.id.replace(/[^A-Za-z0-9._-]/g, '_')),
      instanceId: this.config.service.instanceId,
      storage: { durable: this.config.service.durability.enabled, budget: this.budget },
    };
  }

  /**
   * Where a pipeline's write-ahead log goes: before the first stage that receives a durable type
   * (src/data/types.ts: `llm_calls`, else `meter_events`); -1 for pipelines that carry only spans
   * or logs (forwarding is best-effort).
   * Returns the index of the processor it precedes (processors.length = before the exporters).
   * `logAfter`: indexes of processors that must run before the log (see ProcessorFactory.logAfter):
   * the log goes after the last of them, so a replay bills as they decided the first time.
   */
  static walPosition(types: readonly DataType[], logAfter: readonly number[] = []): number {
    const durable = (t: DataType | undefined) => t !== undefined && DATA_TYPE_INFO[t].durable;
    let at = types.findIndex(durable);
    if (at < 0) return -1;
    for (const k of logAfter) if (k + 1 > at && durable(types[k + 1])) at = k + 1;
    return at;
  }

  private build(): void {
    const exporterConsumers = this.buildExporters();
    const pipelineHeads = new Map<string, Consumer<unknown>>();
    for (const p of this.config.pipelines) pipelineHeads.set(p.name, this.buildPipeline(p, exporterConsumers));
    this.buildReceivers(pipelineHeads);
  }

  /** One instance per exporter id, shared by every pipeline that lists it. */
  private buildExporters(): Map<string, Consumer<unknown>> {
    const exporterConsumers = new Map<string, Consumer<unknown>>();
    for (const c of this.config.components.values()) {
      if (c.kind !== 'exporter' || c.factory.kind !== 'exporter') continue;
      const instance = c.factory.create(this.settings(c));
      const node: Node = { kind: 'exporter', id: c.id, instance, state: 'created' };
      this.exporters.push(node);
      this.nodes.push(node);
      exporterConsumers.set(c.id, instance);
    }
    return exporterConsumers;
  }

  /**
   * A pipeline's processors, built last to first so each is given its consumer, with the
   * write-ahead log and the billing-value gate in their places. Returns the pipeline's head.
   */
  private buildPipeline(p: PipelineConfig, exporterConsumers: ReadonlyMap<string, Consumer<unknown>>): Consumer<unknown> {
    const { config } = this;
    let next: Consumer<unknown> = fanout(p.exporters.map((id) => exporterConsumers.get(id)!));
    const nodes: Node[] = [];
    const walAt = config.service.durability.enabled ? Graph.walPosition(p.types, this.logAfterIndexes(p)) : -1;
    for (let i = p.processors.length; i >= 0; i--) {
      if (i < p.processors.length) {
        const c = config.components.get(componentKey('processor', p.processors[i]!))!;
        if (c.factory.kind !== 'processor') continue;
        const { instance, head } = this.countedProcessor(c, p, i, next);
        next = head;
        nodes.unshift({ kind: 'processor', id: c.id, pipeline: p.name, instance, state: 'created' });
      }
      // The log goes in front of the first stage that receives a durable type, in that type's codec.
      if (i === walAt) {
        const stage = this.durableStage(p, i, next);
        this.durable.push(stage);
        nodes.unshift({ kind: 'processor', id: 'wal', pipeline: p.name, instance: stage, state: 'created' });
        next = stage;
      }
      // Every LLM call, whatever its source, passes the billing-value checks before the log.
      if (i === p.types.indexOf('llm_calls')) {
        next = new LlmCallGate(
          next,
          config.service.billingChecks,
          p.name,
          this.opts.logger.child({ component: 'billing_checks', pipeline: p.name }),
          this.opts.metrics.registry,
        );
      }
    }
    this.processors.set(p.name, nodes);
    this.nodes.push(...nodes);
    return next;
  }

  /** Indexes of the pipeline's processors whose factories ask to run before the log (logAfter). */
  private logAfterIndexes(p: PipelineConfig): number[] {
    return p.processors.flatMap((id, k) => {
      const f = this.config.components.get(componentKey('processor', id))?.factory;
      return f?.kind === 'processor' && f.logAfter ? [k] : [];
    });
  }

  /**
   * Creates processor `i` of pipeline `p` feeding `downstream`, and returns it with the consumer
   * that feeds it: both sides count items (processor incoming/outgoing metrics).
   */
  private countedProcessor(c: ComponentConfig, p: PipelineConfig, i: number, downstream: Consumer<unknown>): { instance: Processor; head: Consumer<unknown> } {
    if (c.factory.kind !== 'processor') throw new Error(`${c.id} is not a processor`);
    const { metrics } = this.opts;
    const outgoing = metrics.core.processorOutgoing.labels({ processor: c.id, pipeline: p.name });
    const countIn = DATA_TYPE_INFO[p.types[i]!].count;
    const countOut = DATA_TYPE_INFO[p.types[i + 1]!].count;
    const counted: Consumer<unknown> = {
      consume(data, ctx) {
        outgoing.inc(countOut(data));
        return downstream.consume(data, ctx);
      },
    };
    const instance = c.factory.create(this.settings(c, p.name), counted) as Processor;
    const incoming = metrics.core.processorIncoming.labels({ processor: c.id, pipeline: p.name });
    const head: Consumer<unknown> = {
      consume(data, ctx) {
        incoming.inc(countIn(data));
        return instance.consume(data, ctx);
      },
      spanAttributes: instance.spanAttributes,
      spanSelector: instance.spanSelector,
    };
    return { instance, head };
  }

  /** The write-ahead log of pipeline `p`, in front of stage `i`, in the codec of the type it receives. */
  private durableStage(p: PipelineConfig, i: number, next: Consumer<unknown>): DurableStage {
    const { config } = this;
    const d = config.service.durability;
    return new DurableStage({
      pipeline: p.name,
      dir: join(config.service.dataDir, 'wal', p.name.replace(/[^A-Za-z0-9._-]/g, '_')),
      next,
      codec: DATA_TYPE_INFO[p.types[i]!].codec,
      logger: this.opts.logger.child({ kind: 'processor', component: 'wal', pipeline: p.name }),
      registry: this.opts.metrics.registry,
      budget: this.budget,
      syncDelayMs: d.syncDelayMs,
      segmentBytes: d.segmentBytes,
      memoryBytes: d.memoryBytes,
      checkpointIntervalMs: d.checkpointIntervalMs,
    });
  }

  /**
   * One instance per receiver id, fanning out to every pipeline that lists it (per data type); a
   * running receiver with the same settings is kept from the previous graph.
   */
  private buildReceivers(pipelineHeads: ReadonlyMap<string, Consumer<unknown>>): void {
    for (const c of this.config.components.values()) {
      if (c.kind !== 'receiver' || c.factory.kind !== 'receiver') continue;
      const targets = this.receiverTargets(c, pipelineHeads);
      const configKey = JSON.stringify(c.config);
      const slot = this.reusableSlot(c, configKey, targets) ?? this.newReceiverSlot(c, configKey, targets);
      this.receiverSlots.set(c.id, slot);
      this.receivers.push(slot.node);
      this.nodes.push(slot.node);
    }
  }

  /** Each pipeline carries one of the receiver's types (types[0], decided by the config loader). */
  private receiverTargets(c: ComponentConfig, pipelineHeads: ReadonlyMap<string, Consumer<unknown>>): Map<DataType, Consumer<unknown>> {
    const targets = new Map<DataType, Consumer<unknown>>();
    if (c.factory.kind !== 'receiver') return targets;
    for (const type of producesOf(c.factory)) {
      const heads = this.config.pipelines.filter((p) => p.receivers.includes(c.id) && p.types[0] === type).map((p) => pipelineHeads.get(p.name)!);
      if (heads.length) targets.set(type, fanout(heads));
    }
    return targets;
  }

  /** Same receiver, same settings, still running: keep it; it is pointed at the new pipelines on activate(). */
  private reusableSlot(c: ComponentConfig, configKey: string, targets: ReadonlyMap<DataType, Consumer<unknown>>): ReceiverSlot | undefined {
    const old = this.opts.reuseReceivers?.get(c.id);
    if (!old || c.factory.kind !== 'receiver') return undefined;
    if (old.configKey !== configKey || old.node.state !== 'started' || old.input.main !== c.factory.produces) return undefined;
    this.pendingTargets.set(c.id, targets);
    this.reused.add(old.node);
    return old;
  }

  private newReceiverSlot(c: ComponentConfig, configKey: string, targets: ReadonlyMap<DataType, Consumer<unknown>>): ReceiverSlot {
    if (c.factory.kind !== 'receiver') throw new Error(`${c.id} is not a receiver`);
    const input = new SwitchConsumer(targets, c.factory.produces);
    const instance = c.factory.create({ ...this.settings(c), nextFor: (type) => input.for(type) }, input);
    return { node: { kind: 'receiver', id: c.id, instance, state: 'created' }, input, configKey };
  }

  private readonly pendingTargets = new Map<string, ReadonlyMap<DataType, Consumer<unknown>>>();

  /** Re-points reused receivers at this graph's pipelines and lets data flow again. */
  activate(): void {
    for (const [id, target] of this.pendingTargets) {
      const slot = this.receiverSlots.get(id)!;
      slot.input.targets = target;
      slot.input.paused = false;
    }
    this.pendingTargets.clear();
  }

  /** Start order: exporters, processors (last first), receivers. On failure, stops what started. */
  async start(host: Host): Promise<void> {
    this.budget?.watchFree(this.config.service.dataDir);
    const order: Node[][] = [
      this.exporters,
      ...this.config.pipelines.map((p) => [...(this.processors.get(p.name) ?? [])].reverse()).flatMap((ns) => ns.map((n) => [n])),
      this.receivers.filter((n) => !this.reused.has(n)),
    ];
    try {
      for (const group of order) {
        await Promise.all(group.map((n) => this.startNode(n, host)));
      }
    } catch (e) {
      await this.shutdown(Date.now() + 5_000, this.reused).catch(() => undefined);
      throw e;
    }
  }

  private async startNode(n: Node, host: Host): Promise<void> {
    n.state = 'starting';
    try {
      await n.instance.start?.(host);
      const labels = { kind: n.kind, id: n.pipeline ? `${n.pipeline}/${n.id}` : n.id };
      if (dormancyOf(n.instance)) {
        n.state = 'dormant';
        this.opts.metrics.core.componentDormant.set(labels, 1);
      } else {
        n.state = 'started';
        this.opts.metrics.core.componentUp.set(labels, 1);
      }
    } catch (e) {
      n.state = 'failed';
      throw new Error(`${n.kind} "${n.id}" failed to start: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Shutdown order: receivers, processors (first to last, per pipeline), exporters, then the
   * write-ahead logs' final checkpoints. Receivers in `keep` stay running (a reload hands them to
   * the next graph); their inputs must be paused by the caller.
   */
  async shutdown(deadline: number, keep: ReadonlySet<Node> = new Set()): Promise<void> {
    const errors: Error[] = [];
    const stop = async (n: Node) => {
      if (n.state === 'stopped' || n.state === 'created') {
        n.state = 'stopped';
        return;
      }
      const wasDormant = n.state === 'dormant';
      n.state = 'stopping';
      try {
        await n.instance.shutdown?.(deadline);
      } catch (e) {
        errors.push(new Error(`${n.kind} "${n.id}" failed to shut down cleanly: ${(e as Error).message}`, { cause: e }));
      }
      n.state = 'stopped';
      if (!wasDormant) this.opts.metrics.core.componentUp.set({ kind: n.kind, id: n.pipeline ? `${n.pipeline}/${n.id}` : n.id }, 0);
    };
    await Promise.all(this.receivers.filter((n) => !keep.has(n)).map(stop));
    await Promise.all(
      [...this.processors.values()].map(async (nodes) => {
        for (const n of nodes) await stop(n);
      }),
    );
    await Promise.all(this.exporters.map(stop));
    // Only now is everything downstream of the logs flushed: persist their final checkpoints.
    await Promise.all(
      this.durable.map((d) =>
        d
          .finalize()
          .catch((e: unknown) => errors.push(new Error(`write-ahead log of pipeline "${d.pipeline}" failed to close: ${(e as Error).message}`, { cause: e }))),
      ),
    );
    this.budget?.stop();
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  allStarted(): boolean {
    return this.nodes.every((n) => n.state === 'started' || n.state === 'dormant');
  }

  /** Receiver slots whose receiver is running, for a reload to hand over. */
  runningReceivers(): Map<string, ReceiverSlot> {
    return new Map([...this.receiverSlots].filter(([, s]) => s.node.state === 'started'));
  }
}
