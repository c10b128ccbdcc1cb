/**
 * Outages of the lookup source (down at start, dies mid-run, slow): the pipeline keeps flowing per
 * the on_miss policy and recovers when the source comes back. The source is an in-test LiteLLM
 * admin API on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BackpressureError } from '../src/component.js';
import { FakeLitellm, sampleCatalogue } from './fixtures/enrich/fake-litellm.js';
import { makeCall, makeEnrich, until } from './fixtures/enrich/harness.js';

const ENV = 'SPANMETER_TEST_OUTAGE_KEY';

describe('enrich outages', () => {
  const api = new FakeLitellm(sampleCatalogue());
  let port = 0;
  before(async () => {
    process.env[ENV] = api.masterKey;
    await api.start();
    port = Number(new URL(api.url).port);
  });
  after(async () => {
    await api.stop();
    Reflect.deleteProperty(process.env, ENV);
  });
  const base = () => ({
    source: 'litellm_api' as const,
    litellm_api: { base_url: `http://127.0.0.1:${port}`, api_key_env: ENV, request_timeout: '2s' },
    cache: { retry_interval: '50ms', refresh_interval: '1h' },
  });
  const health = (h: ReturnType<typeof makeEnrich>) => h.host.details.get('enrich:enrich');

  it('source down at start (pass): start succeeds, records flow unenriched, then enriched once it answers', async () => {
    await api.stop();
    const h = makeEnrich({ ...base(), budget: '200ms' });
    try {
      await h.proc.start(h.host);
      assert.equal(health(h)?.ok, false);
      assert.match(health(h)!.message!, /failed: ECONNREFUSED/);
      await h.proc.consume([makeCall({ keyHash: 'hash-a' })]);
      assert.equal(h.next.all.length, 1);
      assert.equal(h.next.all[0]!.keyAlias, null);
      assert.equal(await h.metric('spanmeter_enrich_unresolved_total', { kind: 'key', reason: 'source_error' }), 1);

      await api.start(port);
      await until(() => health(h)?.ok === true);
      await h.proc.consume([makeCall({ keyHash: 'hash-a' })]);
      assert.equal(h.next.all[1]!.keyAlias, 'key-a');
      assert.equal(h.next.all[1]!.teamAlias, 'Team A');
      assert.ok(h.logs.some((l) => l.includes('answering again')));
    } finally {
      await h.proc.shutdown();
      await api.start(port);
    }
  });

  it('source dies mid-run (pass): cached facts still apply, new ids go on unknown, and recovery fills them', async () => {
    const h = makeEnrich({ ...base(), budget: '200ms', cache: { refresh_interval: '50ms', retry_interval: '50ms' } });
    try {
      await h.proc.start(h.host);
      assert.equal(health(h)?.ok, true);
      await api.stop();
      await until(() => health(h)?.ok === false);
      await h.proc.consume([makeCall({ keyHash: 'hash-a' }), makeCall({ keyHash: 'hash-late' })]);
      assert.equal(h.next.all[0]!.keyAlias, 'key-a', 'served from cache during the outage');
      assert.equal(h.next.all[1]!.keyAlias, null);

      api.catalogue.keys.push({ token: 'hash-late', key_alias: 'late-key', team_id: 'team-b' });
      await api.start(port);
      await until(() => health(h)?.ok === true);
      await h.proc.consume([makeCall({ keyHash: 'hash-late' })]);
      assert.equal(h.next.all[2]!.keyAlias, 'late-key', 'a failed lookup is not negative-cached');
      assert.equal(h.next.all[2]!.teamAlias, 'Team B');
    } finally {
      await h.proc.shutdown();
      api.catalogue = sampleCatalogue();
    }
  });

  it('slow source (pass): a batch waits at most the budget, the answer fills the cache for later records', async () => {
    const h = makeEnrich({ ...base(), cache: { warm: false }, budget: '20ms' });
    try {
      await h.proc.start(h.host);
      api.delayMs = 400;
      await h.proc.consume([makeCall({ keyHash: 'hash-b', teamId: 'team-b' })]);
      assert.equal(h.next.all[0]!.keyAlias, null, 'went on before the slow answer');
      assert.equal(h.next.all[0]!.teamId, 'team-b');
      assert.ok((await h.metric('spanmeter_enrich_unresolved_total', { reason: 'budget' })) >= 1);
      await until(() => h.proc.lookups.key!.cache.peek('hash-b').state === 'hit' && h.proc.lookups.team!.cache.peek('team-b').state === 'hit');
      await h.proc.consume([makeCall({ keyHash: 'hash-b' })]);
      assert.equal(h.next.all[1]!.keyAlias, 'key-b');
      assert.equal(h.next.all[1]!.teamAlias, 'Team B');
    } finally {
      api.delayMs = 0;
      await h.proc.shutdown();
    }
  });

  it('slow warm-up: start returns after warm_timeout and the warm-up completes in the background', async () => {
    api.delayMs = 300;
    const h = makeEnrich({ ...base(), cache: { warm_timeout: '10ms' }, budget: '1ms', miss: { rate: 0.001, burst: 1, max_in_flight: 1 } });
    try {
      await h.proc.start(h.host);
      assert.equal(h.proc.lookups.team!.cache.size, 0, 'start did not wait for the listing');
      assert.ok(h.logs.some((l) => l.includes('warm-up still running')));
      await until(() => h.proc.lookups.model!.cache.size === 3);
      await h.proc.consume([makeCall({ modelId: 'model-azure', provider: 'azure' })]);
      assert.equal(h.next.all[0]!.apiBase, 'https://myres.openai.azure.com');
      assert.equal(h.next.all[0]!.modelMapKey, 'azure/gpt-4o-2024-08-06');
    } finally {
      api.delayMs = 0;
      await h.proc.shutdown();
    }
  });

  it('on_miss wait: refuses the batch with back-pressure while the source is down, passes once it answers', async () => {
    const h = makeEnrich({ ...base(), on_miss: 'wait', wait_timeout: '1s', cache: { warm: false } });
    try {
      await h.proc.start(h.host);
      await api.stop();
      await assert.rejects(h.proc.consume([makeCall({ keyHash: 'hash-a' })]), (e: unknown) => {
        assert.ok(e instanceof BackpressureError);
        assert.match((e as Error).message, /did not answer within wait_timeout/);
        return true;
      });
      assert.equal(h.next.batches.length, 0, 'nothing passed on');
      assert.equal(await h.metric('spanmeter_enrich_refused_batches_total'), 1);
      assert.equal(health(h)?.ok, false);

      await api.start(port);
      await h.proc.consume([makeCall({ keyHash: 'hash-a' })]);
      assert.equal(h.next.all[0]!.keyAlias, 'key-a');
      assert.equal(health(h)?.ok, true);
    } finally {
      await h.proc.shutdown();
    }
  });

  it('on_miss wait: waits for a slow source instead of passing; unknown ids and cached ids never wait', async () => {
    const h = makeEnrich({ ...base(), on_miss: 'wait', wait_timeout: '10s', budget: '1ms', cache: { warm: false } });
    try {
      await h.proc.start(h.host);
      api.delayMs = 200;
      await h.proc.consume([makeCall({ keyHash: 'hash-a' })]);
      assert.equal(h.next.all[0]!.keyAlias, 'key-a', 'waited past the pass budget');
      assert.equal(h.next.all[0]!.teamAlias, 'Team A');
      api.delayMs = 0;
      await h.proc.consume([makeCall({ keyHash: 'hash-nobody' })]);
      assert.equal(h.next.all[1]!.keyAlias, null, 'unknown id passes (negative answer)');
      await api.stop();
      await h.proc.consume([makeCall({ keyHash: 'hash-a' }), makeCall({ keyHash: 'hash-nobody' })]);
      assert.equal(h.next.all[2]!.keyAlias, 'key-a', 'cached facts need no source');
      assert.equal(h.next.all.length, 4);
    } finally {
      api.delayMs = 0;
      await api.start(port);
      await h.proc.shutdown();
    }
  });
});
