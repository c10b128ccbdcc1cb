import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeCall, makeEnrich, until } from '../../test/fixtures/enrich/harness.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import { applyFacts } from './apply.js';
import { LruCache, TokenBucket } from './cache.js';
import { keyFacts, modelFacts, teamFacts } from '../../integrations/litellm/catalogue/facts.js';
import { configOf } from '../../src/config/component-config.js';
import { configKeys } from '../../src/config/docs.js';
import { validate } from './config.js';
import factory from './index.js';
import { FileSource } from '../../integrations/litellm/catalogue/file.js';
import { redact } from '../../integrations/litellm/catalogue/source.js';

describe('enrich: cache', () => {
  it('evicts the least recently used entry beyond max_entries', () => {
    const c = new LruCache<string>(2, 1000, 1000);
    c.set('a', 'A');
    c.set('b', 'B');
    assert.equal(c.peek('a').state, 'hit'); // a is now most recent
    c.set('c', 'C');
    assert.equal(c.peek('b').state, 'miss');
    assert.deepEqual(c.peek('a'), { state: 'hit', facts: 'A', stale: false });
    assert.equal(c.size, 2);
  });

  it('keeps negative entries for negative_ttl and stale positive entries usable', () => {
    let now = 0;
    const c = new LruCache<string>(10, 100, 50, () => now);
    c.set('a', 'A');
    c.setNegative('x');
    assert.equal(c.peek('x').state, 'negative');
    now = 60;
    assert.equal(c.peek('x').state, 'miss');
    now = 150;
    assert.deepEqual(c.peek('a'), { state: 'hit', facts: 'A', stale: true });
  });

  it('replaceAll keeps only the listing (bounded) and drops negative entries of listed ids', () => {
    const c = new LruCache<string>(3, 1000, 1000);
    c.setNegative('a');
    c.set('old', 'O');
    c.replaceAll([
      ['a', 'A'],
      ['b', 'B'],
      ['c', 'C'],
      ['d', 'D'],
    ]);
    assert.equal(c.peek('old').state, 'miss');
    assert.equal(c.peek('a').state, 'miss'); // evicted: the listing had 4 > 3
    assert.deepEqual(c.counts(), { positive: 3, negative: 0 });
  });

  it('token bucket allows a burst then refills at the rate', () => {
    let now = 0;
    const b = new TokenBucket(10, 2, () => now);
    assert.equal(b.tryTake(), true);
    assert.equal(b.tryTake(), true);
    assert.equal(b.tryTake(), false);
    assert.equal(b.msUntilToken(), 100);
    now = 100;
    assert.equal(b.tryTake(), true);
  });
});

describe('enrich: LiteLLM shapes → facts', () => {
  it('reads team, key and model objects as LiteLLM returns them', () => {
    assert.deepEqual(teamFacts({ team_id: 't', team_alias: '', organization_id: null, metadata: '{"business_unit_id":"bu"}' }), {
      teamId: 't',
      teamAlias: null,
      orgId: null,
      metadata: { business_unit_id: 'bu' },
    });
    assert.deepEqual(teamFacts({ team_id: 't', metadata: { a: 1, b: 2 } }, ['b'])?.metadata, { b: 2 });
    assert.deepEqual(keyFacts({ key_alias: 'k', team_id: 't', user_id: 'u', metadata: {} }, 'h'), {
      keyHash: 'h',
      keyAlias: 'k',
      teamId: 't',
      userId: 'u',
      orgId: null,
      metadata: {},
    });
    assert.deepEqual(
      modelFacts({
        model_name: 'claude',
        litellm_params: { model: 'bedrock/anthropic.claude-3', aws_region_name: 'eu-central-1' },
        model_info: { id: 'm1', key: 'anthropic.claude-3', litellm_provider: 'bedrock' },
      }),
      {
        modelId: 'm1',
        modelGroup: 'claude',
        provider: 'bedrock',
        modelMapKey: 'anthropic.claude-3',
        baseModel: null,
        modelMapProvider: 'bedrock',
        apiBase: null,
        region: 'eu-central-1',
      },
    );
    assert.equal(modelFacts({ litellm_params: { vertex_location: 'us-east5' }, model_info: { id: 'v' } })?.region, 'us-east5');
    assert.equal(modelFacts({ litellm_params: {}, model_info: { id: 'b', base_model: 'azure/gpt-4o' } })?.baseModel, 'azure/gpt-4o');
    assert.equal(teamFacts({ team_alias: 'no id' }), null);
  });

  it('ignores litellm_params values LiteLLM stored encrypted', () => {
    const enc = 'p2Vt8p1Hc0wUq3Zf4m5kq9X0bK4lqG8a6n1tYw2eRz7sUo3vB9cD1fA5hJ6kL8mN';
    const f = modelFacts({ litellm_params: { model: enc, api_base: enc, aws_region_name: enc }, model_info: { id: 'x', litellm_provider: 'bedrock' } });
    assert.deepEqual([f?.provider, f?.apiBase, f?.region, f?.modelMapProvider], [null, null, null, 'bedrock']);
  });

  it('redacts secrets and URL passwords from messages', () => {
    assert.equal(redact('bad key sk-abc123 at postgres://u:pw@h/db', ['sk-abc123']), 'bad key [redacted] at postgres://[redacted]@h/db');
  });
});

const pick = (c: { modelMapKey: string | null; modelMapProvider: string | null }) => [c.modelMapKey, c.modelMapProvider];

describe('enrich: precedence (span value, then lookup, then default)', () => {
  const key = { keyHash: 'h', keyAlias: 'alias-from-lookup', teamId: 'team-x', userId: 'user-x', orgId: 'org-k', metadata: { business_unit_id: 'bu-key' } };
  const team = { teamId: 'team-x', teamAlias: 'Team X', orgId: 'org-t', metadata: { business_unit_id: 'bu-team' } };
  const model = {
    modelId: 'm',
    modelGroup: 'g',
    provider: 'bedrock',
    modelMapKey: 'sku-cat',
    baseModel: null,
    modelMapProvider: 'bedrock',
    apiBase: 'https://b',
    region: 'us-west-2',
  };
  const mm = (mode: 'base_model' | 'catalogue' | 'span', onErrors = false) => ({ mode, onErrors });

  it('fills only what the record lacks', () => {
    const call = makeCall({ keyHash: 'h', keyAlias: 'alias-from-span', modelId: 'm', provider: 'openai' });
    const out = applyFacts(call, { key, team, model }, mm('span'));
    assert.equal(out.keyAlias, 'alias-from-span');
    assert.deepEqual(out.keyMetadata, { business_unit_id: 'bu-key' });
    assert.equal(out.teamId, 'team-x');
    assert.equal(out.teamAlias, 'Team X');
    assert.deepEqual(out.teamMetadata, { business_unit_id: 'bu-team' });
    assert.equal(out.userId, 'user-x');
    assert.equal(out.orgId, 'org-k');
    assert.equal(out.provider, 'openai');
    assert.equal(out.modelMapKey, 'sku-cat');
    assert.equal(out.region, 'us-west-2');
    assert.equal(out.n, null);
    assert.equal(call.keyMetadata, null, 'input not mutated');
  });

  it('does not attach a team looked up for another team id', () => {
    const out = applyFacts(makeCall({ teamId: 'team-span' }), { team });
    assert.equal(out.teamAlias, null);
  });

  it('model map of span records per model.model_map; SLO records keep theirs; failures untouched by default', () => {
    const span = makeCall({ modelId: 'm', modelMapKey: 'gpt-4o-2024-08-06', modelMapProvider: 'openai' });
    const withBase = { ...model, baseModel: 'azure/gpt-4o-base' };
    const noGuess = makeCall({ modelId: 'm' });
    // base_model (default): configured base_model, else the span guess, else model_info.key.
    assert.deepEqual(pick(applyFacts(span, { model }, mm('base_model'))), ['gpt-4o-2024-08-06', 'bedrock']);
    assert.deepEqual(pick(applyFacts(span, { model: withBase }, mm('base_model'))), ['azure/gpt-4o-base', 'bedrock']);
    assert.deepEqual(pick(applyFacts(noGuess, { model }, mm('base_model'))), ['sku-cat', 'bedrock']);
    assert.deepEqual(pick(applyFacts(span, { model }, mm('catalogue'))), ['sku-cat', 'bedrock']);
    assert.deepEqual(pick(applyFacts(span, { model }, mm('span'))), ['gpt-4o-2024-08-06', 'openai']);
    assert.deepEqual(pick(applyFacts(noGuess, { model }, mm('span'))), ['sku-cat', 'bedrock']);
    const slo = makeCall({ source: 'slo', modelId: 'm', modelMapKey: 'from-slo', modelMapProvider: 'openai' });
    assert.deepEqual(pick(applyFacts(slo, { model }, mm('catalogue'))), ['from-slo', 'openai']);
    const failed = makeCall({
      modelId: 'm',
      error: { type: 'RateLimitError', code: '429', message: null, provider: 'openai', traceback: null } as LlmCall['error'],
    });
    assert.deepEqual(pick(applyFacts(failed, { model }, mm('catalogue'))), [null, null]);
    assert.deepEqual(pick(applyFacts(failed, { model }, mm('catalogue', true))), ['sku-cat', 'bedrock']);
    assert.equal(applyFacts(failed, { model }, mm('catalogue')).region, 'us-west-2', 'other model facts still apply');
  });

  it('returns the same object when nothing changes', () => {
    const call = makeCall();
    assert.equal(applyFacts(call, {}), call);
  });
});

describe('enrich: config', () => {
  it('validates what the schema cannot', () => {
    const c = configOf(factory);
    assert.deepEqual(validate(c), []);
    assert.equal(validate({ ...c, source: 'file' })[0]?.path, 'file.path');
    assert.equal(validate({ ...c, litellm_api: { ...c.litellm_api, base_url: 'http://u:p@h:4000' } })[0]?.path, 'litellm_api.base_url');
    assert.equal(factory.consumes, 'llm_calls');
    assert.equal(factory.produces, 'llm_calls');
  });

  it('describes every key, the source settings included', () => {
    const rows = configKeys(factory.configSchema);
    for (const r of rows) assert.ok(r.description.length > 5, `${r.key} has no description`);
    for (const k of ['litellm_api.base_url', 'litellm_db.url_env', 'file.path', 'cache.warm_timeout'])
      assert.ok(
        rows.some((r) => r.key === k),
        `${k} is declared`,
      );
  });

  it('hands durations to the code in milliseconds and fills omitted sections', () => {
    const c = configOf(factory, { budget: '2s', cache: { ttl: '1m30s' }, litellm_api: null });
    assert.deepEqual([c.budget, c.cache.ttl, c.cache.negative_ttl, c.litellm_api.request_timeout, c.file.watch_interval], [2000, 90_000, 300_000, 5000, 2000]);
    assert.equal(c.litellm_api.base_url, 'http://127.0.0.1:4000');
  });
});

describe('enrich: file source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spanmeter-enrich-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads YAML, JSON and CSV catalogues alike', async () => {
    const yamlPath = join(dir, 'c.yaml');
    writeFileSync(
      yamlPath,
      [
        'teams:',
        '  - team_id: team-a',
        '    team_alias: Team A',
        '    metadata: {business_unit_id: bu-a}',
        'keys:',
        '  - token: hash-a',
        '    key_alias: key-a',
        '    team_id: team-a',
        'models:',
        '  - model_name: claude',
        '    litellm_params: {model: bedrock/anthropic.claude, aws_region_name: us-west-2}',
        '    model_info: {id: m1, key: anthropic.claude, litellm_provider: bedrock}',
      ].join('\n'),
    );
    const jsonPath = join(dir, 'c.json');
    writeFileSync(
      jsonPath,
      JSON.stringify({
        teams: [{ team_id: 'team-a', team_alias: 'Team A', metadata: { business_unit_id: 'bu-a' } }],
        keys: [{ token: 'hash-a', key_alias: 'key-a', team_id: 'team-a' }],
        models: [
          {
            model_name: 'claude',
            litellm_params: { model: 'bedrock/anthropic.claude', aws_region_name: 'us-west-2' },
            model_info: { id: 'm1', key: 'anthropic.claude', litellm_provider: 'bedrock' },
          },
        ],
      }),
    );
    const csvPath = join(dir, 'c.csv');
    writeFileSync(
      csvPath,
      [
        'kind,id,alias,team_id,user_id,organization_id,metadata,model_name,provider,model_map_key,model_map_provider,api_base,region',
        'team,team-a,Team A,,,,"{""business_unit_id"":""bu-a""}",,,,,,',
        'key,hash-a,key-a,team-a,,,,,,,,,',
        'model,m1,,,,,,claude,bedrock,anthropic.claude,bedrock,,us-west-2',
      ].join('\n'),
    );
    const results = [];
    for (const path of [yamlPath, jsonPath, csvPath]) {
      const s = new FileSource({ path, format: 'auto', watch_interval: 50, teamMetadataKeys: [] });
      results.push({ teams: await s.list('team'), key: await s.get('key', 'hash-a'), model: await s.get('model', 'm1'), none: await s.get('key', 'nope') });
    }
    assert.deepEqual(results[0]!.teams, [{ teamId: 'team-a', teamAlias: 'Team A', orgId: null, metadata: { business_unit_id: 'bu-a' } }]);
    assert.equal(results[0]!.model?.region, 'us-west-2');
    assert.equal(results[0]!.none, null);
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });

  it('rejects a malformed file with a clear error', async () => {
    const p = join(dir, 'bad.yaml');
    writeFileSync(p, 'teams: {not: a list}');
    const s = new FileSource({ path: p, format: 'auto', watch_interval: 50, teamMetadataKeys: [] });
    await assert.rejects(s.list('team'), /"teams" must be a list/);
    const missing = new FileSource({ path: join(dir, 'nope.yaml'), format: 'auto', watch_interval: 50, teamMetadataKeys: [] });
    await assert.rejects(missing.list('team'), /cannot read .*ENOENT/);
  });

  it('the processor reloads the catalogue when the file changes, and keeps the last good one on a bad edit', async () => {
    const p = join(dir, 'live.yaml');
    writeFileSync(p, 'teams:\n  - {team_id: t1, team_alias: Old}\n');
    const h = makeEnrich({ source: 'file', file: { path: p, watch_interval: '20ms' } });
    await h.proc.start(h.host);
    try {
      await h.proc.consume([makeCall({ teamId: 't1' })]);
      assert.equal(h.next.all[0]!.teamAlias, 'Old');
      writeFileSync(p, 'teams:\n  - {team_id: t1, team_alias: New, metadata: {business_unit_id: bu-9}}\n  - {team_id: t2, team_alias: Two}\n');
      await until(() => h.proc.lookups.team!.cache.peek('t2').state === 'hit');
      await h.proc.consume([makeCall({ teamId: 't1' })]);
      assert.equal(h.next.all[1]!.teamAlias, 'New');
      assert.deepEqual(h.next.all[1]!.teamMetadata, { business_unit_id: 'bu-9' });
      writeFileSync(p, 'teams: [unclosed');
      await until(() => h.host.details.get('enrich:enrich')?.ok === false);
      assert.match(h.host.details.get('enrich:enrich')!.message!, /not a valid YAML catalogue/);
      await h.proc.consume([makeCall({ teamId: 't2' })]);
      assert.equal(h.next.all[2]!.teamAlias, 'Two', 'last good catalogue still used');
    } finally {
      await h.proc.shutdown();
    }
  });
});
