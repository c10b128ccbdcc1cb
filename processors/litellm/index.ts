/**
 * `litellm` processor: `spans` → `llm_calls`. Selects LiteLLM's LLM-call spans by the presence of
 * `llm.request.type` (docs/mapping.md, "Which spans bill"), converts each to one {@link LlmCall}, drops exact
 * duplicates within a bounded (traceId, spanId) window, and counts everything else.
 */
import { Counter, type Registry } from 'prom-client';
import type { Consumer, ConsumeContext, CreateSettings, Processor } from '../../src/component.js';
import { defineFactory } from '../../src/component.js';
import { durationSchema, parseDuration } from '../../src/config/duration.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { SpanBatch } from '../../src/data/span.js';
import { LLM_CALL_ATTRIBUTE, SPAN_ATTRIBUTES, isLlmCallSpan, spanToLlmCall } from './convert.js';
import { DedupWindow, type IdBatch } from './dedup.js';

export interface LitellmConfig {
  dedup: {
    window: string;
    max_entries: number;
  };
}

const configSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Turns LiteLLM OTel spans into normalised LLM-call records.',
  properties: {
    dedup: {
      type: 'object',
      additionalProperties: false,
      description: 'De-duplication of spans by (traceId, spanId): drops LiteLLM duplicates and OTLP retry re-sends.',
      properties: {
        window: { ...durationSchema, description: 'How long a (traceId, spanId) is remembered, e.g. "10m".' },
        max_entries: {
          type: 'integer',
          minimum: 0,
          description: 'At most this many ids are remembered (oldest forgotten first; 0 disables de-duplication). About 100 bytes each.',
        },
      },
    },
  },
};

function metric(registry: Registry, name: string, help: string): Counter<'processor' | 'pipeline'> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'processor' | 'pipeline'>;
  return new Counter({ name, help, labelNames: ['processor', 'pipeline'], registers: [registry] });
}

export class LitellmProcessor implements Processor<SpanBatch> {
  /** Spans end here (they become LLM calls): only these attributes are ever read. */
  readonly spanAttributes = SPAN_ATTRIBUTES;
  /** Spans without `llm.request.type` produce nothing here: a receiver need not build them (they are counted). */
  readonly spanSelector = LLM_CALL_ATTRIBUTE;
  private readonly dedup: DedupWindow;
  private readonly labels: { processor: string; pipeline: string };
  private readonly spansSeen: Counter<'processor' | 'pipeline'>;
  private readonly callsOut: Counter<'processor' | 'pipeline'>;
  private readonly droppedAttrSpans: Counter<'processor' | 'pipeline'>;
  private warnedDropped = false;

  constructor(
    private readonly settings: CreateSettings<LitellmConfig>,
    private readonly next: Consumer<LlmCall[]>,
  ) {
    const c = settings.config.dedup;
    this.dedup = new DedupWindow(parseDuration(c.window), c.max_entries);
    this.labels = { processor: settings.id, pipeline: settings.pipeline ?? '' };
    this.spansSeen = metric(settings.registry, 'spanmeter_litellm_spans_seen_total', 'Spans the litellm processor examined (billing or not).');
    this.callsOut = metric(settings.registry, 'spanmeter_litellm_llm_calls_total', 'LLM calls the litellm processor emitted.');
    this.droppedAttrSpans = metric(
      settings.registry,
      'spanmeter_litellm_spans_with_dropped_attributes_total',
      'LLM-call spans with droppedAttributesCount > 0 (LiteLLM evicted attributes; metadata.* may be missing).',
    );
  }

  /** Pure conversion of one batch, without de-duplication (used by tests and the benchmark). */
  static convert(batch: SpanBatch): LlmCall[] {
    const out: LlmCall[] = [];
    for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) if (isLlmCallSpan(span)) out.push(spanToLlmCall(span));
    return out;
  }

  /** Not async: the span batch is converted now and not kept referenced while downstream works. */
  consume(batch: SpanBatch, ctx?: ConsumeContext): Promise<void> {
    const calls: LlmCall[] = [];
    let spans = 0;
    for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length;
    // The calls' ids, parsed once: duplicates within the batch, the window's lookup, and (once
    // downstream accepted the calls) the window's new entries. Ids of another shape than the
    // decoders give (never remembered by the window) are told apart within the batch by key.
    const ids = this.dedup.batch(spans);
    let odd: Set<string> | null = null;
    // Spans the receiver left out: not LLM calls (see spanSelector), counted as if examined here.
    let seen = batch.omitted?.valid ?? 0;
    let other = seen;
    let duplicates = 0;
    let invalid = 0;
    for (const rs of batch.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          seen++;
          if (!isLlmCallSpan(span)) {
            other++;
            continue;
          }
          // Spans without ids (invalid, but seen) are never treated as duplicates of each other.
          let staged = false;
          let oddKey: string | null = null;
          if (span.traceId && span.spanId) {
            if (ids.stage(span.traceId, span.spanId)) {
              staged = true;
              if (ids.stagedSeen() || this.dedup.hasAt(ids.words, ids.staged)) {
                duplicates++;
                continue;
              }
            } else {
              oddKey = `${span.traceId}/${span.spanId}`;
              if (odd?.has(oddKey)) {
                duplicates++;
                continue;
              }
            }
          }
          let call: LlmCall;
          try {
            call = spanToLlmCall(span);
          } catch (err) {
            invalid++;
            this.settings.logger.warn({ err, traceId: span.traceId, spanId: span.spanId }, 'litellm: cannot convert an LLM-call span; dropped');
            continue;
          }
          if (staged) ids.add();
          else if (oddKey !== null) (odd ??= new Set()).add(oddKey);
          if (span.droppedAttributesCount > 0) {
            this.droppedAttrSpans.inc(this.labels);
            if (!this.warnedDropped) {
              this.warnedDropped = true;
              this.settings.logger.warn(
                { traceId: span.traceId, spanId: span.spanId, droppedAttributesCount: span.droppedAttributesCount },
                'litellm: an LLM-call span lost attributes to the SDK limit (metadata.* such as key alias or team may be missing); raise OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT or turn off message logging in LiteLLM. Logged once; see spanmeter_litellm_spans_with_dropped_attributes_total',
              );
            }
          }
          calls.push(call);
        }
      }
    }
    this.spansSeen.inc(this.labels, seen);
    if (other) this.settings.metrics.dropped(other, 'not_llm_call');
    if (duplicates) this.settings.metrics.dropped(duplicates, 'duplicate');
    if (invalid) this.settings.metrics.dropped(invalid, 'invalid');
    if (!calls.length) return Promise.resolve();
    return this.forward(calls, ids, ctx);
  }

  private async forward(calls: LlmCall[], ids: IdBatch, ctx?: ConsumeContext): Promise<void> {
    await this.next.consume(calls, ctx);
    // Remember ids only once downstream accepted them: a refused batch must pass when retried.
    this.dedup.addBatch(ids);
    this.callsOut.inc(this.labels, calls.length);
  }
}

export default defineFactory({
  kind: 'processor',
  type: 'litellm',
  description: 'LiteLLM OTel spans → one normalised LLM-call record per call (selects spans by llm.request.type; de-duplicates).',
  stability: 'beta',
  consumes: 'spans',
  produces: 'llm_calls',
  configSchema,
  defaultConfig: (): LitellmConfig => ({ dedup: { window: '10m', max_entries: 100_000 } }),
  create: (settings: CreateSettings<LitellmConfig>, next: Consumer<LlmCall[]>) => new LitellmProcessor(settings, next),
});
