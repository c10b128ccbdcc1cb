/**
 * Source `litellm_api` against an in-test HTTP server answering with LiteLLM's documented bodies:
 * warm-up through pagination, Bearer auth, on-demand info lookups, negative cache, rate limit,
 * 401 handling without leaking the key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeLitellm, sampleCatalogue, type KeyRow } from './fixtures/enrich/fake-litellm.js';
import { makeCall, makeEnrich, until } from './fixtures/enrich/harness.js';

const ENV = 'SPANMETER_TEST_LITELLM_KEY';

describe('enrich litellm_api', () => {
  const api = new FakeLitellm(sampleCatalogue());
  before(async () => {
    process.env[ENV] = api.masterKey;
    await api.start();
  });
  after(async () => {
    await api.stop();
    Reflect.deleteProperty(process.env, ENV);
  });

  const cfg = (over: Record<string, unknown> = {}) => ({
    source: 'litellm_api' as const,
    litellm_api: { base_url: api.url, api_key_env: ENV, page_size: 1 },
    ...over,
  });

  it('warms the whole catalogue through every page, with the Bearer key, and enriches from the cache', async () => {
    api.requests.length = 0;
    const h = makeEnrich(cfg());
    await h.proc.start(h.host);
    try {
      // page_size 1: two team pages, two key pages, one /model/info.
      assert.deepEqual(
        api.requests.map((r) => `${r.path}?${new URLSearchParams(r.query)}`),
        [
          '/v2/team/list?page=1&page_size=1',
          '/v2/team/list?page=2&page_size=1',
          '/key/list?return_full_object=true&page=1&size=1',
          '/key/list?return_full_object=true&page=2&size=1',
          '/model/info?',
        ],
      );
      assert.ok(api.requests.every((r) => r.auth === `Bearer ${api.masterKey}`));
      api.requests.length = 0;
      await h.proc.consume([
        makeCall({ keyHash: 'hash-a', modelId: 'model-bedrock', provider: 'bedrock' }),
        makeCall({ keyHash: 'hash-b', keyMetadata: { business_unit_id: 'bu-span' }, modelId: 'model-vertex' }),
      ]);
      assert.equal(api.requests.length, 0, 'served from the warm cache');
      const [a, b] = h.next.all;
      assert.equal(a!.keyAlias, 'key-a');
      assert.equal(a!.teamId, 'team-a');
      assert.equal(a!.teamAlias, 'Team A');
      assert.deepEqual(a!.teamMetadata, { business_unit_id: 'bu-marketing', cost_center: 'cc-7' });
      assert.deepEqual(a!.keyMetadata, { service_account_id: 'svc-a' });
      assert.equal(a!.userId, 'user-1');
      assert.equal(a!.modelMapKey, 'anthropic.claude-3-5-haiku-20241022-v1:0');
      assert.equal(a!.region, 'us-west-2');
      assert.deepEqual(b!.keyMetadata, { business_unit_id: 'bu-span' }, 'span value wins');
      assert.equal(b!.orgId, 'org-1', 'org from the team');
      assert.equal(b!.modelMapProvider, 'vertex_ai-language-models');
      assert.equal(b!.region, 'europe-west4');
      assert.equal(b!.provider, 'openai', 'span provider kept');
      assert.equal(h.host.details.get('enrich:enrich')?.ok, true);
      assert.match(h.host.details.get('enrich:enrich')!.message!, /teams 2, keys 2, models 3/);
      assert.equal(await h.metric('spanmeter_enrich_lookups_total', { kind: 'key', result: 'hit' }), 2);
      assert.equal(await h.metric('spanmeter_enrich_cache_entries', { kind: 'model', type: 'positive' }), 3);
    } finally {
      await h.proc.shutdown();
    }
  });

  it('reads team_list v1 (one unpaginated array) for old proxies', async () => {
    api.requests.length = 0;
    const h = makeEnrich(cfg({ litellm_api: { base_url: api.url, api_key_env: ENV, team_list: 'v1' }, key: { enabled: false }, model: { enabled: false } }));
    await h.proc.start(h.host);
    try {
      assert.deepEqual(
        api.requests.map((r) => r.path),
        ['/team/list'],
      );
      await h.proc.consume([makeCall({ teamId: 'team-b' })]);
      assert.equal(h.next.all[0]!.teamAlias, 'Team B');
    } finally {
      await h.proc.shutdown();
    }
  });

  it('looks up ids created after the warm-up on demand (/key/info, /team/info, /model/info?litellm_model_id) and negative-caches unknown ones', async () => {
    const h = makeEnrich(cfg({ budget: '5s' }));
    await h.proc.start(h.host);
    try {
      const newKey: KeyRow = { token: 'hash-new', key_alias: 'fresh', team_id: 'team-new', user_id: 'u9', metadata: { business_unit_id: 'bu-new' } };
      api.catalogue.keys.push(newKey);
      api.catalogue.teams.push({ team_id: 'team-new', team_alias: 'New Team', metadata: { business_unit_id: 'bu-team-new' } });
      api.catalogue.models.push({
        model_name: 'm',
        litellm_params: { model: 'openai/gpt-4o', api_base: 'https://api.openai.com/v1' },
        model_info: { id: 'model-new', key: 'gpt-4o', litellm_provider: 'openai' },
      });
      api.requests.length = 0;
      await h.proc.consume([makeCall({ keyHash: 'hash-new', modelId: 'model-new' })]);
      const out = h.next.all[0]!;
      assert.equal(out.keyAlias, 'fresh');
      assert.equal(out.teamAlias, 'New Team');
      assert.deepEqual(out.teamMetadata, { business_unit_id: 'bu-team-new' });
      assert.equal(out.apiBase, 'https://api.openai.com/v1');
      assert.deepEqual(api.requests.map((r) => `${r.path}?${new URLSearchParams(r.query)}`).sort(), [
        '/key/info?key=hash-new',
        '/model/info?litellm_model_id=model-new',
        '/team/info?team_id=team-new',
      ]);
      for (const kind of ['key', 'team', 'model']) {
        assert.equal(await h.metric('spanmeter_enrich_lookups_total', { kind, result: 'miss' }), 1, `${kind}: one cache read, counted once`);
      }

      api.requests.length = 0;
      const unknown = makeCall({ keyHash: 'hash-unknown', teamId: 'team-unknown', modelId: 'model-unknown' });
      await h.proc.consume([unknown, unknown]);
      await h.proc.consume([unknown]);
      assert.equal(api.count('/key/info'), 1, 'unknown key asked once, then negative-cached');
      assert.equal(api.count('/team/info'), 1);
      assert.equal(api.count('/model/info'), 1);
      assert.equal(h.next.all[1]!.keyAlias, null);
      assert.equal(await h.metric('spanmeter_enrich_lookups_total', { kind: 'key', result: 'negative' }), 1);
      assert.equal(await h.metric('spanmeter_enrich_source_requests_total', { op: 'get', outcome: 'not_found' }), 3);
    } finally {
      await h.proc.shutdown();
      api.catalogue = sampleCatalogue();
    }
  });

  it('bounds on-demand lookups by the rate limit; records beyond it go on unenriched', async () => {
    const h = makeEnrich(cfg({ cache: { warm: false }, miss: { rate: 0.001, burst: 2, max_in_flight: 8 }, budget: '5s' }));
    await h.proc.start(h.host);
    try {
      api.requests.length = 0;
      await h.proc.consume(['k1', 'k2', 'k3', 'k4'].map((k) => makeCall({ keyHash: k })));
      assert.equal(api.count('/key/info'), 2);
      assert.equal(await h.metric('spanmeter_enrich_unresolved_total', { kind: 'key', reason: 'rate_limited' }), 2);
      assert.equal(h.next.all.length, 4);
    } finally {
      await h.proc.shutdown();
    }
  });

  it('a 401 marks the source unhealthy with a message that never contains the key; records still flow', async () => {
    process.env.SPANMETER_TEST_WRONG_KEY = 'sk-wrong-secret-value-42';
    const h = makeEnrich({ source: 'litellm_api', litellm_api: { base_url: api.url, api_key_env: 'SPANMETER_TEST_WRONG_KEY' } });
    try {
      await h.proc.start(h.host);
      const d = h.host.details.get('enrich:enrich')!;
      assert.equal(d.ok, false);
      assert.match(d.message!, /^litellm_api: GET \/[a-z/0-9]+ answered HTTP 401 \(failing since/);
      assert.ok(!d.message!.includes('sk-...'), 'no part of a key');
      await h.proc.consume([makeCall({ keyHash: 'hash-a' })]);
      assert.equal(h.next.all.length, 1);
      assert.equal(h.next.all[0]!.keyAlias, null);
      const all = JSON.stringify([...h.host.details.values()]) + h.logs.join('');
      assert.ok(!all.includes('sk-wrong-secret-value-42'), 'key leaked');
      assert.ok(!all.includes(api.masterKey));
      assert.ok(h.logs.some((l) => l.includes('enrichment source is failing')));
      assert.equal(await h.metric('spanmeter_enrich_source_up'), 0);
      assert.ok((await h.metric('spanmeter_enrich_source_requests_total', { outcome: 'unauthorized' })) >= 1);
    } finally {
      await h.proc.shutdown();
      delete process.env.SPANMETER_TEST_WRONG_KEY;
    }
  });

  it('reports a missing key variable by its name only', async () => {
    const h = makeEnrich({ source: 'litellm_api', litellm_api: { base_url: api.url, api_key_env: 'SPANMETER_TEST_UNSET_VAR' } });
    try {
      await h.proc.start(h.host);
      assert.match(h.host.details.get('enrich:enrich')!.message!, /SPANMETER_TEST_UNSET_VAR is not set/);
    } finally {
      await h.proc.shutdown();
    }
  });

  it('keeps refreshing on the interval and picks up changes', async () => {
    const h = makeEnrich(cfg({ cache: { refresh_interval: '50ms' } }));
    await h.proc.start(h.host);
    try {
      api.catalogue.teams[0]!.team_alias = 'Team A renamed';
      await until(() => {
        const p = h.proc.lookups.team!.cache.peek('team-a');
        return p.state === 'hit' && p.facts.teamAlias === 'Team A renamed';
      });
      await h.proc.consume([makeCall({ teamId: 'team-a' })]);
      assert.equal(h.next.all[0]!.teamAlias, 'Team A renamed');
    } finally {
      await h.proc.shutdown();
      api.catalogue = sampleCatalogue();
    }
  });
});
