/**
 * `litellm` processor: `spans` → `llm_calls`. A thin adapter over integrations/litellm: reads each
 * span's layout (LiteLLM v1 in all its placements, LiteLLM OTel v2, other GenAI-convention
 * instrumentations), converts every LLM call to one {@link LlmCall}, fills team and key facts from
 * other spans of the same request, drops duplicates, and counts, logs and shows every span that
 * looks like an LLM call but cannot be billed.
 */
import { join } from 'node:path';
import type { Consumer, ConsumeContext, CreateSettings, InspectEntry, Inspectable, Processor } from '../../src/component.js';
import { instruments, type Instruments } from '../../src/telemetry/declare.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { Span, SpanBatch } from '../../src/data/span.js';
import {
  SPAN_ATTRIBUTES,
  SPAN_SELECTORS,
  classifySpan,
  dedupKey,
  identityOf,
  joinIdentity,
  spanToLlmCall,
  type Identity,
  type Verdict,
} from '../../integrations/litellm/span.js';
import { DedupWindow, type IdBatch } from './dedup.js';
import { DedupJournal } from './journal.js';
import type { LitellmConfig } from './config.js';
import { metadata } from './metadata.js';

/** The kind letters of de-duplication keys (the tag's second word). */
const CALL_ID = 0x63;
const RESPONSE_ID = 0x72;

/** How often the same kind of unbillable span is logged (the count in between is in the log line). */
const UNBILLABLE_LOG_INTERVAL_MS = 60_000;

interface Unbillable {
  reason: string;
  count: number;
  last: { at: string; span: string; traceId: string; spanId: string; detail: string } | null;
}

export class LitellmProcessor implements Processor<SpanBatch>, Inspectable {
  /** Spans end here (they become LLM calls): only these attributes are ever read. */
  readonly spanAttributes = SPAN_ATTRIBUTES;
  /** Spans with none of these attributes produce nothing here: a receiver need not build them (they are counted). */
  readonly spanSelector = SPAN_SELECTORS;
  private readonly dedup: DedupWindow;
  private journal: DedupJournal | null = null;
  private readonly labels: { processor: string; pipeline: string };
  private readonly m: Instruments<typeof metadata.metrics>;
  private warnedDropped = false;
  private readonly unbillable = new Map<string, Unbillable>();
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();
  private readonly totals = { spans: 0, calls: 0, duplicates: 0, layouts: {} as Record<string, number> };

  constructor(
    private readonly config: LitellmConfig,
    private readonly settings: CreateSettings<LitellmConfig>,
    private readonly next: Consumer<LlmCall[]>,
  ) {
    this.dedup = new DedupWindow(config.dedup.window, config.dedup.max_entries);
    this.labels = { processor: settings.id, pipeline: settings.pipeline ?? '' };
    this.m = instruments(settings.registry, metadata.metrics);
  }

  // async without await: a failure to open the journal must be a rejection, as the callers expect.
  // eslint-disable-next-line @typescript-eslint/require-await
  async start(): Promise<void> {
    // With a write-ahead log after this stage, acknowledged calls survive a restart: so do their ids.
    if (!this.settings.storage?.durable || this.dedup.maxEntries <= 0 || this.journal) return;
    this.journal = new DedupJournal(join(this.settings.dataDir, 'dedup.journal'), this.dedup, this.settings.logger, this.settings.storage.budget);
    const restored = this.journal.open();
    if (restored) this.settings.logger.info({ ids: restored }, 'litellm: de-duplication ids restored from the journal');
  }

  // async without await: a failure to flush the journal must be a rejection, as the callers expect.
  // eslint-disable-next-line @typescript-eslint/require-await
  async shutdown(): Promise<void> {
    this.journal?.close();
    this.journal = null;
  }

  /** Pure conversion of one batch, without de-duplication or joins (tests and the benchmark). */
  static convert(batch: SpanBatch): LlmCall[] {
    const out: LlmCall[] = [];
    for (const rs of batch.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const span of ss.spans) {
          const v = classifySpan(span);
          if (v.kind === 'call') out.push(spanToLlmCall(span, v.layout));
        }
    return out;
  }

  /** `spanmeter inspect`: per span, the layout and the call it yields, or why it is not billed. */
  inspect(batch: SpanBatch): InspectEntry[] {
    const spans: Span[] = [];
    for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push(span);
    const verdicts = spans.map((span): Verdict | Error => {
      try {
        return classifySpan(span);
      } catch (e) {
        return e as Error;
      }
    });
    const litellmTraces = new Set(
      spans
        .filter((sp, i) => {
          const v = verdicts[i];
          return !(v instanceof Error) && v!.kind === 'call' && v!.layout !== 'genai';
        })
        .map((sp) => sp.traceId),
    );
    const identities = new Map<string, Identity>();
    spans.forEach((sp, i) => {
      const v = verdicts[i];
      if (v instanceof Error || v!.kind === 'call' || !sp.traceId || identities.has(sp.traceId)) return;
      const id = identityOf(sp);
      if (id) identities.set(sp.traceId, id);
    });
    const seen = new Set<string>();
    return spans.map((span, i): InspectEntry => {
      const item = `span "${span.name}" ${span.traceId || '-'}/${span.spanId || '-'}`;
      const v = verdicts[i]!;
      if (v instanceof Error) return { item, outcome: 'invalid', reason: v.message };
      if (v.kind === 'other')
        return {
          item,
          outcome: 'not billed',
          reason: v.reason === 'not_billed_operation' ? 'not an LLM call (a tool call, guardrail or management operation)' : 'not an LLM call',
        };
      if (v.kind === 'unbillable') return { item, outcome: 'not billed', reason: `${v.reason}: ${v.detail}` };
      if (v.layout === 'genai' && !this.config.genai)
        return { item, outcome: 'not billed', as: v.layout, reason: 'GenAI spans of other instrumentations are off (genai: false)' };
      if (v.layout === 'genai' && litellmTraces.has(span.traceId))
        return { item, outcome: 'not billed', as: v.layout, reason: 'the same call is billed from the LiteLLM span of this trace' };
      const call = spanToLlmCall(span, v.layout);
      const id = identities.get(span.traceId);
      if (id) joinIdentity(call, id);
      const k = dedupKey(call);
      const key = k ? `${k.kind}:${k.value}` : `t:${span.traceId}/${span.spanId}`;
      const dup = seen.has(key);
      seen.add(key);
      const u = call.usage;
      const summary = [
        `${call.callType ?? '?'} ${call.model ?? '?'} (${call.provider ?? '?'})`,
        `id ${call.id}`,
        `tokens ${u.promptTokens} in (${u.cachedReadTokens} cache read, ${u.cacheCreationTokens} cache write) / ${u.completionTokens} out`,
        `team ${call.teamId ?? '-'}, key ${call.keyAlias ?? call.keyHash ?? '-'}`,
        call.error ? `error ${call.error.code ?? '?'} ${call.error.type ?? ''}`.trim() : 'success',
      ].join('; ');
      if (dup)
        return {
          item,
          outcome: 'duplicate',
          as: v.layout,
          reason: `a duplicate of an earlier span of the same call (${key.startsWith('c:') ? 'LiteLLM call id' : key.startsWith('r:') ? 'response id' : 'trace and span id'})`,
          summary,
          record: call,
        };
      return { item, outcome: 'billed', as: v.layout, summary, record: call };
    });
  }

  /** What `spanmeter status` and the status page show for this processor. */
  status(): Record<string, unknown> {
    return {
      spans: this.totals.spans,
      calls: this.totals.calls,
      duplicates: this.totals.duplicates,
      layouts: { ...this.totals.layouts },
      unbillable: Object.fromEntries([...this.unbillable].map(([k, u]) => [k, { count: u.count, last: u.last }])),
    };
  }

  /** Not async: the span batch is converted now and not kept referenced while downstream works. */
  consume(batch: SpanBatch, ctx?: ConsumeContext): Promise<void> {
    const spans: Span[] = [];
    for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push(span);
    // First pass: what each span is, which traces have a LiteLLM call, and identity on other spans.
    const verdicts: (Verdict | null)[] = new Array<Verdict | null>(spans.length);
    let litellmTraces: Set<string> | null = null;
    let others: Map<string, Span[]> | null = null;
    let invalid = 0;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      let v: Verdict;
      try {
        v = classifySpan(span);
      } catch (err) {
        verdicts[i] = null;
        invalid++;
        this.settings.logger.warn({ err, traceId: span.traceId, spanId: span.spanId }, 'litellm: cannot read a span; dropped');
        continue;
      }
      verdicts[i] = v;
      if (v.kind === 'call') {
        if (v.layout !== 'genai') (litellmTraces ??= new Set()).add(span.traceId);
      } else if (span.traceId) {
        // Other spans of the request may state team and key facts: read only when a call lacks them.
        others ??= new Map();
        const list = others.get(span.traceId);
        if (list) list.push(span);
        else others.set(span.traceId, [span]);
      }
    }
    const identities = new Map<string, Identity | null>();
    const identityFor = (traceId: string): Identity | null => {
      let id = identities.get(traceId);
      if (id !== undefined) return id;
      id = null;
      for (const sp of others?.get(traceId) ?? []) {
        let found: Identity | null = null;
        try {
          found = identityOf(sp);
        } catch {
          // A span of the request whose identity cannot be read: nothing to join from it.
        }
        if (found === null) continue;
        if (id === null) id = found;
        else for (const k in found) if (id[k as keyof Identity] === null) (id as unknown as Record<string, unknown>)[k] = found[k as keyof Identity];
      }
      identities.set(traceId, id);
      return id;
    };

    // The calls' ids, parsed once: duplicates within the batch, the window's lookup, and (once
    // downstream accepted the calls) the window's new entries.
    const ids = this.dedup.batch(spans.length);
    const calls: LlmCall[] = [];
    let odd: Set<string> | null = null;
    // Spans the receiver left out: not LLM calls (see spanSelector), counted as if examined here.
    const omitted = batch.omitted?.valid ?? 0;
    let other = omitted;
    let notBilled = 0;
    let duplicates = 0;
    let nested = 0;
    let genaiOff = 0;
    let joined = 0;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      const v = verdicts[i];
      if (v === null || v === undefined) continue;
      if (v.kind === 'other') {
        if (v.reason === 'not_billed_operation') notBilled++;
        else other++;
        continue;
      }
      if (v.kind === 'unbillable') {
        this.noteUnbillable(v.reason, span, v.detail);
        continue;
      }
      if (v.layout === 'genai') {
        if (!this.config.genai) {
          genaiOff++;
          continue;
        }
        // The same call seen twice: by LiteLLM, and by an instrumentation of the client it called.
        if (litellmTraces?.has(span.traceId)) {
          nested++;
          continue;
        }
      }
      let call: LlmCall;
      try {
        call = spanToLlmCall(span, v.layout);
      } catch (err) {
        invalid++;
        this.settings.logger.warn({ err, traceId: span.traceId, spanId: span.spanId }, 'litellm: cannot convert an LLM-call span; dropped');
        continue;
      }
      // One id per call: its key (a success's call id or response id), else its (traceId, spanId).
      // Spans without ids (invalid, but seen) are never treated as duplicates of each other.
      const key = dedupKey(call);
      if (key !== null) {
        ids.stageKey(key.kind === 'c' ? CALL_ID : RESPONSE_ID, key.value);
        if (ids.stagedSeen() || this.dedup.hasAt(ids.words, ids.staged)) {
          duplicates++;
          continue;
        }
        ids.add();
      } else if (span.traceId && span.spanId) {
        if (ids.stage(span.traceId, span.spanId)) {
          if (ids.stagedSeen() || this.dedup.hasAt(ids.words, ids.staged)) {
            duplicates++;
            continue;
          }
          ids.add();
        } else {
          const oddKey = `${span.traceId}/${span.spanId}`;
          if (odd?.has(oddKey)) {
            duplicates++;
            continue;
          }
          (odd ??= new Set()).add(oddKey);
        }
      }
      if (others !== null && span.traceId && (call.teamId === null || call.keyHash === null || call.keyAlias === null)) {
        const id = identityFor(span.traceId);
        if (id !== null && joinIdentity(call, id)) joined++;
      }
      if (span.droppedAttributesCount > 0) this.noteDroppedAttributes(span);
      calls.push(call);
    }
    this.m.spansSeen.inc(this.labels, spans.length + omitted);
    this.totals.spans += spans.length + omitted;
    this.totals.duplicates += duplicates;
    const m = this.settings.metrics;
    if (other) m.dropped(other, 'not_llm_call');
    if (notBilled) m.dropped(notBilled, 'not_billed_operation');
    if (duplicates) m.dropped(duplicates, 'duplicate');
    if (invalid) m.dropped(invalid, 'invalid');
    if (nested) m.dropped(nested, 'nested_genai_span');
    if (genaiOff) m.dropped(genaiOff, 'genai_disabled');
    if (joined) this.m.identityJoined.inc(this.labels, joined);
    if (!calls.length) return Promise.resolve();
    return this.forward(calls, ids, ctx);
  }

  private async forward(calls: LlmCall[], ids: IdBatch, ctx?: ConsumeContext): Promise<void> {
    await this.next.consume(calls, ctx);
    // Remember ids only once downstream accepted them: a refused batch must pass when retried.
    this.dedup.addBatch(ids);
    this.journal?.append(ids, Date.now());
    this.m.callsOut.inc(this.labels, calls.length);
    this.totals.calls += calls.length;
    // Counted per layout once per batch (a batch's calls nearly always share one layout).
    let layout = calls[0]!.layout ?? 'unknown';
    let n = 0;
    for (const c of calls) {
      const l = c.layout ?? 'unknown';
      if (l !== layout) {
        this.countLayout(layout, n);
        layout = l;
        n = 0;
      }
      n++;
    }
    this.countLayout(layout, n);
  }

  private countLayout(layout: string, n: number): void {
    this.totals.layouts[layout] = (this.totals.layouts[layout] ?? 0) + n;
    this.m.byLayout.inc({ processor: this.labels.processor, pipeline: this.labels.pipeline, layout }, n);
  }

  private noteDroppedAttributes(span: Span): void {
    this.m.droppedAttrSpans.inc(this.labels);
    if (this.warnedDropped) return;
    this.warnedDropped = true;
    this.settings.logger.warn(
      { traceId: span.traceId, spanId: span.spanId, droppedAttributesCount: span.droppedAttributesCount },
      'litellm: an LLM-call span lost attributes to the SDK limit (metadata.* such as key alias or team may be missing); raise OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT or turn off message logging in LiteLLM. Logged once; see spanmeter_litellm_spans_with_dropped_attributes_total',
    );
  }

  /** Counts, remembers for the status page and logs (rate-limited) a span that cannot be billed. */
  private noteUnbillable(reason: string, span: Span, detail: string): void {
    this.m.unbillableSpans.inc({ ...this.labels, reason });
    this.settings.metrics.dropped(1, reason);
    const u = this.unbillable.get(reason) ?? { reason, count: 0, last: null };
    u.count++;
    u.last = { at: new Date().toISOString(), span: span.name, traceId: span.traceId, spanId: span.spanId, detail };
    this.unbillable.set(reason, u);
    const now = Date.now();
    const logged = this.lastLogged.get(reason);
    if (logged && now - logged.at < UNBILLABLE_LOG_INTERVAL_MS) {
      logged.suppressed++;
      return;
    }
    this.lastLogged.set(reason, { at: now, suppressed: 0 });
    this.settings.logger.warn(
      { reason, span: span.name, traceId: span.traceId, spanId: span.spanId, similarSinceLastLog: logged?.suppressed ?? 0 },
      `litellm: a span that looks like an LLM call was not billed: ${detail} (span "${span.name}"); see spanmeter_litellm_unbillable_spans_total. At most one such line per reason a minute`,
    );
  }
}
