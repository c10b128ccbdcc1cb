import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { validateAgainst } from '../../src/config/ajv.js';
import { fromOtlpJson } from '../../src/otlp/json.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import { llmCall as call } from '../../test/helpers/llm-call.js';
import { repoRoot } from '../../test/helpers/paths.js';
import { LitellmProcessor } from '../litellm/litellm.js';
import { configOf } from '../../src/config/component-config.js';
import { parseBool } from './config.js';
import { AmberfloProcessor } from './amberflo.js';
import factory from './index.js';
import { USAGE_METRICS } from '../../src/telemetry/metadata.js';
import { classifyError } from '../../integrations/litellm/errors.js';
import { cleanValue, errorDetails, MappingCache, providerModel, toMeterRecords, type MappingOptions } from '../../integrations/amberflo/mapping.js';

const FIX = join(repoRoot(), 'test', 'fixtures', 'litellm');
const fromFixture = (name: string): LlmCall => {
  const [c] = LitellmProcessor.convert(fromOtlpJson(JSON.parse(readFileSync(join(FIX, name), 'utf8'))));
  assert.ok(c, `${name} holds an LLM call`);
  return c;
};
const compat: MappingOptions = { mode: 'compat', hostedEnv: 'agent1', sendObjectMetadata: true };
const clean: MappingOptions = { ...compat, mode: 'clean' };
const byMeter = (rs: MeterRecord[], name: string) => rs.filter((r) => r.meterApiName === name);

describe('amberflo mapping: records', () => {
  it('emits call, duration and token records with sorted keys, in the callback order', () => {
    const rs = toMeterRecords(call(), compat);
    assert.deepEqual(
      rs.map((r) => [r.meterApiName, r.meterValue, r.dimensions?.type ?? null]),
      [
        ['llm_api_call', 1, null],
        ['llm_api_call_ms', 3491, null],
        ['llm_text_tokens', 11, 'in'],
        ['llm_text_tokens', 2, 'out'],
      ],
    );
    for (const r of rs) {
      assert.deepEqual(Object.keys(r), ['dimensions', 'meterApiName', 'meterTimeInMillis', 'meterValue', 'uniqueId']);
      assert.deepEqual(Object.keys(r.dimensions!), Object.keys(r.dimensions!).sort());
    }
  });

  it('is deterministic byte for byte', () => {
    const c = fromFixture('anthropic-cache.v1.81.otlp.json');
    assert.equal(JSON.stringify(toMeterRecords(c, clean)), JSON.stringify(toMeterRecords(structuredClone(c), clean)));
  });

  it('skips zero-valued usage records', () => {
    const rs = toMeterRecords(call({ usage: { ...call().usage, completionTokens: 0 } }), compat);
    assert.equal(byMeter(rs, 'llm_text_tokens').length, 1);
  });

  it('image generation: llm_images uses n (default 1), image tokens from completion tokens', () => {
    const img = call({ callType: 'aimage_generation', usage: { ...call().usage, promptTokens: 28, completionTokens: 8320 } });
    assert.equal(byMeter(toMeterRecords(img, compat), 'llm_images')[0]?.meterValue, 1);
    assert.equal(byMeter(toMeterRecords({ ...img, n: 3 }, compat), 'llm_images')[0]?.meterValue, 3);
    assert.equal(byMeter(toMeterRecords({ ...img, n: 0 }, compat), 'llm_images').length, 0);
    assert.equal(byMeter(toMeterRecords(img, compat), 'llm_image_tokens')[0]?.meterValue, 8320);
  });

  it('batch and hosted_env dimensions', () => {
    const [r] = toMeterRecords(call({ batch: true }), { ...compat, hostedEnv: 'prod' });
    assert.ok(r);
    assert.equal(r.dimensions!.batch, 'y');
    assert.equal(r.dimensions!.hosted_env, 'prod');
  });
});

describe('amberflo mapping: fixtures (compat vs clean)', () => {
  it('OpenAI cached tokens: compat keeps one input record; clean splits cache:r and cache:n', () => {
    const c = fromFixture('openai-cached-tokens.v1.79.otlp.json');
    const compatIn = byMeter(toMeterRecords(c, compat), 'llm_text_tokens').filter((r) => r.dimensions!.type === 'in');
    assert.deepEqual(
      compatIn.map((r) => [r.dimensions!.cache, r.meterValue]),
      [['n', 1534]],
    );
    const cleanIn = byMeter(toMeterRecords(c, clean), 'llm_text_tokens').filter((r) => r.dimensions!.type === 'in');
    assert.deepEqual(
      cleanIn.map((r) => [r.dimensions!.cache, r.meterValue]),
      [
        ['r', 1280],
        ['n', 254],
      ],
    );
  });

  it('Anthropic cache: clean splits into r, c and n summing to the prompt tokens', () => {
    const c = fromFixture('anthropic-cache.v1.81.otlp.json');
    const cleanIn = byMeter(toMeterRecords(c, clean), 'llm_text_tokens').filter((r) => r.dimensions!.type === 'in');
    assert.deepEqual(
      cleanIn.map((r) => [r.dimensions!.cache, r.meterValue]),
      [
        ['r', 4096],
        ['c', 2048],
        ['n', 56],
      ],
    );
    assert.equal(
      cleanIn.reduce((n, r) => n + r.meterValue, 0),
      6200,
    );
  });

  it('object metadata: business unit only', () => {
    const c = fromFixture('anthropic-cache.v1.81.otlp.json');
    assert.deepEqual(byMeter(toMeterRecords(c, compat), 'aflo.object_metadata'), [
      {
        dimensions: { id: 'bu-research', name: 'bu-research', type: 'business_unit' },
        meterApiName: 'aflo.object_metadata',
        meterTimeInMillis: c.startTimeMs,
        meterValue: 1,
      },
    ]);
    assert.equal(byMeter(toMeterRecords(c, { ...compat, sendObjectMetadata: false }), 'aflo.object_metadata').length, 0);
  });

  it('object metadata: business unit + team → one virtual tag; team only → unit + tag', () => {
    const both = byMeter(toMeterRecords(fromFixture('openai-cached-tokens.v1.79.otlp.json'), compat), 'aflo.object_metadata');
    assert.deepEqual(
      both.map((r) => r.dimensions),
      [
        {
          label: 'search-platform',
          name: 'team',
          parentName: 'businessUnitId',
          parentValue: 'bu-emea-01',
          type: 'virtual_tag',
          value: '7f3c1a52-9d0e-4b7a-a1c4-2f6e8d9b0c31',
        },
      ],
    );
    const team = byMeter(toMeterRecords(fromFixture('call-id-error.v1.81.otlp.json'), compat), 'aflo.object_metadata');
    assert.deepEqual(
      team.map((r) => r.dimensions!.type),
      ['business_unit', 'virtual_tag'],
    );
    assert.equal(team[0]?.dimensions?.name, 'Team C');
  });

  it('Azure: compat takes the first host label and splits gpt-4.1-mini at the dot (callback quirks)', () => {
    const [r] = byMeter(toMeterRecords(fromFixture('azure-region.v1.79.otlp.json'), compat), 'llm_api_call');
    assert.ok(r);
    assert.equal(r.dimensions!.region, 'acme-eastus2');
    assert.equal(r.dimensions!.provider, 'gpt-4');
    assert.equal(r.dimensions!.model, '1-mini');
    assert.equal(r.dimensions!.platform, 'azure');
  });

  it('Vertex: compat region is global (as the callback); clean reads the location from the host', () => {
    const c = fromFixture('vertex-region.v1.81.otlp.json');
    assert.equal(byMeter(toMeterRecords(c, compat), 'llm_api_call')[0]?.dimensions?.region, 'global');
    assert.equal(byMeter(toMeterRecords(c, clean), 'llm_api_call')[0]?.dimensions?.region, 'europe-west4');
  });

  it('Bedrock: region is the second host label; provider/model split at the first dot', () => {
    const [r] = byMeter(toMeterRecords(fromFixture('bedrock-region.v1.79.otlp.json'), compat), 'llm_api_call');
    assert.ok(r);
    assert.equal(r.dimensions!.region, 'eu-central-1');
    assert.equal(r.dimensions!.provider, 'anthropic');
    assert.equal(r.dimensions!.model, 'claude-3-5-haiku-20241022-v1:0');
  });

  it('a region stated by a source (enrichment) wins', () => {
    assert.equal(toMeterRecords(call({ region: 'eu-west-1' }), compat)[0]?.dimensions?.region, 'eu-west-1');
  });

  it('evicted metadata: placeholders, never a crash', () => {
    const [r] = byMeter(toMeterRecords(fromFixture('evicted-metadata-128.v1.79.otlp.json'), compat), 'llm_api_call');
    assert.ok(r);
    assert.equal(r.dimensions!.key_name, 'unknown');
    assert.equal(r.dimensions!.business_unit_id, 'unknown');
    assert.equal(r.dimensions!.team, 'unknown');
  });

  it('v1.81 error with litellm.call_id: uniqueId, error_code and OpenAI 429 details', () => {
    const rs = toMeterRecords(fromFixture('call-id-error.v1.81.otlp.json'), compat);
    assert.ok(rs.filter((r) => r.meterApiName !== 'aflo.object_metadata').every((r) => r.uniqueId === '4b1c7f0e-2d8a-4f6b-9e3c-5a7d9b1e3f20'));
    assert.equal(byMeter(rs, 'llm_api_call')[0]?.dimensions?.error_code, '429');
    const d = byMeter(rs, 'llm_error_details')[0]?.dimensions;
    assert.ok(d);
    assert.deepEqual([d.class, d.code, d.subject, d.rate, d.limit], ['RateLimitError', '429', 'provider', 'rpm', '500']);
    assert.equal(d.sku, undefined, 'no pricing dimensions on error details');
  });
});

describe('amberflo mapping: rules', () => {
  const err = (e: Partial<NonNullable<LlmCall['error']>>) =>
    errorDetails(call({ error: classifyError({ type: 'X', code: null, message: null, provider: null, traceback: null, ...e }) }));
  it('error details: LiteLLM 429 (tpm), guardrails, ProxyException → 401, missing code → unknown', () => {
    assert.deepEqual(err({ code: '429', message: '429: Rate limit exceeded for team: t1. Limit type: tokens. Current limit: 1000, Remaining: 0.' }), {
      class: 'X',
      code: '429',
      subject: 'team',
      rate: 'tpm',
      limit: '1000',
    });
    assert.equal(err({ code: '400', message: "400: {'error': 'Content blocked: x'}" })!.guardrail, 'litellm-content-filter');
    assert.equal(err({ code: '400', message: "400: {'error': 'Violated OpenAI moderation policy', 'x': 1}" })!.guardrail, 'openai-moderation');
    assert.equal(err({ type: 'ProxyException', traceback: 'File x, in _can_object_call_model' })!.code, '401');
    assert.equal(err({ code: '' })!.code, 'unknown');
    assert.equal(err({ type: null })!.class, 'unknown');
  });

  it('provider/model split only for non-OpenAI dotted models', () => {
    assert.deepEqual(providerModel('openai', 'gpt-4.1'), ['openai', 'gpt-4.1']);
    assert.deepEqual(providerModel(null, 'anthropic.claude-3'), ['anthropic', 'claude-3']);
    assert.deepEqual(providerModel(null, 'gpt-4'), [null, 'gpt-4']);
    assert.deepEqual(providerModel('bedrock', null), ['bedrock', null]);
  });

  it('clean values: null/empty → unknown, / → :, others → _, cut at 200', () => {
    assert.equal(cleanValue(null), 'unknown');
    assert.equal(cleanValue(''), 'unknown');
    assert.equal(cleanValue('/v1/chat/completions'), ':v1:chat:completions');
    assert.equal(cleanValue('café ☕ "x"'), 'caf_ _ _x_');
    assert.equal(cleanValue('😀'), '_');
    assert.equal(cleanValue('a'.repeat(300)), 'a'.repeat(200));
    assert.equal(cleanValue("ok-_ !.*'()&$@=;:+,?09azAZ"), "ok-_ !.*'()&$@=;:+,?09azAZ");
  });

  it('compat keeps nulls; clean never does', () => {
    const c = call({ provider: null, model: 'gpt-4', callType: '/v1/chat/completions', modelMapKey: null, modelMapProvider: null });
    const [compatCall] = toMeterRecords(c, compat);
    assert.ok(compatCall);
    assert.equal(compatCall.dimensions!.provider, null);
    assert.equal(compatCall.dimensions!.usecase, '/v1/chat/completions');
    const [cleanCall] = toMeterRecords(c, clean);
    assert.ok(cleanCall);
    assert.equal(cleanCall.dimensions!.provider, 'unknown');
    assert.equal(cleanCall.dimensions!.usecase, ':v1:chat:completions');
  });

  it('team metadata business unit (from enrichment) is used when the key has none', () => {
    const [r] = byMeter(toMeterRecords(call({ teamId: 't1', teamMetadata: { business_unit_id: 'bu-team' } }), compat), 'llm_api_call');
    assert.ok(r);
    assert.equal(r.dimensions!.business_unit_id, 'bu-team');
  });
});

// ---------------------------------------------------------------------------------------------
// Property: clean mode output always satisfies the dimension rules.

const VALID = /^[-_ !.*'()&$@=;:+,?0-9a-zA-Z]{1,200}$/;
const anyStr = fc.option(
  fc.oneof(fc.string({ unit: 'binary', maxLength: 260 }), fc.constantFrom('', 'openai', 'bedrock', 'azure', 'vertex_ai', 'a.b.c', '/x/y')),
  { nil: null },
);
const tokens = fc.nat({ max: 1_000_000 });
/** A call and the hosted_env to map it with. */
const llmCall: fc.Arbitrary<{ c: LlmCall; hostedEnv: string }> = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 40 }),
    callType: fc.option(fc.constantFrom('acompletion', 'aembedding', 'aimage_generation', '/v1/x', ''), { nil: null }),
    model: anyStr,
    provider: anyStr,
    modelMapKey: anyStr,
    modelMapProvider: anyStr,
    apiBase: fc.option(fc.oneof(fc.webUrl(), fc.string({ unit: 'binary' })), { nil: null }),
    region: anyStr,
    batch: fc.boolean(),
    n: fc.option(fc.nat({ max: 10 }), { nil: null }),
    keyAlias: anyStr,
    teamId: anyStr,
    teamAlias: anyStr,
    userId: anyStr,
    keyMetadata: fc.option(fc.record({ business_unit_id: fc.oneof(anyStr, fc.integer(), fc.boolean()) }), { nil: null }),
    teamMetadata: fc.option(fc.record({ business_unit_id: anyStr }), { nil: null }),
    promptTokens: tokens,
    completionTokens: tokens,
    cachedReadTokens: tokens,
    cacheCreationTokens: tokens,
    error: fc.option(
      fc
        .record({
          type: anyStr,
          code: fc.option(fc.constantFrom('429', '400', '500', '', 'x/y'), { nil: null }),
          message: anyStr,
          provider: anyStr,
          traceback: anyStr,
        })
        .map(classifyError),
      { nil: null },
    ),
    hostedEnv: fc.string({ minLength: 1, maxLength: 300, unit: 'binary' }),
  })
  .map(({ hostedEnv, ...r }) => ({
    c: call({
      ...r,
      usage: {
        promptTokens: r.promptTokens,
        completionTokens: r.completionTokens,
        totalTokens: 0,
        cachedReadTokens: r.cachedReadTokens,
        cacheCreationTokens: r.cacheCreationTokens,
        reasoningTokens: 0,
      },
    }),
    hostedEnv,
  }));

describe('amberflo mapping (property)', () => {
  it('clean mode: every dimension value is a valid 1–200 character string; input tokens sum to the prompt tokens', () => {
    fc.assert(
      fc.property(llmCall, fc.boolean(), ({ c, hostedEnv }, meta) => {
        const rs = toMeterRecords(c, { mode: 'clean', hostedEnv, sendObjectMetadata: meta });
        for (const r of rs) {
          for (const [k, v] of Object.entries(r.dimensions ?? {})) assert.match(String(v), VALID, `${r.meterApiName}.${k} = ${JSON.stringify(v)}`);
          assert.ok(Number.isFinite(r.meterValue) && r.meterValue > 0, 'positive values only');
        }
        const input = rs.filter((r) => r.meterApiName === 'llm_text_tokens' && r.dimensions!.type === 'in').reduce((n, r) => n + r.meterValue, 0);
        assert.equal(input, c.usage.promptTokens);
        assert.equal(JSON.stringify(rs), JSON.stringify(toMeterRecords(structuredClone(c), { mode: 'clean', hostedEnv, sendObjectMetadata: meta })));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('amberflo mapping cache', () => {
  it('records built from cached dimension sets equal those built from scratch, in both modes, across evictions and hash collisions', () => {
    const cache = new MappingCache(8); // small, so generations turn over during the run
    const colliding = new MappingCache(64, 0x3); // four hash values: entries share chains
    // Every input from a small pool, so calls often share an entry or differ in one field only.
    const str = fc.constantFrom<string | null>(null, '', 'a', 'x/y', 'openai', 'bedrock', 'azure', 'vertex_ai', 'v.m');
    const inputs = {
      callType: str,
      model: str,
      provider: str,
      modelMapKey: str,
      modelMapProvider: str,
      apiBase: fc.constantFrom<string | null>(
        null,
        'https://bedrock-runtime.eu-west-1.amazonaws.com',
        'https://x.openai.azure.com',
        'https://europe-west4-aiplatform.googleapis.com',
        'not a url',
      ),
      region: str,
      batch: fc.boolean(),
      keyAlias: str,
      teamId: str,
      userId: str,
      keyMetadata: fc.constantFrom<Record<string, unknown> | null>(null, { business_unit_id: 'bu' }, { business_unit_id: 3 }, { business_unit_id: '' }),
      teamMetadata: fc.constantFrom<Record<string, unknown> | null>(null, { business_unit_id: 'tbu' }),
      error: fc.constantFrom<LlmCall['error']>(
        null,
        classifyError({
          type: 'RateLimitError',
          code: '429',
          message: 'Rate limit reached for m on requests per min (RPM): Limit 5',
          provider: 'openai',
          traceback: null,
        }),
        classifyError({ type: 'X', code: null, message: null, provider: null, traceback: null }),
      ),
      promptTokens: fc.nat({ max: 50 }),
      cachedReadTokens: fc.nat({ max: 50 }),
      mode: fc.constantFrom<'compat' | 'clean'>('compat', 'clean'),
      hostedEnv: fc.constantFrom('prod', 'x/y'),
    };
    const arb = fc.record(inputs);
    type Input = typeof arb extends fc.Arbitrary<infer T> ? T : never;
    const build = ({ mode, hostedEnv, promptTokens, cachedReadTokens, ...over }: Input): [LlmCall, MappingOptions] => [
      call({ ...over, usage: { ...call().usage, promptTokens, cachedReadTokens } }),
      { mode, hostedEnv, sendObjectMetadata: false },
    ];
    // A call, then the same call with one input changed: the second must not reuse the first's entry.
    fc.assert(
      fc.property(arb, arb, fc.constantFrom(...(Object.keys(inputs) as (keyof Input)[])), (a, b, field) => {
        const shared = new MappingCache();
        const [c1, o1] = build(a);
        const [c2, o2] = build({ ...a, [field]: b[field] });
        toMeterRecords(c1, o1, shared);
        toMeterRecords(c1, o1, cache);
        toMeterRecords(c1, o1, colliding);
        assert.equal(JSON.stringify(toMeterRecords(c2, o2, shared)), JSON.stringify(toMeterRecords(c2, o2)), `changed ${field}`);
        assert.equal(JSON.stringify(toMeterRecords(c2, o2, cache)), JSON.stringify(toMeterRecords(c2, o2)), `changed ${field} (small cache)`);
        assert.equal(JSON.stringify(toMeterRecords(c2, o2, colliding)), JSON.stringify(toMeterRecords(c2, o2)), `changed ${field} (colliding hashes)`);
      }),
      { numRuns: 3000 },
    );
  });

  it('dimension sets are frozen and shared: changing one in place throws, so a processor copies it', () => {
    const cache = new MappingCache();
    const a = toMeterRecords(call(), clean, cache);
    const b = toMeterRecords(call(), clean, cache);
    assert.ok(a.every((r) => Object.isFrozen(r.dimensions)));
    const [a0] = a;
    const [b0] = b;
    assert.ok(a0 && b0);
    assert.equal(a0.dimensions, b0.dimensions, 'same inputs → the same frozen set');
    assert.throws(() => {
      (a0.dimensions as Record<string, string>).team = 'changed';
    }, TypeError);
    assert.equal(b0.dimensions!.team, 'unknown');
    assert.ok(
      toMeterRecords(call(), clean).every((r) => Object.isFrozen(r.dimensions)),
      'without a cache too',
    );
  });
});

describe('amberflo processor (component)', () => {
  it('defaults: clean, hosted_env prod, no object metadata; the schema accepts callback-style booleans', async () => {
    const d = configOf(factory);
    assert.deepEqual(d, { mode: 'clean', hosted_env: 'prod', send_object_metadata: false });
    for (const v of [true, 'yes', 'On', 1, 'false', '0'])
      assert.deepEqual(validateAgainst(factory.configSchema, { ...d, send_object_metadata: v }), [], String(v));
    assert.notDeepEqual(validateAgainst(factory.configSchema, { ...d, send_object_metadata: 'maybe' }), []);
    assert.throws(() => configOf(factory, { mode: 'fast' }), /mode: must be one of "compat", "clean"/);
    assert.deepEqual(configOf(factory, { hosted_env: 2024 }).hosted_env, 2024, 'AFLO_HOSTED_ENV=2024 arrives as a number');
    assert.equal(parseBool('YES'), true);
    assert.equal(parseBool(0), false);
    const metrics = new ServiceMetrics('t', { processMetrics: false });
    const got: MeterRecord[][] = [];
    const p = factory.create(
      {
        id: 'amberflo',
        pipeline: 'p',
        config: configOf(factory, { send_object_metadata: 'on' }),
        logger: pino({ level: 'silent' }),
        registry: metrics.registry,
        metrics: metrics.forComponent('processor', 'amberflo', 'p'),
        dataDir: '/x',
        instanceId: 'i',
      },
      { consume: async (rs: MeterRecord[]) => void got.push(rs) },
    );
    await p.consume([call({ teamId: 't', teamAlias: null })]);
    await p.consume([]);
    assert.equal(got.length, 1, 'nothing is sent for an empty batch');
    const [sent] = got;
    assert.ok(sent);
    assert.equal(sent[0]?.meterApiName, 'aflo.object_metadata');
    assert.equal(sent[0].dimensions?.name, 'unknown', 'clean mode cleans object metadata too');
    assert.equal(sent[2]?.dimensions?.hosted_env, 'prod');
  });

  it('a numeric hosted_env is used as its text; the mapping options come from the resolved config', () => {
    const registry = new ServiceMetrics('t', { processMetrics: false }).registry;
    const p = new AmberfloProcessor(
      configOf(factory, { mode: 'compat', hosted_env: 2024, send_object_metadata: 'no' }),
      { registry },
      { consume: async () => {} },
    );
    assert.deepEqual(p.options, { mode: 'compat', hostedEnv: '2024', sendObjectMetadata: false });
  });

  it('counts metered usage in the core counters once the records are handed on', async () => {
    const metrics = new ServiceMetrics('t', { processMetrics: false });
    let refuse = true;
    const p = new AmberfloProcessor(
      configOf(factory),
      { registry: metrics.registry },
      {
        consume: async () => {
          if (refuse) throw new Error('refused downstream');
        },
      },
    );
    const failed = call({
      teamId: 'team-a',
      model: 'gpt-4o',
      error: classifyError({ type: 'RateLimitError', code: '429', message: 'slow down', provider: 'openai', traceback: null }),
    });
    await assert.rejects(p.consume([call({ teamId: 'team-a', model: 'gpt-4o' })]));
    refuse = false;
    await p.consume([call({ teamId: 'team-a', model: 'gpt-4o' }), failed]);
    const value = async (name: string, labels: Record<string, string>) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
    assert.equal(await value('spanmeter_metered_calls_total', { team: 'team-a', model: 'gpt-4o' }), 2, 'the refused batch is not counted');
    assert.equal(await value('spanmeter_metered_failed_calls_total', { team: 'team-a', model: 'gpt-4o' }), 1);
    assert.equal(await value('spanmeter_metered_tokens_total', { team: 'team-a', model: 'gpt-4o', direction: 'in' }), 2 * call().usage.promptTokens);
    for (const d of Object.values(USAGE_METRICS))
      assert.equal((await metrics.registry.getSingleMetric(d.name)!.get()).help, d.description, `${d.name} is registered from its declaration`);
  });
});
