import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { BackpressureError, type CreateSettings } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import { newAttributes, type AttrValue, type Attributes, type Span, type SpanBatch } from '../../src/data/span.js';
import { decodeOtlpProto, encodeOtlpProto } from '../../src/otlp/index.js';
import { fromOtlpJson } from '../../src/otlp/json.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import { repoRoot } from '../../test/helpers/paths.js';
import { configOf } from '../../src/config/component-config.js';
import factory from './index.js';
import { LitellmProcessor } from './litellm.js';
import type { LitellmConfig } from './config.js';
import { DedupWindow } from './dedup.js';
import { SPAN_ATTRIBUTES, SPAN_SELECTORS, isLlmCallSpan, spanToLlmCall } from '../../integrations/litellm/span.js';
import { requestPath } from '../../integrations/litellm/testdata/fixtures.js';
import { unbillableRequest } from '../../test/helpers/litellm-spans.js';

const FIX = join(repoRoot(), 'test', 'fixtures', 'litellm');
const fixture = (name: string): SpanBatch => fromOtlpJson(JSON.parse(readFileSync(join(FIX, name), 'utf8')));
const one = (name: string): LlmCall => {
  const calls = LitellmProcessor.convert(fixture(name));
  assert.equal(calls.length, 1, `${name} holds one LLM call`);
  return calls[0]!;
};

/** A processor with `config` (keys as in pipeline.yaml) on top of the defaults. */
function harness(config: Record<string, unknown> = {}) {
  const metrics = new ServiceMetrics('test', { processMetrics: false });
  const logs: unknown[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => logs.push(JSON.parse(s)) });
  const received: LlmCall[][] = [];
  let refuse = 0;
  const settings: CreateSettings<LitellmConfig> = {
    id: 'litellm',
    pipeline: 'p',
    config: configOf(factory, config),
    logger,
    registry: metrics.registry,
    metrics: metrics.forComponent('processor', 'litellm', 'p'),
    dataDir: '/nonexistent',
    instanceId: 'test',
  };
  const proc = factory.create(settings, {
    consume: async (calls: LlmCall[]) => {
      if (refuse > 0) {
        refuse--;
        throw new BackpressureError('busy');
      }
      received.push(calls);
    },
  }) as LitellmProcessor;
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const m = await metrics.registry.getSingleMetric(name)!.get();
    return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
  };
  return { proc, received, logs, value, refuseNext: (n: number) => (refuse = n) };
}

describe('litellm processor: span selection and layouts', () => {
  it('v1.79 child layout: only litellm_request bills; root and postgres are counted, not emitted', async () => {
    const h = harness();
    await h.proc.consume(fixture('openai-cached-tokens.v1.79.otlp.json'));
    assert.equal(h.received.flat().length, 1);
    assert.equal(await h.value('spanmeter_litellm_spans_seen_total'), 3);
    assert.equal(await h.value('spanmeter_litellm_llm_calls_total'), 1);
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'not_llm_call' }), 2);
  });

  it('spans a receiver left out (spanSelector) are counted as examined and not LLM calls', async () => {
    const h = harness();
    assert.equal(h.proc.spanSelector, SPAN_SELECTORS);
    const batch = fixture('openai-cached-tokens.v1.79.otlp.json');
    // As the OTLP receiver hands it over when it builds only the LLM-call spans.
    const only: SpanBatch = {
      resourceSpans: batch.resourceSpans.map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.map((ss) => ({ ...ss, spans: ss.spans.filter(isLlmCallSpan) })) })),
      omitted: { valid: 2, invalid: 0 },
    };
    await h.proc.consume(only);
    assert.equal(h.received.flat().length, 1);
    assert.equal(await h.value('spanmeter_litellm_spans_seen_total'), 3);
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'not_llm_call' }), 2);
  });

  it('v1.81 root layout with input/output token names', () => {
    const c = one('anthropic-cache.v1.81.otlp.json');
    assert.equal(c.usage.promptTokens, 6200);
    assert.equal(c.usage.completionTokens, 310);
    assert.equal(c.usage.totalTokens, 6510);
    assert.equal(c.callType, 'acompletion');
    assert.equal(c.provider, 'anthropic');
  });
});

describe('litellm processor: fixtures', () => {
  it('OpenAI cached tokens from metadata.usage_object', () => {
    const c = one('openai-cached-tokens.v1.79.otlp.json');
    assert.deepEqual(c.usage, {
      promptTokens: 1534,
      completionTokens: 58,
      totalTokens: 1592,
      cachedReadTokens: 1280,
      cacheCreationTokens: 0,
      reasoningTokens: 0,
    });
    assert.equal(c.id, 'chatcmpl-FixCached0001');
    assert.equal(c.modelMapKey, 'gpt-4o-mini-2024-07-18');
    assert.equal(c.modelMapProvider, 'openai');
    assert.deepEqual(c.keyMetadata, { business_unit_id: 'bu-emea-01', cost_center: 'cc-1042' });
    assert.equal(c.keyAlias, 'acme-prod-key');
    assert.equal(c.teamId, '7f3c1a52-9d0e-4b7a-a1c4-2f6e8d9b0c31');
    assert.equal(c.teamAlias, 'search-platform');
    assert.equal(c.userId, 'user-42');
    assert.equal(c.orgId, null, '"" means null');
    assert.equal(c.apiBase, 'https://api.openai.com');
    assert.equal(c.modelId, 'd1f0c2b9-4e5a-41c3-a1f0-e6b2d8c9a7e1');
    assert.equal(c.responseCost, 0.0001689);
    assert.equal(c.startTimeUnixNano, '1762942530123456000');
    assert.equal(c.startTimeMs, 1762942530123);
    assert.equal(c.durationMs, 1864);
    assert.equal(c.error, null);
    assert.equal(c.n, null);
    assert.equal(c.source, 'span');
  });

  it('Anthropic cache creation and read tokens', () => {
    const c = one('anthropic-cache.v1.81.otlp.json');
    assert.equal(c.usage.cachedReadTokens, 4096);
    assert.equal(c.usage.cacheCreationTokens, 2048);
    assert.equal(c.teamId, null);
  });

  it('reasoning tokens', () => {
    const c = one('openai-reasoning.v1.81.otlp.json');
    assert.equal(c.usage.reasoningTokens, 768);
    assert.equal(c.usage.completionTokens, 900);
  });

  it('streaming', () => {
    assert.equal(one('openai-streaming.v1.79.otlp.json').stream, true);
    assert.equal(one('openai-cached-tokens.v1.79.otlp.json').stream, false);
  });

  it('Batch API: batch flag, uniqueId falls back to <traceId>-<spanId>', () => {
    const batch = fixture('openai-batch.v1.79.otlp.json');
    const span = batch.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)).find((s) => s.name === 'litellm_request')!;
    const c = one('openai-batch.v1.79.otlp.json');
    assert.equal(c.batch, true);
    assert.equal(c.callType, 'aretrieve_batch');
    assert.equal(c.id, `${span.traceId}-${span.spanId}`);
    assert.match(c.id, /^[0-9a-f]{32}-[0-9a-f]{16}$/);
  });

  it('Azure, Vertex and Bedrock api_base are kept for the region rule', () => {
    assert.equal(one('azure-region.v1.79.otlp.json').apiBase, 'https://acme-eastus2.openai.azure.com/');
    assert.match(one('vertex-region.v1.81.otlp.json').apiBase!, /^https:\/\/europe-west4-aiplatform\.googleapis\.com\//);
    assert.match(one('bedrock-region.v1.79.otlp.json').apiBase!, /eu-central-1/);
  });

  it('128-attribute span with evicted metadata: still billed, flagged, counted and logged once', async () => {
    const h = harness();
    const c = one('evicted-metadata-128.v1.79.otlp.json');
    assert.equal(c.droppedAttributes, 23);
    assert.equal(c.keyAlias, null);
    assert.equal(c.keyMetadata, null);
    assert.equal(c.usage.promptTokens, 18000, 'usage attributes survive eviction');
    await h.proc.consume(fixture('evicted-metadata-128.v1.79.otlp.json'));
    const again = fixture('evicted-metadata-128.v1.79.otlp.json');
    // a different span id, so it is not a duplicate
    const s = again.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)).find((x) => x.name === 'litellm_request')!;
    (s as { spanId: string }).spanId = '00000000000000aa';
    s.attributes['gen_ai.response.id'] = 'chatcmpl-another-call';
    await h.proc.consume(again);
    assert.equal(h.received.flat().length, 2);
    assert.equal(await h.value('spanmeter_litellm_spans_with_dropped_attributes_total'), 2);
    const warnings = h.logs.filter((l) => String((l as { msg?: string }).msg).includes('lost attributes'));
    assert.equal(warnings.length, 1, 'logged once');
  });

  it('non-literal metadata falls back to the raw string; literals with escapes and tuples decode', () => {
    const c = one('non-literal-metadata.v1.79.otlp.json');
    assert.deepEqual(c.keyMetadata, { business_unit_id: "bu-'quoted'", tags: ['a', 'b'], ok: true, none: null, rate: 1e-5, nested: { x: [1, 2.5, -3] } });
    assert.equal(c.usage.promptTokens, 12);
  });

  it('v1.81 failed call: uniqueId from litellm.call_id, error fields', () => {
    const c = one('call-id-error.v1.81.otlp.json');
    assert.equal(c.id, '4b1c7f0e-2d8a-4f6b-9e3c-5a7d9b1e3f20');
    assert.deepEqual(
      { ...c.error, traceback: c.error?.traceback?.slice(0, 9) },
      {
        type: 'RateLimitError',
        code: '429',
        message:
          'litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 500, Used 500, Requested 1.',
        provider: 'openai',
        traceback: 'Traceback',
        limitSubject: 'provider',
        limitRate: 'rpm',
        limitValue: '500',
        guardrail: null,
      },
    );
    assert.equal(c.callId, '4b1c7f0e-2d8a-4f6b-9e3c-5a7d9b1e3f20');
    assert.equal(c.modelMapKey, null);
    assert.equal(c.apiBase, null);
    assert.equal(c.teamId, 'team-c');
  });
});

describe('litellm processor: de-duplication', () => {
  it('drops exact duplicates within a batch and across batches, counted as duplicate', async () => {
    const h = harness();
    const b = fixture('openai-streaming.v1.79.otlp.json');
    const doubled: SpanBatch = { resourceSpans: [...b.resourceSpans, ...b.resourceSpans] };
    await h.proc.consume(doubled);
    await h.proc.consume(fixture('openai-streaming.v1.79.otlp.json'));
    assert.equal(h.received.flat().length, 1);
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'duplicate' }), 2);
  });

  it('ids of another shape than the decoders give: duplicates dropped within a batch, never remembered across batches', async () => {
    const h = harness();
    let responses = 0;
    const upper = () => {
      const b = fixture('openai-streaming.v1.79.otlp.json');
      for (const rs of b.resourceSpans) for (const ss of rs.scopeSpans) for (const sp of ss.spans) Object.assign(sp, { traceId: sp.traceId.toUpperCase() });
      // A response id of its own each time: only the (traceId, spanId) pair is the same.
      for (const rs of b.resourceSpans)
        for (const ss of rs.scopeSpans) for (const sp of ss.spans) if (isLlmCallSpan(sp)) sp.attributes['gen_ai.response.id'] = `chatcmpl-${++responses}`;
      return b;
    };
    const b = upper();
    await h.proc.consume({ resourceSpans: [...b.resourceSpans, ...b.resourceSpans] });
    assert.equal(h.received.flat().length, 1);
    await h.proc.consume(upper());
    assert.equal(h.received.flat().length, 2, 'not remembered by the window (as before ids were parsed)');
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'duplicate' }), 1);
  });

  it('a call whose conversion fails leaves no id behind: an equal id later in the batch is kept', async () => {
    const h = harness();
    const b = fixture('openai-streaming.v1.79.otlp.json');
    const bad = structuredClone(b);
    // A throwing attribute getter makes spanToLlmCall throw for the first copy only.
    for (const rs of bad.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const sp of ss.spans)
          if (isLlmCallSpan(sp))
            Object.defineProperty(sp.attributes, 'hidden_params', {
              get() {
                throw new Error('boom');
              },
            });
    await h.proc.consume({ resourceSpans: [...bad.resourceSpans, ...b.resourceSpans] });
    assert.equal(h.received.flat().length, 1);
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'invalid' }), 1);
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'duplicate' }), 0);
  });

  it('a batch refused downstream is not remembered, so the retry passes', async () => {
    const h = harness();
    h.refuseNext(1);
    await assert.rejects(h.proc.consume(fixture('openai-streaming.v1.79.otlp.json')), BackpressureError);
    await h.proc.consume(fixture('openai-streaming.v1.79.otlp.json'));
    assert.equal(h.received.flat().length, 1);
  });

  it('spans without ids are never de-duplicated against each other', async () => {
    const h = harness();
    const b = fixture('openai-streaming.v1.79.otlp.json');
    for (const rs of b.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) Object.assign(s, { traceId: '', spanId: '' });
    const c = structuredClone(b);
    for (const rs of c.resourceSpans)
      for (const ss of rs.scopeSpans) for (const s of ss.spans) if (isLlmCallSpan(s)) s.attributes['gen_ai.response.id'] = 'chatcmpl-FixStreaming02';
    await h.proc.consume({ resourceSpans: [...b.resourceSpans, ...c.resourceSpans] });
    assert.equal(h.received.flat().length, 2);
    assert.equal(h.received.flat()[0]?.id, 'chatcmpl-FixStreaming01');
  });

  it('config: the defaults, and the window reaches the code in milliseconds', () => {
    assert.deepEqual(configOf(factory), { dedup: { window: 600_000, max_entries: 100_000 }, genai: true });
    assert.deepEqual(configOf(factory, { dedup: { window: '1m30s' } }).dedup, { window: 90_000, max_entries: 100_000 });
    assert.throws(() => configOf(factory, { dedup: { window: 600 } }), /dedup\.window: must be string/);
  });

  it('max_entries 0 disables de-duplication', async () => {
    const h = harness({ dedup: { window: '10m', max_entries: 0 } });
    await h.proc.consume(fixture('openai-streaming.v1.79.otlp.json'));
    await h.proc.consume(fixture('openai-streaming.v1.79.otlp.json'));
    assert.equal(h.received.flat().length, 2);
  });

  it('ids made to collide do not pile up in one probe run (seeded hash)', () => {
    // Under the earlier hash, which read only (trace word 0 ^ span word 0) and (trace word 3 ^ span
    // word 1), all of these shared one home slot, so each lookup walked all the others.
    const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
    const keys = Array.from({ length: 5000 }, (_, i) => `${hex8(i)}${'0'.repeat(24)}/${hex8(0x5bd1e995 ^ i)}${hex8(0x1b873593)}`);
    for (const seed of [0, 12345, 0xffffffff]) {
      const w = new DedupWindow(60_000, 100_000, () => 0, seed);
      w.addAll(keys);
      assert.equal(w.size, 5000);
      assert.ok(w.longestRun() < 64, `seed ${seed}: a probe run of ${w.longestRun()} slots`);
      assert.ok(keys.every((k) => w.has(k)));
    }
  });

  it('the window is bounded by size and by time', () => {
    let now = 0;
    const w = new DedupWindow(1000, 3, () => now);
    const id = (c: string) => `${c.repeat(32)}/${c.repeat(16)}`;
    const [a, b, c, d, e, f, g, h] = ['a', 'b', 'c', 'd', 'e', 'f', '0', '1'].map(id);
    for (const k of [a, b, c, d]) w.add(k!);
    assert.equal(w.size, 3);
    assert.equal(w.has(a!), false, 'oldest evicted by size');
    assert.equal(w.has(d!), true);
    now = 1500;
    assert.equal(w.has(d!), false, 'expired by time');
    w.add(e!);
    assert.equal(w.size, 1);
    w.addAll([f!, g!, e!, h!]); // e again: moved to the newest, so f is the oldest
    assert.deepEqual(
      [e, f, g, h].map((k) => w.has(k!)),
      [true, false, true, true],
    );
    w.add('not/an-id');
    assert.equal(w.has('not/an-id'), false, 'other key shapes are never remembered (as spans without ids)');
  });

  it('the window answers exactly as a plain Map model would (property; ids in a typed-array table)', () => {
    /** The straightforward implementation (the one before the typed-array table). */
    class Model {
      readonly seen = new Map<string, number>();
      constructor(
        readonly windowMs: number,
        readonly max: number,
        readonly now: () => number,
      ) {}
      has(k: string): boolean {
        if (!/^[0-9a-f]{32}\/[0-9a-f]{16}$/.test(k)) return false; // never remembered
        const t = this.seen.get(k);
        if (t === undefined) return false;
        if (this.now() - t > this.windowMs) {
          this.seen.delete(k);
          return false;
        }
        return true;
      }
      addAll(keys: string[]): void {
        if (this.max <= 0 || !keys.length) return;
        const now = this.now();
        for (const k of keys) {
          if (!/^[0-9a-f]{32}\/[0-9a-f]{16}$/.test(k)) continue;
          this.seen.delete(k);
          this.seen.set(k, now);
        }
        for (const [k, t] of this.seen) {
          if (this.seen.size > this.max || now - t > this.windowMs) this.seen.delete(k);
          else break;
        }
      }
    }
    const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
    // Real-shaped keys that share span ids or trace ids (so hashes collide), a few upper-case ones, and odd keys.
    const key = fc.oneof(
      { weight: 8, arbitrary: fc.tuple(fc.nat({ max: 5 }), fc.nat({ max: 5 })).map(([t, s]) => `${hex(t * 7919, 32)}/${hex(s * 104729, 16)}`) },
      { weight: 1, arbitrary: fc.nat({ max: 3 }).map((t) => `${hex(t, 32).toUpperCase()}/${'ab'.repeat(8)}`) },
      { weight: 1, arbitrary: fc.constantFrom('a', 'x/y', `${'g'.repeat(32)}/${'0'.repeat(16)}`) },
    );
    const op = fc.oneof(
      fc.record({ t: fc.constant('add' as const), keys: fc.array(key, { minLength: 1, maxLength: 6 }) }),
      // As the processor adds a batch: ids parsed from the two strings, the first of equal ids kept.
      fc.record({ t: fc.constant('batch' as const), keys: fc.array(key, { minLength: 1, maxLength: 6 }) }),
      fc.record({ t: fc.constant('has' as const), key }),
      fc.record({ t: fc.constant('hasIds' as const), key }),
      fc.record({ t: fc.constant('tick' as const), ms: fc.nat({ max: 60 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 100 }), fc.array(op, { maxLength: 120 }), (max, windowMs, ops) => {
        let now = 1_000;
        const w = new DedupWindow(windowMs, max, () => now);
        const m = new Model(windowMs, max, () => now);
        for (const o of ops) {
          if (o.t === 'tick') now += o.ms;
          else if (o.t === 'add') {
            w.addAll(o.keys);
            m.addAll(o.keys);
          } else if (o.t === 'batch') {
            const ids = w.batch(o.keys.length);
            for (const k of o.keys) {
              const [t = '', sp = ''] = k.split('/');
              if (ids.stage(t, sp) && !ids.stagedSeen()) ids.add();
            }
            w.addBatch(ids);
            m.addAll([...new Set(o.keys)].filter((k) => /^[0-9a-f]{32}\/[0-9a-f]{16}$/.test(k))); // the others never reach the window
          } else if (o.t === 'hasIds') {
            const ids = w.batch(1);
            const [t = '', sp = ''] = o.key.split('/');
            assert.equal(ids.stage(t, sp) && w.hasAt(ids.words, ids.staged), m.has(o.key), `hasAt(${o.key}) at ${now}`);
          } else assert.equal(w.has(o.key), m.has(o.key), `has(${o.key}) at ${now}`);
          assert.equal(w.size, m.seen.size, 'size');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps the eviction order through ring compactions and moves in crowded probe runs', () => {
    // Re-adding every remembered id but the oldest leaves dead places in the ring until it is
    // compacted; in a 16-slot table the ids share probe runs, so removals move entries back.
    // The oldest id must still be the first forgotten. Checked against insertion order kept in a Map.
    const now = 0;
    const max = 8;
    const w = new DedupWindow(1_000_000, max, () => now);
    const order = new Map<string, true>();
    const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
    const pool = Array.from({ length: 40 }, (_, i) => `${hex((i % 7) * 7919, 32)}/${hex(Math.floor(i / 7) * 104729 + i, 16)}`);
    let seed = 12345;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const add = (k: string) => {
      w.add(k);
      order.delete(k);
      order.set(k, true);
      if (order.size > max) order.delete(order.keys().next().value!);
    };
    for (let step = 0; step < 5000; step++) {
      const live = [...order.keys()];
      if (live.length < max || rand(20) === 0) add(pool[rand(pool.length)]!);
      else add(live[1 + rand(live.length - 1)]!); // never the oldest
      for (const k of pool) assert.equal(w.has(k), order.has(k), `step ${step}: has(${k})`);
      assert.equal(w.size, order.size);
    }
    assert.ok(w.work.compactions > 50, `${w.work.compactions} ring compactions exercised`);
  });

  it('holds 100,000 ids in a bounded table, forgetting only the oldest', () => {
    let now = 0;
    const w = new DedupWindow(60_000, 1000, () => now);
    const k = (i: number) => `${i.toString(16).padStart(32, '0')}/${((i * 2654435761) >>> 0).toString(16).padStart(16, '0')}`;
    for (let i = 0; i < 100_000; i += 100) {
      w.addAll(Array.from({ length: 100 }, (_, j) => k(i + j)));
      now += 1;
    }
    assert.equal(w.size, 1000);
    assert.equal(w.has(k(98_999)), false);
    assert.equal(w.has(k(99_000)), true);
    assert.equal(w.has(k(99_999)), true);
    // Ids that differ from remembered ones in one byte only (same trace, span + 1): never "seen".
    const near = (i: number) => `${i.toString(16).padStart(32, '0')}/${(((i * 2654435761) >>> 0) + 1).toString(16).padStart(16, '0')}`;
    let falsePositives = 0;
    for (let i = 99_000; i < 100_000; i++) if (w.has(near(i))) falsePositives++;
    assert.equal(falsePositives, 0);
    // Each ring compaction costs O(entries): they must stay rare (O(1) amortised per id).
    assert.ok(w.work.compactions <= 100_000 / 1000, `${w.work.compactions} ring compactions`);
    // The steady state of a full window (every add evicts the oldest) compacts nothing.
    const steady = new DedupWindow(60_000, 1000, () => now);
    for (let i = 0; i < 20_000; i++) steady.add(k(i));
    assert.equal(steady.work.compactions, 0);
    // Re-adds leave dead places; compacting them stays rare.
    for (let i = 0; i < 20_000; i++) steady.add(k(19_000 + (i % 1000)));
    assert.ok(steady.work.compactions <= 20_000 / 1000, `${steady.work.compactions} compactions for 20,000 re-adds`);
  });
});

describe('litellm processor: later LiteLLM versions', () => {
  it('usage only in usage_object (gen_ai.usage.* missing, #31583), empty request model, semconv cache attributes', () => {
    const b = fixture('openai-reasoning.v1.81.otlp.json');
    const span = b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)).find((s) => 'llm.request.type' in s.attributes)!;
    const attrs = span.attributes as Record<string, unknown>;
    delete attrs['gen_ai.usage.input_tokens'];
    delete attrs['gen_ai.usage.output_tokens'];
    delete attrs['gen_ai.usage.total_tokens'];
    attrs['gen_ai.request.model'] = '';
    attrs['gen_ai.usage.cache_read.input_tokens'] = 64n;
    delete attrs['gen_ai.system'];
    attrs['gen_ai.provider.name'] = 'openai';
    const [c] = LitellmProcessor.convert(b);
    assert.ok(c);
    assert.equal(c.usage.promptTokens, 120);
    assert.equal(c.usage.completionTokens, 900);
    assert.equal(c.usage.totalTokens, 1020);
    assert.equal(c.usage.cachedReadTokens, 64);
    assert.equal(c.model, 'o3-mini', 'falls back to hidden_params.litellm_model_name');
    assert.equal(c.provider, 'openai');
  });
});

describe('litellm processor: robustness', () => {
  it('odd attribute types never crash the conversion', async () => {
    const h = harness();
    const batch = fromOtlpJson({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                  spanId: '0102030405060708',
                  name: 'x',
                  startTimeUnixNano: '2000000',
                  endTimeUnixNano: '1000000',
                  attributes: [
                    { key: 'llm.request.type', value: { stringValue: 'acompletion' } },
                    { key: 'hidden_params', value: { stringValue: '{not json' } },
                    { key: 'metadata.usage_object', value: { intValue: '5' } },
                    { key: 'metadata.user_api_key_auth_metadata', value: { stringValue: "['not', 'a', 'dict']" } },
                    { key: 'gen_ai.usage.prompt_tokens', value: { stringValue: 'many' } },
                    { key: 'gen_ai.system', value: { boolValue: true } },
                  ],
                  status: { code: 2 },
                },
              ],
            },
          ],
        },
      ],
    });
    await h.proc.consume(batch);
    const [c] = h.received.flat();
    assert.ok(c);
    assert.equal(c.id, '0102030405060708090a0b0c0d0e0f10-0102030405060708');
    assert.equal(c.durationMs, 0, 'end before start → 0');
    assert.equal(c.usage.promptTokens, 0);
    assert.equal(c.keyMetadata, null);
    assert.equal(c.modelId, null, 'hidden_params that are not JSON give nothing');
    assert.equal(c.apiBase, null);
    assert.deepEqual(c.error, {
      type: null,
      code: null,
      message: null,
      provider: null,
      traceback: null,
      limitSubject: null,
      limitRate: null,
      limitValue: null,
      guardrail: null,
    });
  });
});

describe('litellm processor: the span attributes it declares (the OTLP receiver decodes only those)', () => {
  const spansOf = (b: SpanBatch): Span[] => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  const fixtures = readdirSync(FIX).filter((f) => f.endsWith('.otlp.json'));

  /** Runs selection and conversion on `span` with its attributes behind a proxy; returns the keys read. */
  function keysRead(span: Span): Set<string> {
    const read = new Set<string>();
    const attributes = new Proxy(span.attributes, {
      get(t, k) {
        if (typeof k === 'string') read.add(k);
        return Reflect.get(t, k);
      },
      has(t, k) {
        if (typeof k === 'string') read.add(k);
        return Reflect.has(t, k);
      },
      ownKeys() {
        throw new Error('the conversion enumerated the attributes: it cannot declare the ones it reads');
      },
    });
    const spy = { ...span, attributes };
    if (isLlmCallSpan(spy)) spanToLlmCall(spy);
    return read;
  }

  const only = (a: Attributes): Attributes => Object.assign(newAttributes(), Object.fromEntries(Object.entries(a).filter(([k]) => SPAN_ATTRIBUTES.has(k))));

  it('reads no attribute outside SPAN_ATTRIBUTES, on every fixture span', () => {
    const read = new Set<string>();
    for (const f of fixtures) for (const span of spansOf(fixture(f))) for (const k of keysRead(span)) read.add(k);
    assert.deepEqual(
      [...read].filter((k) => !SPAN_ATTRIBUTES.has(k)),
      [],
    );
    assert.ok(read.size >= 20, `the fixtures exercise the conversion (${read.size} keys read)`);
  });

  it('reads no attribute outside SPAN_ATTRIBUTES and converts the same without the others, on arbitrary spans (property)', () => {
    const keys = fc.constantFrom(...SPAN_ATTRIBUTES, 'gen_ai.prompt', 'metadata.spend', 'service', 'llm.request.type.extra');
    const value: fc.Arbitrary<AttrValue> = fc.oneof(
      fc.constantFrom(
        '',
        'None',
        'True',
        'completion',
        '{"model_id": "m", "api_base": "https://x.openai.azure.com"}',
        "{'prompt_tokens': 3, 'completion_tokens': 4}",
      ),
      fc.string({ maxLength: 8 }),
      fc.bigInt({ min: -5n, max: 10_000n }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.dictionary(keys, value, { maxKeys: 40 }), fc.integer({ min: 0, max: 2 }), (entries, code) => {
        const base = spansOf(fixture('openai-cached-tokens.v1.79.otlp.json')).find(isLlmCallSpan)!;
        const span: Span = { ...base, attributes: Object.assign(newAttributes(), entries), status: { code, message: code === 2 ? 'failed' : '' } };
        const outside = [...keysRead(span)].filter((k) => !SPAN_ATTRIBUTES.has(k));
        assert.deepEqual(outside, []);
        const cut: Span = { ...span, attributes: only(span.attributes) };
        assert.equal(isLlmCallSpan(cut), isLlmCallSpan(span));
        if (isLlmCallSpan(span)) assert.deepStrictEqual(spanToLlmCall(cut), spanToLlmCall(span));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same LLM calls from requests decoded with only those attributes', () => {
    for (const f of fixtures) {
      const bytes = encodeOtlpProto(fixture(f));
      const whole = LitellmProcessor.convert(decodeOtlpProto(bytes));
      const cut = decodeOtlpProto(bytes, { spanAttributes: SPAN_ATTRIBUTES });
      assert.ok(whole.length > 0, f);
      assert.deepStrictEqual(LitellmProcessor.convert(cut), whole, f);
      for (const span of spansOf(cut))
        assert.deepEqual(
          Object.keys(span.attributes).filter((k) => !SPAN_ATTRIBUTES.has(k)),
          [],
          f,
        );
    }
  });

  it('declares them', () => {
    assert.equal(harness().proc.spanAttributes, SPAN_ATTRIBUTES);
  });
});

describe('litellm processor: layouts, identity, restarts', () => {
  const layoutFixture = (scenario: string, layout: string): SpanBatch => fromOtlpJson(JSON.parse(readFileSync(requestPath(scenario, layout as never), 'utf8')));

  it('an LLM-like span that cannot be billed is counted by reason, logged once a minute, and in status()', async () => {
    const h = harness();
    const span = (n: number) => {
      const r = unbillableRequest('summarize') as { resourceSpans: { scopeSpans: { spans: { traceId: string; spanId: string }[] }[] }[] };
      Object.assign(r.resourceSpans[0]!.scopeSpans[0]!.spans[0]!, { traceId: `${n}`.padStart(32, '0'), spanId: `${n}`.padStart(16, '0') });
      return r;
    };
    for (let i = 1; i <= 3; i++) await h.proc.consume(fromOtlpJson(span(i)));
    assert.equal(h.received.length, 0);
    assert.equal(await h.value('spanmeter_litellm_unbillable_spans_total', { reason: 'unknown_operation' }), 3);
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'unknown_operation' }), 3);
    const warnings = h.logs.filter((l) => String((l as { msg?: string }).msg).includes('looks like an LLM call was not billed'));
    assert.equal(warnings.length, 1, 'rate-limited');
    assert.match((warnings[0] as { msg: string }).msg, /gen_ai.operation.name "summarize"/);
    const st = h.proc.status() as { unbillable: Record<string, { count: number; last: { span: string } }> };
    assert.equal(st.unbillable.unknown_operation!.count, 3);
    assert.equal(st.unbillable.unknown_operation!.last.span, 'summarize');
  });

  it('team and key from another span of the request fill a call that lacks them', async () => {
    const h = harness();
    const b = layoutFixture('completion', 'litellm.v1.request-span');
    // The billing span without its team: the root still states it.
    for (const rs of b.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const sp of ss.spans)
          if (isLlmCallSpan(sp)) {
            const { 'metadata.user_api_key_team_id': _id, 'metadata.user_api_key_team_alias': _alias, ...rest } = sp.attributes;
            sp.attributes = rest;
          }
    await h.proc.consume(b);
    const [c] = h.received.flat();
    assert.ok(c);
    assert.deepEqual([c.teamId, c.teamAlias], ['team-a', 'Research']);
    assert.equal(await h.value('spanmeter_litellm_identity_joined_total'), 1);
  });

  it('a GenAI span in a trace LiteLLM already bills is not billed again; genai: false bills none', async () => {
    const h = harness();
    const litellm = layoutFixture('completion', 'litellm.v2');
    const client = layoutFixture('completion', 'genai');
    const trace = litellm.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
    for (const rs of client.resourceSpans) for (const ss of rs.scopeSpans) for (const sp of ss.spans) Object.assign(sp, { traceId: trace });
    await h.proc.consume({ resourceSpans: [...litellm.resourceSpans, ...client.resourceSpans] });
    assert.deepEqual(
      h.received.flat().map((c) => c.layout),
      ['litellm.v2'],
    );
    assert.equal(await h.value('spanmeter_processor_dropped_total', { reason: 'nested_genai_span' }), 1);
    const off = harness({ genai: false });
    await off.proc.consume(layoutFixture('completion', 'genai'));
    assert.equal(off.received.length, 0);
    assert.equal(await off.value('spanmeter_processor_dropped_total', { reason: 'genai_disabled' }), 1);
  });

  it('remembers the calls it accepted across a restart (journal in the data directory)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'spanmeter-litellm-'));
    const run = async (batch: SpanBatch) => {
      const metrics = new ServiceMetrics('test', { processMetrics: false });
      const received: LlmCall[] = [];
      const proc = factory.create(
        {
          id: 'litellm',
          pipeline: 'p',
          config: configOf(factory),
          logger: pino({ level: 'silent' }),
          registry: metrics.registry,
          metrics: metrics.forComponent('processor', 'litellm', 'p'),
          dataDir,
          instanceId: 't',
          storage: { durable: true },
        },
        { consume: async (cs: LlmCall[]) => void received.push(...cs) },
      ) as LitellmProcessor;
      await proc.start();
      await proc.consume(batch);
      await proc.shutdown();
      return received;
    };
    assert.equal((await run(layoutFixture('completion', 'litellm.v2'))).length, 1);
    // The sender re-sends after the restart (its acknowledgement was lost), and LiteLLM sends the duplicated span later.
    assert.equal((await run(layoutFixture('completion', 'litellm.v2'))).length, 0);
    assert.equal((await run(layoutFixture('duplicate-span', 'litellm.v2'))).length, 1, 'another call is billed');
    assert.equal((await run(layoutFixture('duplicate-span', 'litellm.v2'))).length, 0);
    // A torn last entry (a crash mid-write) is ignored.
    const path = join(dataDir, 'dedup.journal');
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from([1, 2, 3])]));
    assert.equal((await run(layoutFixture('completion', 'litellm.v2'))).length, 0);
  });
});
