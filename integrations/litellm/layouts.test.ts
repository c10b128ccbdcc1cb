/**
 * One LLM call in every layout LiteLLM (and other GenAI instrumentations) send: the same records,
 * except the fields README.md's table says a layout cannot carry (testdata/fixtures.ts `GAPS`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { fromOtlpJson } from '../../src/otlp/json.js';
import { classifySpan } from './span.js';
import { GAPS, committed, recordsOf, recordsPath, requestPath } from './testdata/fixtures.js';
import { LAYOUTS, render, type FixtureLayout } from './testdata/render.js';
import { SCENARIOS, type Scenario } from './testdata/scenarios.js';

const byName = (n: string): Scenario => SCENARIOS.find((s) => s.name === n)!;

/** A record without its uniqueId and the dimensions and meters a layout cannot carry. */
function comparable(records: MeterRecord[], layout: FixtureLayout): unknown[] {
  const gap = GAPS[layout];
  return records
    .filter((r) => !gap.meters.includes(r.meterApiName))
    .map((r) => {
      const dimensions = Object.fromEntries(Object.entries(r.dimensions ?? {}).filter(([k]) => !gap.dimensions.includes(k)));
      if (gap.requestTimes)
        return { meterApiName: r.meterApiName, meterValue: r.meterApiName === 'llm_api_call_ms' ? 'request time' : r.meterValue, dimensions };
      return { meterApiName: r.meterApiName, meterTimeInMillis: r.meterTimeInMillis, meterValue: r.meterValue, dimensions };
    });
}

/**
 * The records of the scenario's calls at `keep`: each call's records carry its uniqueId, and the
 * object-metadata records just before them (which carry none) belong to it too.
 */
function onlyCalls(records: MeterRecord[], keep: number[]): MeterRecord[] {
  const groups: MeterRecord[][] = [];
  let pending: MeterRecord[] = [];
  let current: string | undefined;
  for (const r of records) {
    if (r.uniqueId === undefined) pending.push(r);
    else if (r.uniqueId !== current || pending.length) {
      groups.push([...pending, r]);
      pending = [];
      current = r.uniqueId;
    } else groups[groups.length - 1]!.push(r);
  }
  return keep.flatMap((k) => groups[k]!);
}

describe('layout fixtures', () => {
  it('the committed requests and records are what testdata/ builds (node dist/integrations/litellm/testdata/fixtures.js --write)', async () => {
    for (const s of SCENARIOS) {
      for (const layout of LAYOUTS) assert.deepEqual(committed(requestPath(s.name, layout)), render(s, layout), `${s.name}.${layout}`);
      assert.deepEqual(committed(recordsPath(s.name)), await recordsOf(render(s, 'litellm.v1.child')), `records/${s.name}.json`);
    }
  });

  for (const layout of LAYOUTS) {
    describe(layout, () => {
      for (const s of SCENARIOS) {
        const skip = GAPS[layout].skip[s.name];
        const differs = GAPS[layout].differs?.[s.name];
        const title = skip ? `nothing to bill (${skip})` : differs ? `as many calls, other records (${differs})` : 'the scenario’s records';
        it(`${s.name}: ${title}`, async () => {
          const calls: LlmCall[] = [];
          const got = await recordsOf(committed(requestPath(s.name, layout)) as object, calls);
          if (skip) {
            assert.deepEqual(got, []);
            return;
          }
          if (differs) {
            const want = committed(recordsPath(s.name)) as MeterRecord[];
            const count = (rs: MeterRecord[]) => rs.filter((r) => r.meterApiName === 'llm_api_call').length;
            assert.equal(count(got), count(want));
            return;
          }
          let want = committed(recordsPath(s.name)) as MeterRecord[];
          const only = GAPS[layout].only[s.name];
          if (only) want = onlyCalls(want, only.calls);
          assert.deepEqual(comparable(got, layout), comparable(want, layout));
          for (const c of calls) assert.equal(c.layout, layout);
        });
      }
    });
  }
});

describe('layout detection', () => {
  const spansOf = (s: Scenario, layout: FixtureLayout) => {
    const b = fromOtlpJson(render(s, layout));
    return b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  };

  it('finds exactly the billing spans of each layout, by their attributes', () => {
    for (const layout of LAYOUTS) {
      const s = byName('completion');
      const billed = spansOf(s, layout).filter((sp) => classifySpan(sp).kind === 'call');
      assert.equal(billed.length, 1, layout);
      assert.deepEqual(classifySpan(billed[0]!), { kind: 'call', layout: layout });
    }
  });

  it('never bills guardrail, MCP tool, auth, database, server or raw-request spans, even with a cost', () => {
    for (const layout of LAYOUTS)
      for (const s of SCENARIOS)
        for (const sp of spansOf(s, layout)) {
          if (
            /^(postgres|auth|raw_gen_ai_request|tools\/call|execute_guardrail|POST |Received Proxy Server Request|handle_request)/.test(sp.name) &&
            !(layout === 'litellm.v1.root' && sp.name === 'Received Proxy Server Request')
          )
            assert.notEqual(classifySpan(sp).kind, 'call', `${layout} ${s.name} ${sp.name}`);
        }
  });

  it('a duplicated span bills once: by response id (v1.79, GenAI), by LiteLLM call id (1.81+, v2)', async () => {
    for (const layout of LAYOUTS) {
      const calls: LlmCall[] = [];
      await recordsOf(committed(requestPath('duplicate-span', layout)) as object, calls);
      assert.equal(calls.length, 1, layout);
    }
  });

  it('a fallback bills the failed attempt and the success, though both carry one call id', async () => {
    for (const layout of ['litellm.v1.request-span', 'litellm.v2', 'litellm.v2.legacy'] as const) {
      const calls: LlmCall[] = [];
      await recordsOf(committed(requestPath('fallback', layout)) as object, calls);
      assert.deepEqual(
        calls.map((c) => [c.callId, c.error?.code ?? null, c.model]),
        [
          ['6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e09', '429', 'gpt-4o'],
          ['6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e09', null, 'gpt-4o-mini'],
        ],
        layout,
      );
    }
  });
});

describe('scenario records (what the fixtures assert, read by hand)', () => {
  const records = (n: string) => committed(recordsPath(n)) as MeterRecord[];
  const find = (n: string, meter: string, dims: Record<string, string> = {}) =>
    records(n).filter((r) => r.meterApiName === meter && Object.entries(dims).every(([k, v]) => r.dimensions?.[k] === v));

  it('completion: 11 tokens in, 2 out, team and business unit from the key', () => {
    assert.equal(find('completion', 'llm_text_tokens', { type: 'in' })[0]!.meterValue, 11);
    assert.equal(find('completion', 'llm_text_tokens', { type: 'out' })[0]!.meterValue, 2);
    assert.equal(find('completion', 'llm_api_call')[0]!.dimensions!.business_unit_id, 'bu-science');
    assert.equal(find('completion', 'llm_api_call')[0]!.dimensions!.team, 'team-a');
  });

  it('streaming on Bedrock: provider and model split, region from the host', () => {
    const d = find('streaming', 'llm_api_call')[0]!.dimensions!;
    assert.deepEqual([d.provider, d.model, d.platform, d.region], ['anthropic', 'claude-3-5-haiku-20241022-v1:0', 'bedrock', 'us-east-1']);
  });

  it('cached prompt: 1500 read, 300 written, 200 plain', () => {
    assert.deepEqual(
      find('cached-prompt', 'llm_text_tokens', { type: 'in' }).map((r) => [r.dimensions!.cache, r.meterValue]),
      [
        ['r', 1500],
        ['c', 300],
        ['n', 200],
      ],
    );
  });

  it('image: one image and 8320 image tokens', () => {
    assert.equal(find('image', 'llm_images')[0]!.meterValue, 1);
    assert.equal(find('image', 'llm_image_tokens')[0]!.meterValue, 8320);
  });

  it('429: the provider limit; 500; guardrail refusal', () => {
    const d = find('rate-limit', 'llm_error_details')[0]!.dimensions!;
    assert.deepEqual([d.code, d.subject, d.rate, d.limit], ['429', 'provider', 'tpm', '30000']);
    assert.equal(find('server-error', 'llm_error_details')[0]!.dimensions!.code, '500');
    const g = find('guardrail-failure', 'llm_error_details')[0]!.dimensions!;
    assert.deepEqual([g.code, g.guardrail], ['400', 'openai-moderation']);
  });

  it('fallback: two calls; duplicate: one', () => {
    assert.equal(find('fallback', 'llm_api_call').length, 2);
    assert.equal(find('duplicate-span', 'llm_api_call').length, 1);
  });
});

describe('OpenLLMetry (traceloop) spans', () => {
  it('llm.request.type without LiteLLM attributes is read as a GenAI span and billed', async () => {
    const attrs: Record<string, string | number | boolean> = {
      'llm.request.type': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-openllmetry-1',
      'gen_ai.usage.prompt_tokens': 11,
      'gen_ai.usage.completion_tokens': 2,
      'llm.usage.total_tokens': 13,
      'llm.is_streaming': false,
    };
    const request = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'chat-app' } }] },
          scopeSpans: [
            {
              scope: { name: 'opentelemetry.instrumentation.openai.v1' },
              spans: [
                {
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  name: 'openai.chat',
                  kind: 3,
                  startTimeUnixNano: '1764355422941051904',
                  endTimeUnixNano: '1764355426431803904',
                  attributes: Object.entries(attrs).map(([key, v]) => ({
                    key,
                    value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : { intValue: String(v) },
                  })),
                  status: {},
                },
              ],
            },
          ],
        },
      ],
    };
    const calls: LlmCall[] = [];
    const records = await recordsOf(request, calls);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.layout, 'genai');
    assert.deepEqual(
      [calls[0]!.callType, calls[0]!.provider, calls[0]!.model, calls[0]!.usage.promptTokens, calls[0]!.usage.completionTokens],
      ['chat', 'openai', 'gpt-4o', 11, 2],
    );
    assert.deepEqual(
      records.filter((r) => r.meterApiName === 'llm_text_tokens').map((r) => [r.dimensions!.type, r.meterValue]),
      [
        ['in', 11],
        ['out', 2],
      ],
    );
  });
});
